package fhir

import (
	"encoding/base64"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Search parameters and pages. A search answers a searchset Bundle of at most _count entries
// (default defaultCount, at most maxCount) with a self link and, when there is more, a next link
// that carries an opaque cursor (pageParam) where the page ended.

// Page sizes.
const (
	defaultCount = 100
	maxCount     = 500
)

// pageParam carries the cursor of the next page.
const pageParam = "_page"

// countParam reads _count.
func countParam(c *call) (int, error) {
	v := c.q.Get("_count")
	if v == "" {
		return defaultCount, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxCount {
		return 0, invalidParam("_count", "a whole number from 1 to %d", maxCount)
	}
	return n, nil
}

// cursorParam reads the page cursor: the fields the search wrote (see pageCursor).
func cursorParam(c *call) ([]string, error) {
	v := c.q.Get(pageParam)
	if v == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) == 0 {
		return nil, invalidParam(pageParam, "not a page of this search; follow the Bundle's next link")
	}
	return strings.Split(string(raw), "\x00"), nil
}

// pageCursor is an opaque cursor of fields.
func pageCursor(fields ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(fields, "\x00")))
}

// searchBundle is a searchset Bundle of entries with its self link and, when next is not "", a
// link to the next page; total when known.
func searchBundle(c *call, entries []BundleEntry, next string, total *int) Bundle {
	self := c.base() + strings.TrimPrefix(c.r.URL.Path, Base)
	b := Bundle{ResourceType: "Bundle", Type: "searchset", Total: total,
		Link: []BundleLink{{Relation: "self", URL: withQuery(self, c.q)}}, Entry: entries}
	if next != "" {
		q := url.Values{}
		for k, vs := range c.q {
			q[k] = vs
		}
		q.Set(pageParam, next)
		b.Link = append(b.Link, BundleLink{Relation: "next", URL: withQuery(self, q)})
	}
	return b
}

// withQuery is u with the query q.
func withQuery(u string, q url.Values) string {
	if len(q) == 0 {
		return u
	}
	return u + "?" + q.Encode()
}

// entry is a resource of a page: matched by the search, or included beside what matched.
func entry(c *call, typ, id string, res any, mode string) BundleEntry {
	return BundleEntry{FullURL: c.base() + "/" + typ + "/" + id, Resource: res, Search: &BundleSearch{Mode: mode}}
}

// timeRange is [From, To): a zero From is open below, a zero To open above.
type timeRange struct{ From, To time.Time }

// narrow intersects r with [from, to).
func (r *timeRange) narrow(from, to time.Time) {
	if !from.IsZero() && (r.From.IsZero() || from.After(r.From)) {
		r.From = from
	}
	if !to.IsZero() && (r.To.IsZero() || to.Before(r.To)) {
		r.To = to
	}
}

// empty reports whether nothing can fall in r.
func (r timeRange) empty() bool { return !r.From.IsZero() && !r.To.IsZero() && !r.From.Before(r.To) }

// dateParams reads the repeated date parameter name as FHIR date search: a prefix (eq, the
// default; ge, gt, le, lt) and a date or time of any precision, YYYY to fractions of a second
// (UTC when no zone is given), each standing for the range of its precision; the values are
// and-ed.
func dateParams(c *call, name string) (timeRange, error) {
	var r timeRange
	for _, v := range c.q[name] {
		prefix, value := "eq", v
		if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
			prefix, value = v[:2], v[2:]
		}
		lo, hi, ok := dateInterval(value)
		if !ok {
			return r, invalidParam(name, "%q is not a date or time such as 2026-11-19 or 2026-11-19T08:00:00Z, with an optional prefix ge, gt, le, lt or eq", v)
		}
		switch prefix {
		case "eq":
			r.narrow(lo, hi)
		case "ge":
			r.narrow(lo, time.Time{})
		case "gt":
			r.narrow(hi, time.Time{})
		case "le":
			r.narrow(time.Time{}, hi)
		case "lt":
			r.narrow(time.Time{}, lo)
		default:
			return r, invalidParam(name, "prefix %q is not supported; use ge, gt, le, lt or eq", prefix)
		}
	}
	return r, nil
}

// dateParam reads a single date of $everything's start or end: the range of its precision.
func dateParam(c *call, name string) (time.Time, time.Time, error) {
	v := c.q.Get(name)
	if v == "" {
		return time.Time{}, time.Time{}, nil
	}
	lo, hi, ok := dateInterval(v)
	if !ok {
		return lo, hi, invalidParam(name, "%q is not a date such as 2026-11-19", v)
	}
	return lo, hi, nil
}

// dateInterval is the range of times a FHIR date or dateTime value of any precision stands for.
func dateInterval(v string) (time.Time, time.Time, bool) {
	if strings.Contains(v, ".") {
		return fractionInterval(v)
	}
	for _, f := range []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04:05Z07:00", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{"2006-01-02T15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
	} {
		if t, err := time.Parse(f.layout, v); err == nil {
			return t.UTC(), f.next(t).UTC(), true
		}
	}
	return time.Time{}, time.Time{}, false
}

// fractionInterval is the range of a time with a fraction of a second: as long as its last
// digit's place.
func fractionInterval(v string) (time.Time, time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		t, err := time.Parse(layout, v)
		if err != nil {
			continue
		}
		digits := 0
		for _, ch := range v[strings.LastIndex(v, ".")+1:] {
			if ch < '0' || ch > '9' {
				break
			}
			digits++
		}
		if digits == 0 {
			return time.Time{}, time.Time{}, false
		}
		step := time.Duration(math.Pow10(9 - min(digits, 9)))
		return t.UTC(), t.Add(step).UTC(), true
	}
	return time.Time{}, time.Time{}, false
}

// token is a token search value: system|code, code (any system) or |code (no system).
type token struct {
	System, Code string
	AnySystem    bool
}

// tokenParams reads a token parameter: values separated by commas (any of them).
func tokenParams(c *call, name string) ([]token, error) {
	v := c.q.Get(name)
	if v == "" {
		return nil, nil
	}
	var out []token
	for _, s := range strings.Split(v, ",") {
		sys, code, hasBar := strings.Cut(s, "|")
		if !hasBar {
			code, sys = sys, ""
		}
		if code == "" {
			return nil, invalidParam(name, "%q has no code", s)
		}
		out = append(out, token{System: sys, Code: code, AnySystem: !hasBar})
	}
	return out, nil
}

// matches reports whether t names one of the codings of cc.
func (t token) matches(cc CodeableConcept) bool {
	for _, c := range cc.Coding {
		if c.Code == t.Code && (t.AnySystem || c.System == t.System) {
			return true
		}
	}
	return false
}
