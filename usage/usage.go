// Package usage counts how much each device is used and turns the counts into utilisation.
//
// Every accepted reading counts one use of its device on its local day: the calendar day, in
// the time zone of the device's site, of the reading's measurement time. A use is identified by
// its device and measurement time, so a message delivered twice, or a reading that arrives in
// two messages, or a station message carrying several measurements taken at once, counts once,
// exactly as InfluxDB keeps one point per series and time. That identity is what lets the
// counts kept by ingest and the counts rebuilt from InfluxDB agree exactly.
package usage

import (
	"fmt"
	"time"
)

// DayLayout is how a Day is written.
const DayLayout = "2006-01-02"

// Day is a local calendar day, written YYYY-MM-DD.
type Day string

// DayOf returns the day t falls on in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	return Day(t.In(loc).Format(DayLayout))
}

// ParseDay reads a YYYY-MM-DD day.
func ParseDay(s string) (Day, error) {
	if _, err := time.Parse(DayLayout, s); err != nil {
		return "", fmt.Errorf("day %q is not a date written YYYY-MM-DD", s)
	}
	return Day(s), nil
}

// Start returns the first instant of the day in loc.
func (d Day) Start(loc *time.Location) time.Time {
	t, _ := time.ParseInLocation(DayLayout, string(d), loc)
	return t
}

// Use is one counted use: a device's reading at a measurement time, at the site the device
// belonged to, on that site's local day.
type Use struct {
	Device string
	Site   string
	At     time.Time // measurement time; uses are unique by Device and At (to the millisecond)
	Day    Day
}

// DayCount is how many uses a device had at a site on a local day.
type DayCount struct {
	Device string
	Site   string
	Day    Day
	Uses   int
}

// Month is a calendar month.
type Month struct {
	Year  int
	Month time.Month
}

// MonthOf returns the month of t's date.
func MonthOf(t time.Time) Month { return Month{t.Year(), t.Month()} }

// ParseMonth reads a YYYY-MM month.
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return Month{}, fmt.Errorf("month %q is not written YYYY-MM", s)
	}
	return MonthOf(t), nil
}

func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Next returns the month after m.
func (m Month) Next() Month { return MonthOf(time.Date(m.Year, m.Month+1, 1, 0, 0, 0, 0, time.UTC)) }

// Prev returns the month before m.
func (m Month) Prev() Month { return MonthOf(time.Date(m.Year, m.Month-1, 1, 0, 0, 0, 0, time.UTC)) }

// Before reports whether m is earlier than o.
func (m Month) Before(o Month) bool {
	return m.Year < o.Year || m.Year == o.Year && m.Month < o.Month
}

// Days returns the number of days in m.
func (m Month) Days() int { return time.Date(m.Year, m.Month+1, 0, 0, 0, 0, 0, time.UTC).Day() }

// FirstDay and LastDay are m's first and last days.
func (m Month) FirstDay() Day { return Day(fmt.Sprintf("%s-01", m)) }

// LastDay is m's last day.
func (m Month) LastDay() Day { return Day(fmt.Sprintf("%s-%02d", m, m.Days())) }

// Number returns the day as days since 1970-01-01, and false if d is not a valid YYYY-MM-DD
// day. It reads the digits directly: it runs for every use ingest records.
func (d Day) Number() (int, bool) {
	s := string(d)
	if len(s) != len(DayLayout) || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	dd, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || dd < 1 || dd > 31 {
		return 0, false
	}
	t := time.Date(y, time.Month(m), dd, 0, 0, 0, 0, time.UTC)
	if t.Day() != dd { // 2026-02-30
		return 0, false
	}
	return int(t.Unix() / 86400), true
}

// DayNumbered returns the day n days after 1970-01-01.
func DayNumbered(n int) Day {
	return Day(time.Unix(int64(n)*86400, 0).UTC().Format(DayLayout))
}

func digits(s string) (int, bool) {
	n := 0
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
