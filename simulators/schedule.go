package simulators

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// schedule is when a device measures on its own: either every interval (continuous sensors) or
// at times of the local day (home devices, a station's opening hours), each moved by a jitter
// and sometimes skipped, as people are late and forget.
type schedule struct {
	every time.Duration // continuous: the interval
	phase time.Duration // continuous: offset of the grid, so devices do not all send at once

	slots  []float64 // daily: local hours
	jitter float64   // daily: hours either side
	skip   float64   // daily: probability a slot is missed
}

func newSchedule(k Kind, r *rand.Rand) schedule {
	switch k {
	case CGM, Wearable:
		every := 5 * time.Minute
		return schedule{every: every, phase: time.Duration(r.Int64N(int64(every)))}
	case GlucoseMeter:
		// A testing plan of 1-4 of the usual times; fasting is always in it.
		plan := []float64{7}
		others := []float64{10, 13.5, 19.5, 22}
		for _, i := range r.Perm(len(others))[:r.IntN(4)] {
			plan = append(plan, others[i])
		}
		slices.Sort(plan)
		return schedule{slots: plan, jitter: 0.5, skip: 0.1}
	case BPCuff:
		return schedule{slots: []float64{7, 21}, jitter: 0.5, skip: 0.1} // ESH: morning and evening
	case Oximeter:
		return schedule{slots: []float64{8, 14, 20}, jitter: 0.75, skip: 0.1}
	case Thermometer:
		return schedule{slots: []float64{8, 20}, jitter: 0.5, skip: 0.2}
	case Scale:
		return schedule{slots: []float64{7.25}, jitter: 0.25, skip: 0.1} // before breakfast
	case Station:
		// Open 08:00-17:00, a resident about every 12 minutes.
		var slots []float64
		for h := 8.0; h < 17; h += 0.2 {
			slots = append(slots, h)
		}
		return schedule{slots: slots, jitter: 0.06, skip: stationSkip}
	}
	return schedule{every: time.Hour}
}

// stationSkip is the share of a station's slots that no resident comes for.
const stationSkip = 0.15

// stationSchedule is the schedule of a station that residents use uses times a day on average:
// that many slots, and a few more for those missed, spread evenly over the opening hours
// (08:00-17:00).
func stationSchedule(uses float64) schedule {
	n := max(1, int(math.Round(uses/(1-stationSkip))))
	step := 9.0 / float64(n)
	slots := make([]float64, n)
	for i := range slots {
		slots[i] = 8 + float64(i)*step
	}
	return schedule{slots: slots, jitter: min(0.06, step/3), skip: stationSkip}
}

// NextAt is the first time after after at which the device measures on its natural schedule:
// every 5 minutes for a CGM or wearable, the patient's testing times for home devices, the
// opening hours of a station. It depends only on the device and after, not on earlier calls.
func (d *Device) NextAt(after time.Time) time.Time {
	if d.schedule.every > 0 {
		return d.nextEvery(after, d.schedule.every)
	}
	s := &d.schedule
	local := after.In(d.zone)
	y, m, day := local.Date()
	// A slot's jitter is up to one hour, so yesterday's last slot may still lie ahead. A
	// device used on a share of days may have none for a while.
	for dd := -1; dd <= maxIdleDays; dd++ {
		midnight := time.Date(y, m, day+dd, 0, 0, 0, 0, d.zone)
		if !d.usedOn(midnight) {
			continue
		}
		dayKey := uint64(midnight.Unix())
		var next time.Time
		kept := false
		for i, h := range s.slots {
			if d.unit(dayKey, i, 1) < s.skip {
				continue
			}
			kept = true
			if t := d.slotTime(midnight, dayKey, i, h); t.After(after) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if !kept && d.share > 0 {
			// A day of use has at least one measurement: the first slot.
			if t := d.slotTime(midnight, dayKey, 0, s.slots[0]); t.After(after) {
				next = t
			}
		}
		if !next.IsZero() {
			return next
		}
	}
	return after.Add(24 * time.Hour) // every slot skipped for a year: only with skip near 1
}

// maxIdleDays is how far ahead NextAt looks for a day with a measurement.
const maxIdleDays = 366

func (d *Device) slotTime(midnight time.Time, dayKey uint64, i int, h float64) time.Time {
	off := h + (2*d.unit(dayKey, i, 2)-1)*d.schedule.jitter
	return midnight.Add(time.Duration(off * float64(time.Hour))).Truncate(time.Second)
}

// nextEvery is the first time after after on the device's grid of every (a continuous
// sensor's), on a day the device is used.
func (d *Device) nextEvery(after time.Time, every time.Duration) time.Time {
	start := time.Unix(0, 0).Add(d.schedule.phase)
	grid := func(after time.Time) time.Time {
		n := after.Sub(start)/every + 1
		if after.Before(start) {
			n = 0
		}
		return start.Add(n * every)
	}
	t := grid(after)
	for range maxIdleDays {
		local := t.In(d.zone)
		midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, d.zone)
		if d.usedOn(midnight) {
			return t
		}
		t = grid(midnight.AddDate(0, 0, 1).Add(-time.Nanosecond))
	}
	return t
}

// usedOn reports whether the device is used on the local day that starts at midnight: always,
// unless it is used on a share of days only. Those days follow a Beatty sequence from a phase of
// the device's own, so that any n consecutive days hold n x share of them, rounded up or down:
// a month's utilisation is the share to within a day, not a coin's luck.
func (d *Device) usedOn(midnight time.Time) bool {
	if d.share <= 0 || d.share >= 1 {
		return true
	}
	k := float64(midnight.Unix() / (24 * 60 * 60))
	_, frac := math.Modf(k*d.share + d.unit(0, 0, 3))
	return frac < d.share
}

// unit is a number in [0, 1) that depends only on the device, the day, the slot and purpose.
func (d *Device) unit(day uint64, slot, purpose int) float64 {
	x := splitmix64(uint64(d.seed) ^ splitmix64(uint64(d.index)<<20^uint64(slot)<<4^uint64(purpose)) ^ day*0x9e3779b97f4a7c15)
	return float64(x>>11) / (1 << 53)
}

// splitmix64 is the SplitMix64 finaliser (Steele, Lea, Flood 2014): a cheap, well-mixed hash.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
