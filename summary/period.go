package summary

import "time"

// Period is a run of whole local days in the patient's time zone: [From, To), both local
// midnights. A day of a daylight-saving change is 23 or 25 hours long and is still one day.
type Period struct {
	From, To time.Time
	Days     int
}

// DaysBefore returns the n whole local days before the local day of asOf, the window the alert
// rules judge a day by (today's readings are not all in yet).
func DaysBefore(asOf time.Time, loc *time.Location, n int) Period {
	today := localDay(asOf, loc)
	return Period{From: dayStart(today-int64(n), loc), To: dayStart(today, loc), Days: n}
}

// DaysThrough returns the n local days that end with the local day of asOf, today included.
func DaysThrough(asOf time.Time, loc *time.Location, n int) Period {
	today := localDay(asOf, loc)
	return Period{From: dayStart(today-int64(n)+1, loc), To: dayStart(today+1, loc), Days: n}
}

// Contains reports whether t falls in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.From) && t.Before(p.To) }

// localDay numbers the local day of t in loc: days since 1970-01-01 of the local calendar.
func localDay(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// dayStart returns the local midnight that begins local day n.
func dayStart(n int64, loc *time.Location) time.Time {
	return time.Date(1970, 1, 1+int(n), 0, 0, 0, 0, loc)
}
