package notify

import (
	"strings"
	"testing"
	"time"
)

// monday is 2026-11-02, a Monday, at midnight UTC.
var monday = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// at is day days after monday (0: Monday) at hh:mm.
func at(day, hh, mm int) time.Time {
	return monday.AddDate(0, 0, day).Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

func TestOpeningHours(t *testing.T) {
	for _, tt := range []struct {
		hours string
		at    time.Time
		want  bool
	}{
		{"Mon-Fri 08:00-17:30", at(0, 7, 59), false},
		{"Mon-Fri 08:00-17:30", at(0, 8, 0), true},
		{"Mon-Fri 08:00-17:30", at(0, 17, 29), true},
		{"Mon-Fri 08:00-17:30", at(0, 17, 30), false},
		{"Mon-Fri 08:00-17:30", at(4, 12, 0), true},  // Friday
		{"Mon-Fri 08:00-17:30", at(5, 12, 0), false}, // Saturday
		{"Mon-Fri 08:00-17:30", at(6, 12, 0), false}, // Sunday
		{"Mon-Sat 08:00-12:00", at(5, 11, 59), true},
		{"Mon-Sat 08:00-12:00", at(5, 12, 0), false},
		{"24/7", at(6, 3, 0), true},
		{"Mon-Fri 08:00-12:00; Mon-Fri 14:00-17:30", at(1, 13, 0), false}, // lunch
		{"Mon-Fri 08:00-12:00; Mon-Fri 14:00-17:30", at(1, 14, 0), true},
		{"Mon-Fri 08:00-17:30;Sat 09:00-12:00", at(5, 9, 30), true},
		{"mon,wed,fri 08:00-12:00", at(1, 9, 0), false}, // Tuesday
		{"mon,wed,fri 08:00-12:00", at(2, 9, 0), true},
		{"Fri-Mon 10:00-11:00", at(6, 10, 30), true}, // wraps over the weekend
		{"Fri-Mon 10:00-11:00", at(1, 10, 30), false},
		{"Sat 22:00-24:00; Sun 00:00-02:00", at(5, 23, 59), true},
		{"Sat 22:00-24:00; Sun 00:00-02:00", at(6, 1, 59), true},
		{"Sat 22:00-24:00; Sun 00:00-02:00", at(6, 2, 0), false},
	} {
		h, err := ParseOpeningHours(tt.hours)
		if err != nil {
			t.Errorf("ParseOpeningHours(%q): %v", tt.hours, err)
			continue
		}
		if got := h.Open(tt.at); got != tt.want {
			t.Errorf("ParseOpeningHours(%q).Open(%s) = %v; want %v", tt.hours, tt.at.Format("Mon 15:04"), got, tt.want)
		}
	}
}

func TestOpeningHoursRefused(t *testing.T) {
	for _, tt := range []struct {
		hours string
		want  string // in the error
	}{
		{"", "empty"},
		{"Mon-Fri", "not days and times"},
		{"08:00-17:30", "not days and times"},
		{"Mon-Fri 08:00 17:30", "not days and times"},
		{"Mon-Fry 08:00-17:30", `"Fry" is not a day`},
		{"Monday 08:00-17:30", `"Monday" is not a day`},
		{"Mon-Fri 8:00-17:30", `"8:00" is not HH:MM`},
		{"Mon-Fri 08:00", "not opening and closing times"},
		{"Mon-Fri 08:00-25:00", `"25:00" is not between 00:00 and 24:00`},
		{"Mon-Fri 08:60-17:00", `"08:60" is not between`},
		{"Mon-Fri 24:00-24:00", "24:00 can only close"},
		{"Mon-Fri 17:30-08:00", "cannot pass midnight"},
		{"Mon-Fri 08:00-08:00", "is not after opening time"},
		{"Mon-Fri 08:00-17:30;", "not days and times"},
		{"Mon-Fri +8:00-17:30", "not HH:MM"},
	} {
		_, err := ParseOpeningHours(tt.hours)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseOpeningHours(%q) = %v; want an error saying %q", tt.hours, err, tt.want)
		}
	}
}

// A site's hours are read in its time zone; empty or bad values count as always open.
func TestSiteHours(t *testing.T) {
	for _, tt := range []struct {
		name, hours, zone string
		at                time.Time
		want, wantErr     bool
	}{
		// 01:00 UTC on Monday is 09:00 in Shanghai: open there, though not in UTC.
		{"in the site's zone", "Mon-Fri 08:00-17:30", "Asia/Shanghai", at(0, 1, 0), true, false},
		{"closed in the site's zone", "Mon-Fri 08:00-17:30", "Asia/Shanghai", at(0, 10, 0), false, false},
		{"no zone is UTC", "Mon-Fri 08:00-17:30", "", at(0, 1, 0), false, false},
		{"empty is always open", "", "Asia/Shanghai", at(6, 3, 0), true, false},
		{"unparseable is always open", "weekdays", "Asia/Shanghai", at(6, 3, 0), true, true},
		{"unknown zone is always open", "Mon-Fri 08:00-17:30", "Mars/Olympus", at(6, 3, 0), true, true},
	} {
		h, loc, err := SiteHours(tt.hours, tt.zone)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: SiteHours(%q, %q) error = %v; want an error: %v", tt.name, tt.hours, tt.zone, err, tt.wantErr)
		}
		if got := h.Open(tt.at.In(loc)); got != tt.want {
			t.Errorf("%s: open at %s = %v; want %v", tt.name, tt.at, got, tt.want)
		}
	}
}
