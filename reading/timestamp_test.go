package reading

import (
	"testing"
	"time"
)

func TestParseRFC3339(t *testing.T) {
	valid := []string{
		"2026-11-22T07:30:00+08:00",
		"2026-11-21T23:30:00Z",
		"2026-11-21T23:30:00.5Z",
		"2026-11-21T23:30:00.123456789-03:30",
		"2026-11-21T23:30:00.1239Z",
		"2000-02-29T00:00:00Z",
		"2024-02-29T23:59:59+14:00",
		"1999-12-31T23:59:59.999Z",
		"0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z",
		"2026-01-31T00:00:00-23:59",
	}
	for _, s := range valid {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseRFC3339([]byte(s))
		if !ok || got != want.UnixMilli() {
			t.Errorf("parseRFC3339(%q) = %d, %v; want %d, true", s, got, ok, want.UnixMilli())
		}
	}

	lower, ok := parseRFC3339([]byte("2026-11-21t23:30:00z"))
	if want := time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC).UnixMilli(); !ok || lower != want {
		t.Errorf("parseRFC3339(%q) = %d, %v; want %d, true", "2026-11-21t23:30:00z", lower, ok, want)
	}

	invalid := []string{
		"",
		"2026-11-21",
		"2026-11-21T23:30:00",
		"2026-11-21 23:30:00Z",
		"2026-11-21T23:30Z",
		"2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z",
		"2026-11-00T00:00:00Z",
		"2026-11-31T00:00:00Z",
		"2026-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z",
		"2026-11-21T24:00:00Z",
		"2026-11-21T23:60:00Z",
		"2026-11-21T23:30:61Z",
		"2026-11-21T23:30:00.Z",
		"2026-11-21T23:30:00,5Z",
		"2026-11-21T23:30:00+0800",
		"2026-11-21T23:30:00+08",
		"2026-11-21T23:30:00+24:00",
		"2026-11-21T23:30:00+08:60",
		"2026-11-21T23:30:00Z ",
		" 2026-11-21T23:30:00Z",
		"+2026-11-21T23:30:00Z",
		"2026-1-21T23:30:00Z",
		"２０26-11-21T23:30:00Z",
		"2026-11-21T23:30:00UTC",
	}
	for _, s := range invalid {
		if got, ok := parseRFC3339([]byte(s)); ok {
			t.Errorf("parseRFC3339(%q) = %d, true; want false", s, got)
		}
	}
}

func TestParseRFC3339DoesNotAllocate(t *testing.T) {
	b := []byte("2026-11-22T07:30:00.250+08:00")
	if n := testing.AllocsPerRun(100, func() { parseRFC3339(b) }); n != 0 {
		t.Errorf("parseRFC3339(%q) allocates %v times; want 0", b, n)
	}
}
