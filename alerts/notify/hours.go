package notify

import (
	"fmt"
	"strings"
	"time"
)

// OpeningHours is a centre's weekly opening hours, in its local time: when urgent alerts wait
// for the team lead, and outside which they go straight to the on-call person.
//
// The text form (devices.Site.OpeningHours) is one or more ranges separated by ";", each days
// then times: "Mon-Fri 08:00-17:30", "Mon-Fri 08:00-12:00; Mon-Fri 14:00-17:30; Sat 08:00-12:00".
// Days are Mon Tue Wed Thu Fri Sat Sun (any case), a range such as Mon-Fri (Fri-Mon wraps over
// the weekend) or a list such as Mon,Wed,Fri. Times are HH:MM, opening inclusive and closing
// exclusive: 08:00-17:30 is open at 08:00 and closed at 17:30. 24:00 closes at midnight. "24/7"
// is always open. A range that passes midnight (22:00-02:00) is refused: write it as two,
// "Fri 22:00-24:00; Sat 00:00-02:00".
type OpeningHours struct {
	always bool
	days   [7][]span // by time.Weekday
}

// span is [from, to) in minutes after midnight.
type span struct{ from, to int }

// AlwaysOpen is opening hours that never close.
var AlwaysOpen = OpeningHours{always: true}

var weekdays = map[string]time.Weekday{"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday}

// ParseOpeningHours parses the text form described at OpeningHours. An empty text is an error
// here; the escalator treats an empty or unparseable value as always open.
func ParseOpeningHours(s string) (OpeningHours, error) {
	var h OpeningHours
	if strings.TrimSpace(s) == "" {
		return h, fmt.Errorf("opening hours: empty; want e.g. %q or %q", "Mon-Fri 08:00-17:30", "24/7")
	}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "24/7" {
			h.always = true
			continue
		}
		fields := strings.Fields(part)
		if len(fields) != 2 {
			return OpeningHours{}, fmt.Errorf("opening hours %q: %q is not days and times such as %q", s, part, "Mon-Fri 08:00-17:30")
		}
		days, err := parseDays(fields[0])
		if err != nil {
			return OpeningHours{}, fmt.Errorf("opening hours %q: %w", s, err)
		}
		sp, err := parseSpan(fields[1])
		if err != nil {
			return OpeningHours{}, fmt.Errorf("opening hours %q: %w", s, err)
		}
		for _, d := range days {
			h.days[d] = append(h.days[d], sp)
		}
	}
	return h, nil
}

// parseDays reads "Mon", "Mon-Fri" or "Mon,Wed,Sat-Sun".
func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for item := range strings.SplitSeq(s, ",") {
		first, last, isRange := strings.Cut(item, "-")
		from, ok := weekdays[strings.ToLower(first)]
		if !ok {
			return nil, fmt.Errorf("%q is not a day: want Mon Tue Wed Thu Fri Sat or Sun", first)
		}
		to := from
		if isRange {
			if to, ok = weekdays[strings.ToLower(last)]; !ok {
				return nil, fmt.Errorf("%q is not a day: want Mon Tue Wed Thu Fri Sat or Sun", last)
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == to {
				break
			}
		}
	}
	return out, nil
}

// parseSpan reads "08:00-17:30".
func parseSpan(s string) (span, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return span{}, fmt.Errorf("%q is not opening and closing times such as 08:00-17:30", s)
	}
	from, err := parseClock(a)
	if err != nil {
		return span{}, err
	}
	to, err := parseClock(b)
	if err != nil {
		return span{}, err
	}
	if from == 24*60 {
		return span{}, fmt.Errorf("opening time %s: 24:00 can only close a range", a)
	}
	if to <= from {
		return span{}, fmt.Errorf("closing time %s is not after opening time %s: a range cannot pass midnight, split it at 24:00", b, a)
	}
	return span{from, to}, nil
}

// parseClock reads HH:MM from 00:00 to 24:00 as minutes after midnight.
func parseClock(s string) (int, error) {
	digit := func(i int) int { return int(s[i] - '0') }
	if len(s) != 5 || s[2] != ':' || strings.IndexFunc(s[:2]+s[3:], func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	hh, mm := digit(0)*10+digit(1), digit(3)*10+digit(4)
	if hh > 24 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("time %q is not between 00:00 and 24:00", s)
	}
	return hh*60 + mm, nil
}

// Open reports whether the centre is open at t, read in t's location (the site's time zone).
func (h OpeningHours) Open(t time.Time) bool {
	if h.always {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	for _, sp := range h.days[t.Weekday()] {
		if sp.from <= m && m < sp.to {
			return true
		}
	}
	return false
}

// SiteHours returns a site's opening hours and time zone. An empty text is AlwaysOpen. An
// unparseable text or an unknown zone is AlwaysOpen too, with the error to log: a bad value
// must not page the on-call person in the middle of the day.
func SiteHours(text, zone string) (OpeningHours, *time.Location, error) {
	loc := time.UTC
	if zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return AlwaysOpen, loc, fmt.Errorf("time zone %q: %w", zone, err)
		}
		loc = l
	}
	if strings.TrimSpace(text) == "" {
		return AlwaysOpen, loc, nil
	}
	h, err := ParseOpeningHours(text)
	if err != nil {
		return AlwaysOpen, loc, err
	}
	return h, loc, nil
}
