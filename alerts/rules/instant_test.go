package rules

import (
	"testing"
	"time"
)

// An instant answers as the time it was made from: compared with any time, the zero time
// included, and back as a time of the same instant.
func TestInstantAnswersAsTime(t *testing.T) {
	base := time.Date(2026, 11, 22, 8, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	times := []time.Time{{}, base, base.Add(time.Nanosecond), base.Add(-time.Nanosecond), base.Add(-50 * 365 * 24 * time.Hour),
		time.Date(1970, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, a := range times {
		i := instantOf(a)
		if i.IsZero() != a.IsZero() {
			t.Errorf("instantOf(%v).IsZero() = %v", a, i.IsZero())
		}
		if back := i.Time(); !back.Equal(a) || (!a.IsZero() && back.Location() != time.UTC) {
			t.Errorf("instantOf(%v).Time() = %v; want the same instant in UTC", a, back)
		}
		for _, b := range times {
			if got, want := i.Before(b), a.Before(b); got != want {
				t.Errorf("instantOf(%v).Before(%v) = %v; want %v", a, b, got, want)
			}
			if got, want := i.After(b), a.After(b); got != want {
				t.Errorf("instantOf(%v).After(%v) = %v; want %v", a, b, got, want)
			}
			if !a.IsZero() && !b.IsZero() {
				if got, want := i.Sub(b), a.Sub(b); got != want {
					t.Errorf("instantOf(%v).Sub(%v) = %v; want %v", a, b, got, want)
				}
			}
		}
	}
}
