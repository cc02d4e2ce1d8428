package fhir

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// A date of any precision stands for the range of its precision; prefixes bound and intersect.
func TestDateParams(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		query    string
		from, to string // RFC 3339; "" for open
		bad      bool
	}{
		{"date=2026", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", false},
		{"date=2026-02", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", false},
		{"date=eq2026-11-19", "2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z", false},
		{"date=ge2026-11-19T08:00:00%2B08:00", "2026-11-19T00:00:00Z", "", false},
		{"date=gt2026-11-19T08:00:00Z", "2026-11-19T08:00:01Z", "", false},
		{"date=le2026-11-19T08:00", "", "2026-11-19T08:01:00Z", false},
		{"date=lt2026-11-19T08:00:00.25Z", "", "2026-11-19T08:00:00.25Z", false},
		{"date=2026-11-19T08:00:00.25Z", "2026-11-19T08:00:00.25Z", "2026-11-19T08:00:00.26Z", false},
		{"date=ge2026-11-01&date=lt2026-12-01&date=ge2026-11-10", "2026-11-10T00:00:00Z", "2026-12-01T00:00:00Z", false},
		{"date=sa2026-11-01", "", "", true},
		{"date=2026-13", "", "", true},
		{"date=2026-11-19T08:00:00.Z", "", "", true},
		{"date=tomorrow", "", "", true},
	} {
		q, _ := url.ParseQuery(c.query)
		r, err := dateParams(&call{r: httptest.NewRequest("GET", "/", nil), q: q}, "date")
		if (err != nil) != c.bad {
			t.Errorf("%s: err %v", c.query, err)
			continue
		}
		if c.bad {
			continue
		}
		var from, to time.Time
		if c.from != "" {
			from = utc(c.from)
		}
		if c.to != "" {
			to = utc(c.to)
		}
		if !r.From.Equal(from) || !r.To.Equal(to) {
			t.Errorf("%s = [%v, %v); want [%v, %v)", c.query, r.From, r.To, from, to)
		}
	}
}

// A token is system|code, code or |code, and matches the codings it names.
func TestTokens(t *testing.T) {
	q, _ := url.ParseQuery("code=" + url.QueryEscape("http://loinc.org|8867-4,150456,|85354-9"))
	toks, err := tokenParams(&call{q: q}, "code")
	if err != nil || len(toks) != 3 {
		t.Fatalf("tokens %+v, %v", toks, err)
	}
	for _, c := range []struct {
		tok  int
		k    *kind
		want bool
	}{
		{0, &kindHeartRate, true}, {0, &kindBP, false}, {1, &kindSpO2, true}, {2, &kindBP, false},
	} {
		if got := toks[c.tok].matches(c.k.code); got != c.want {
			t.Errorf("token %+v matches %s = %v; want %v", toks[c.tok], c.k.code.Text, got, c.want)
		}
	}
	q, _ = url.ParseQuery("code=http://loinc.org|")
	if _, err := tokenParams(&call{q: q}, "code"); err == nil {
		t.Error("a token without a code was taken")
	}
}
