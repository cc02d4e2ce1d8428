package usage

import (
	"math/bits"
	"time"
)

// calendar numbers the local days of the months asked from 0; a day is a calendar date, so that
// a day is the same day whatever its length in hours.
type calendar struct {
	start      int64   // civil day number of the first day
	firstMonth int     // the first month as year × 12 + month - 1
	days       int     // days in the months
	words      int     // uint64 words of a bitset of the days
	months     []Month // the months, in order
	firstDay   []int   // each month's first day, then days
	monthOf    []int32 // each day's month
}

func newCalendar(from, to Month) *calendar {
	c := &calendar{start: civilDay(from.Year, from.Month, 1), firstMonth: from.Year*12 + int(from.Month) - 1}
	for m := from; !to.Before(m); m = m.Next() {
		c.months = append(c.months, m)
		c.firstDay = append(c.firstDay, c.days)
		for range m.Days() {
			c.monthOf = append(c.monthOf, int32(len(c.months)-1))
		}
		c.days += m.Days()
	}
	c.firstDay = append(c.firstDay, c.days)
	c.words = (c.days + 63) / 64
	return c
}

// civilDay is the number of days from 1970-01-01 to the date y-m-d (proleptic Gregorian).
func civilDay(y int, m time.Month, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era--
	}
	yoe := yy - era*400
	mp := (int64(m) + 9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// dayOf is the index of t's local date in loc, possibly outside 0..days-1.
func (c *calendar) dayOf(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return civilDay(y, m, d) - c.start
}

// span returns the days [lo, hi) that the instants [from, until) touch in loc, within the
// months; ok is false when there are none. A zero until is open.
func (c *calendar) span(from, until time.Time, loc *time.Location) (lo, hi int, ok bool) {
	if !until.IsZero() && !until.After(from) {
		return 0, 0, false
	}
	l := max(c.dayOf(from, loc), 0)
	h := int64(c.days)
	if !until.IsZero() {
		// until is excluded: the last instant is just before it, so a stretch ending at
		// midnight does not touch the day that starts then.
		h = min(c.dayOf(until.Add(-time.Nanosecond), loc)+1, h)
	}
	if l >= h {
		return 0, 0, false
	}
	return int(l), int(h), true
}

// parseDay returns the index of a YYYY-MM-DD day, or false when it is malformed or outside the
// months. It runs once per count, hence the unrolled digits.
func (c *calendar) parseDay(d Day) (int, bool) {
	s := string(d)
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y0, y1, y2, y3 := s[0]-'0', s[1]-'0', s[2]-'0', s[3]-'0'
	m0, m1, d0, d1 := s[5]-'0', s[6]-'0', s[8]-'0', s[9]-'0'
	if y0 > 9 || y1 > 9 || y2 > 9 || y3 > 9 || m0 > 9 || m1 > 9 || d0 > 9 || d1 > 9 {
		return 0, false
	}
	y := int(y0)*1000 + int(y1)*100 + int(y2)*10 + int(y3)
	m, day := int(m0)*10+int(m1), int(d0)*10+int(d1)
	i := y*12 + m - 1 - c.firstMonth
	if m < 1 || m > 12 || day < 1 || i < 0 || i >= len(c.months) {
		return 0, false
	}
	first := c.firstDay[i]
	if day > c.firstDay[i+1]-first {
		return 0, false
	}
	return first + day - 1, true
}

// Bitsets of days: one bit per day of the calendar.

func setDays(w []uint64, lo, hi int) {
	for i := lo; i < hi; {
		word, bit := i/64, i%64
		n := min(64-bit, hi-i)
		w[word] |= (^uint64(0) >> (64 - n)) << bit
		i += n
	}
}

// dayMask is the bits of word i that fall in [lo, hi).
func dayMask(i, lo, hi int) uint64 {
	m := ^uint64(0)
	if b := lo - i*64; b > 0 {
		m &= ^uint64(0) << b
	}
	if e := hi - i*64; e < 64 {
		m &= ^uint64(0) >> (64 - e)
	}
	return m
}

// countDays counts the days in [lo, hi) set in a, and in a and b or a but not b when b is given.
func countDays(a, b []uint64, lo, hi int, andNot bool) int {
	n := 0
	for i := lo / 64; i <= (hi-1)/64; i++ {
		w := a[i]
		if b != nil {
			if andNot {
				w &^= b[i]
			} else {
				w &= b[i]
			}
		}
		n += bits.OnesCount64(w & dayMask(i, lo, hi))
	}
	return n
}
