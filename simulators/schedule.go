package simulators

import (
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
		return schedule{slots: slots, jitter: 0.06, skip: 0.15}
	}
	return schedule{every: time.Hour}
}

// NextAt is the first time after after at which the device measures on its natural schedule:
// every 5 minutes for a CGM or wearable, the patient's testing times for home devices, the
// opening hours of a station. It depends only on the device and after, not on earlier calls.
func (d *Device) NextAt(after time.Time) time.Time {
	s := &d.schedule
	if s.every > 0 {
		start := time.Unix(0, 0).Add(s.phase)
		n := after.Sub(start)/s.every + 1
		if after.Before(start) {
			n = 0
		}
		return start.Add(n * s.every)
	}
	local := after.In(d.zone)
	y, m, day := local.Date()
	// A slot's jitter is up to one hour, so yesterday's last slot may still lie ahead.
	for dd := -1; dd <= 8; dd++ {
		midnight := time.Date(y, m, day+dd, 0, 0, 0, 0, d.zone)
		dayKey := uint64(midnight.Unix())
		var next time.Time
		for i, h := range s.slots {
			if d.unit(dayKey, i, 1) < s.skip {
				continue
			}
			off := h + (2*d.unit(dayKey, i, 2)-1)*s.jitter
			t := midnight.Add(time.Duration(off * float64(time.Hour))).Truncate(time.Second)
			if t.After(after) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if !next.IsZero() {
			return next
		}
	}
	return after.Add(24 * time.Hour) // every slot skipped for a week: only with skip near 1
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
