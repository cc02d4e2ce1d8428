package rules

import "time"

// instant is a time kept in 8 bytes instead of time.Time's 24: Unix nanoseconds, 0 for the
// zero time. The engine keeps a score of them for every device and patient it tracks, a third
// of what it holds for each; compared with a time.Time, it answers as that time would.
type instant int64

// instantOf returns t as an instant: its Unix nanoseconds (t within the years 1678 to 2262), or
// 0 for the zero time. The engine's times are after 2000 (older readings are refused), so no
// real one is 0.
func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	return instant(t.UnixNano())
}

// Time returns the instant as a time in UTC, the zero time for 0.
func (i instant) Time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(i)).UTC()
}

// IsZero reports whether i is the zero time.
func (i instant) IsZero() bool { return i == 0 }

// Before reports whether i is before t.
func (i instant) Before(t time.Time) bool {
	switch {
	case t.IsZero():
		return false
	case i == 0:
		return true
	}
	return int64(i) < t.UnixNano()
}

// After reports whether i is after t.
func (i instant) After(t time.Time) bool {
	switch {
	case i == 0:
		return false
	case t.IsZero():
		return true
	}
	return int64(i) > t.UnixNano()
}

// Sub returns i - t, as time.Time's Sub does.
func (i instant) Sub(t time.Time) time.Duration { return i.Time().Sub(t) }
