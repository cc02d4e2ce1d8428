package simulators

import (
	"math"
	"time"
)

// Profile is how a patient uses a device beyond what its kind's schedule says, so that a
// history has what the clinical summary needs: a fleet gives a few patients one, chosen by the
// device's number (ProfileFor), the same for every run of a seed.
type Profile string

// The profiles.
const (
	// ProfileNone: the kind's schedule alone.
	ProfileNone Profile = ""
	// ProfileFullCGM is a wearer who keeps the sensor on. In a history, over the last
	// FullCGMDays local days, the CGM reports every 5 minutes (not every HistoryStep), every
	// day, but for the warm-up of one sensor change (SensorWarmUp without readings). The
	// glucose is a diabetic's whose meals move and vary in size from day to day, with a feast
	// now and then (above 13.9 mmol/L) and, every few nights, a nocturnal low: below 3.0 for
	// about 40 minutes (a level-2 episode) or, on the next such night, a level-1 dip.
	ProfileFullCGM Profile = "full_cgm"
	// ProfileHomeBP is a patient who follows the ESH home blood-pressure protocol: in a
	// history, after HomeBPGapDays days without measuring, the HomeBPDays local days before
	// the last measure morning (about 07:00) and evening (about 21:00), two readings a minute
	// and a half apart each time; day 1, anxious, reads higher by HomeBPDay1Lift.
	ProfileHomeBP Profile = "home_bp_protocol"
)

// Parameters of the profiles.
const (
	// FullCGMDays is how many local days before the last of a history the full wearer's CGM
	// reports every 5 minutes: the 14 days of an AGP report.
	FullCGMDays = 14
	// SensorWarmUp is the gap of a sensor change: a new CGM sensor reads nothing while it warms up.
	SensorWarmUp = 2 * time.Hour
	// HomeBPDays is the length of the home BP protocol, day 1 included; HomeBPGapDays the days
	// without a home reading before it, more than the series gap of the bp_home_average rule,
	// so that its day 1 is a series' day 1.
	HomeBPDays    = 7
	HomeBPGapDays = 4
	// profileEvery: devices numbered 1, 1+profileEvery, ... of their kind have the profile.
	profileEvery = 20
)

// HomeBPDay1Lift is how much higher, systolic and diastolic in mm[Hg], the protocol's day 1
// reads.
var HomeBPDay1Lift = [2]float64{14, 7}

// ProfileFor is the profile of the n-th device (from 1) of kind k: CGMs and cuffs 1, 21, 41
// ... have theirs.
func ProfileFor(k Kind, n int) Profile {
	if (n-1)%profileEvery != 0 {
		return ProfileNone
	}
	switch k {
	case CGM:
		return ProfileFullCGM
	case BPCuff:
		return ProfileHomeBP
	}
	return ProfileNone
}

// Profile is the device's profile.
func (d *Device) Profile() Profile { return d.profile }

// applyProfile makes the device's patient fit its profile: the full CGM wearer is a diabetic
// with a fasting glucose of 6.2-7.4 and a meal rise of 3.4-4.6 mmol/L, so that the report has
// lows, highs and most of the time in range. It draws on the device's own hash, not the
// fleet's random stream, so the other devices stay as they were.
func (d *Device) applyProfile(p Profile) {
	d.profile = p
	if p == ProfileFullCGM {
		pp := d.person
		pp.diabetic = true
		pp.fasting = 6.2 + 1.2*d.unit(0, 0, 10)
		pp.mealRise = 3.4 + 1.2*d.unit(0, 1, 10)
	}
}

// profileSpan is when a backlog follows its device's profile.
type profileSpan struct {
	// from..to: the full wearer's 5-minute days, or the home protocol's days (day 1 at from).
	from, to time.Time
	// gapFrom..from: the days without a reading before the home protocol.
	gapFrom time.Time
	// warmFrom..warmFrom+SensorWarmUp: the sensor change's warm-up.
	warmFrom time.Time
}

