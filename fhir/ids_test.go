package fhir

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// fhirIDPattern is the R4 id datatype.
var fhirIDPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// Every registry id gives a valid FHIR id, the same one each time, that reads back as it.
func TestRegistryIDsRoundTrip(t *testing.T) {
	long := strings.Repeat("a_b", 21) // 63 characters, 105 escaped
	for _, c := range []struct {
		prefix, raw, want string
	}{
		{"", "P-000123", "P-000123"},
		{"", "p_1", "p.5f1"},
		{"", "cuff.0042", "cuff.2e0042"},
		{"", "site:3", "site.3a3"},
		{teamPrefix, "t-01", "team-t-01"},
		{"", long, ""},
		{sitePrefix, strings.Repeat("s", 64), ""},
	} {
		id := registryID(c.prefix, c.raw)
		if !fhirIDPattern.MatchString(id) {
			t.Errorf("registryID(%q, %q) = %q: not a FHIR id", c.prefix, c.raw, id)
		}
		if c.want != "" && id != c.want {
			t.Errorf("registryID(%q, %q) = %q; want %q", c.prefix, c.raw, id, c.want)
		}
		part, ok := parseRegistryID(c.prefix, id)
		if !ok || !part.Matches(c.raw) {
			t.Errorf("parseRegistryID(%q, %q) = %+v, %v; want it to name %q", c.prefix, id, part, ok, c.raw)
		}
		if c.want == "" && part.Hash == "" {
			t.Errorf("registryID(%q, %q) = %q; want the hashed form for an id that does not fit", c.prefix, c.raw, id)
		}
	}
	for _, bad := range []string{"", "a.5", "a.zz", "a.2E", "a.61", "a_b", ".h123", "team-x"} {
		if part, ok := parseRegistryID("", bad); ok && bad != "team-x" {
			t.Errorf("parseRegistryID(%q) = %+v; want refused", bad, part)
		}
	}
}

// A reading's id is its type, time and device, and reads back as them; a summary's likewise.
func TestReadingAndSummaryIDs(t *testing.T) {
	at := time.Date(2026, 11, 19, 8, 0, 0, 250e6, time.UTC)
	for _, c := range []struct {
		code   string
		at     time.Time
		device string
		want   string
	}{
		{"bp", at.Truncate(time.Second), "cuff-0042", "bp-20261119T080000Z-cuff-0042"},
		{"glucose", at, "cgm_7", "glucose-20261119T080000250Z-cgm.5f7"},
		{"hr", at, strings.Repeat("w", 64), ""},
	} {
		id := readingID(c.code, c.at, c.device)
		if !fhirIDPattern.MatchString(id) || c.want != "" && id != c.want {
			t.Errorf("readingID(%q, %v, %q) = %q; want %q", c.code, c.at, c.device, id, c.want)
		}
		k, ok := parseReadingID(id)
		if !ok || k.TypeCode != c.code || !k.Time.Equal(c.at) || !k.Device.Matches(c.device) {
			t.Errorf("parseReadingID(%q) = %+v, %v", id, k, ok)
		}
	}
	last := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	id := summaryID("gmi", last, 14, "P-000123")
	if id != "cgm-gmi-20261118-14-P-000123" {
		t.Errorf("summaryID = %q", id)
	}
	k, ok := parseSummaryID(id)
	if !ok || k.Part != "gmi" || !k.Last.Equal(last) || k.Days != 14 || !k.Patient.Matches("P-000123") {
		t.Errorf("parseSummaryID(%q) = %+v, %v", id, k, ok)
	}
	for _, bad := range []string{"bp-2026-x", "bp-20261119T0800Z-x", "bp-20261119T080000000Z-x", "cgm-gmi-2026-14-p", "cgm-gmi-20261118-014-p"} {
		if _, ok := parseReadingID(bad); ok && !strings.HasPrefix(bad, "cgm") {
			t.Errorf("parseReadingID(%q) accepted", bad)
		}
		if _, ok := parseSummaryID(bad); ok {
			t.Errorf("parseSummaryID(%q) accepted", bad)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{15 * time.Minute: "15m", 72 * time.Hour: "72h", 90 * time.Minute: "1h30m", 30 * time.Second: "30s", 0: "0s"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q; want %q", d, got, want)
		}
	}
}
