package reading

import (
	"fmt"
	"time"
)

// minTimeMs is 2000-01-01T00:00:00Z in Unix milliseconds. A device whose clock was never set
// reports times near 1970 or its firmware's build date; nothing real is older than this.
const minTimeMs = 946684800000

// utcMs returns the UTC time of Unix milliseconds ms.
func utcMs(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// checkTime says why a measurement time of ms (Unix milliseconds) cannot be accepted when the
// message was received at now, or returns "" when it can. what names the field in the detail.
func checkTime(what string, ms int64, numeric bool, now time.Time) (Reason, string) {
	if ms < minTimeMs {
		if numeric && ms >= minTimeMs/1000 && ms*1000 <= now.UnixMilli()+MaxFutureSkew.Milliseconds() {
			return ReasonBadTimestamp, fmt.Sprintf("%s %d is before 2000 as Unix milliseconds; it looks like Unix seconds", what, ms)
		}
		return ReasonBadTimestamp, fmt.Sprintf("%s %s is before 2000-01-01: device clock not set", what, formatMs(ms))
	}
	if ahead := utcMs(ms).Sub(now); ahead > MaxFutureSkew {
		return ReasonFutureTimestamp, fmt.Sprintf("%s %s is %v after the receive time %s; at most %v is allowed",
			what, formatMs(ms), ahead.Round(time.Second), now.UTC().Format(time.RFC3339Nano), MaxFutureSkew)
	}
	return "", ""
}

func formatMs(ms int64) string { return utcMs(ms).Format(time.RFC3339Nano) }

// parseRFC3339 parses an RFC 3339 date-time (section 5.6), such as 2026-11-22T07:30:00.250+08:00,
// into Unix milliseconds, truncating finer fractions. It is strict: 'T' and 'Z' (either case),
// two-digit fields, a numeric offset with a colon. A leap second (:60) is read as the next second,
// as time.Date normalises it. It does not allocate, unlike time.Parse with a numeric offset.
func parseRFC3339(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	second, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || second > 60 {
		return 0, false
	}
	i, nanos := 19, 0
	if b[i] == '.' {
		i++
		start := i
		for scale := 100000000; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			nanos += int(b[i]-'0') * scale
			scale /= 10
		}
		if i == start {
			return 0, false
		}
	}
	if i >= len(b) {
		return 0, false
	}
	offset := 0 // minutes east of UTC
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return 0, false
		}
		oh, okh := digits(b[i+1 : i+3])
		om, okm := digits(b[i+4 : i+6])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, false
		}
		offset = oh*60 + om
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(b) {
		return 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, nanos, time.UTC)
	return t.UnixMilli() - int64(offset)*60000, true
}

// digits returns the value of a run of ASCII decimal digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