// newProfileSpan is the span of d's profile in a history that ends at end.
func (d *Device) newProfileSpan(end time.Time) profileSpan {
	local := end.In(d.zone)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, d.zone)
	switch d.profile {
	case ProfileFullCGM:
		from := today.AddDate(0, 0, -FullCGMDays)
		// The change on day 4-8 of the 14, between 08:00 and 11:00.
		day := from.AddDate(0, 0, 4+int(5*d.unit(0, 2, 10)))
		warm := day.Add(time.Duration((8 + 3*d.unit(0, 3, 10)) * float64(time.Hour))).Truncate(time.Minute)
		return profileSpan{from: from, to: end, warmFrom: warm}
	case ProfileHomeBP:
		from := today.AddDate(0, 0, -HomeBPDays)
		return profileSpan{gapFrom: from.AddDate(0, 0, -HomeBPGapDays), from: from, to: today}
	}
	return profileSpan{}
}

// protocolNext is the first measurement of the home protocol after after, within the span;
// zero when there is none. Each day has two sessions, each of two readings 90 s apart.
func (d *Device) protocolNext(s profileSpan, after time.Time) time.Time {
	for day := s.from; day.Before(s.to); day = day.AddDate(0, 0, 1) {
		if day.AddDate(0, 0, 1).Before(after) {
			continue
		}
		key := uint64(day.Unix())
		for i, h := range [2]float64{7, 21} {
			first := day.Add(time.Duration((h + (2*d.unit(key, i, 11)-1)/3) * float64(time.Hour))).Truncate(time.Second)
			for _, t := range [2]time.Time{first, first.Add(90 * time.Second)} {
				if t.After(after) {
					return t
				}
			}
		}
	}
	return time.Time{}
}

// gridAfter is the first time after after on the device's continuous grid of every, whatever
// the day.
func (d *Device) gridAfter(after time.Time, every time.Duration) time.Time {
	start := time.Unix(0, 0).Add(d.schedule.phase)
	if after.Before(start) {
		return start
	}
	return start.Add((after.Sub(start)/every + 1) * every)
}

// wearerGlucose is the full wearer's interstitial glucose at t (local hour h), mmol/L: the
// dawn rise and the meals of interstitial, each meal of the day moved by up to 45 minutes and
// 0.6-1.5 times its usual size (2.4 times, for a feast: one meal in 12), and a nocturnal low
// around 03:00 on every fifth night.
func (d *Device) wearerGlucose(t time.Time, h float64) float64 {
	p := d.person
	local := t.In(d.zone)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, d.zone)
	g := p.fasting*0.95 + 0.6*math.Exp(-sq((h-5.5)/1.5))
	const tau = 50.0 / 60 // hours to a meal's peak
	for back := range 2 { // today's meals, and yesterday's late dinner
		key := uint64(today.AddDate(0, 0, -back).Unix())
		for i, m := range meals {
			size := 0.6 + 0.9*d.unit(key, i, 12)
			if d.unit(key, i, 13) < 1.0/12 {
				size = 2.4
			}
			dt := h + 24*float64(back) - (m + d.mealShift + 1.5*(d.unit(key, i, 14)-0.5))
			if dt > 0 {
				x := dt / tau
				g += p.mealRise * [3]float64{1.0, 0.8, 1.1}[i] * size * x * math.Exp(1-x)
			}
		}
	}
	// Every fifth night, from a phase of the device's own, a low at about 03:00; every other
	// one goes below 3.0 for some 40 minutes.
	n := today.Unix()/86400 + int64(5*d.unit(0, 4, 10))
	if n%5 == 0 && h > 1.5 && h < 4.5 {
		depth := 3.4
		if n%10 == 0 {
			depth = 2.4
		}
		b := sq(math.Cos(math.Pi * (h - 3) / 3))
		g -= (g - depth) * b
	}
	return g
}
