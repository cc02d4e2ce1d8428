package usage

import (
	"fmt"
	"math/bits"
)

// MonthUses is a device's uses at a site on each local day of one month: the monthly aggregate
// the store keeps up to date as it folds uses, so that utilisation over months reads one entry
// per device and month instead of one count per device and day.
type MonthUses struct {
	Device string
	Site   string
	Month  Month
	// Days has bit d-1 set when the device had uses at the site on day d of the month.
	Days uint32
	// Uses are the uses of each day in Days, in day order: len(Uses) is the number of bits set.
	Uses []int32
}

// Total returns the uses of the month.
func (m *MonthUses) Total() int64 {
	var n int64
	for _, u := range m.Uses {
		n += int64(u)
	}
	return n
}

// DayCounts returns m as day counts, in day order.
func (m *MonthUses) DayCounts() []DayCount {
	out := make([]DayCount, 0, len(m.Uses))
	i := 0
	for days := m.Days; days != 0 && i < len(m.Uses); days &= days - 1 {
		d := bits.TrailingZeros32(days) + 1
		out = append(out, DayCount{Device: m.Device, Site: m.Site, Day: Day(fmt.Sprintf("%s-%02d", m.Month, d)), Uses: int(m.Uses[i])})
		i++
	}
	return out
}

// MonthQuery selects month uses: the months From to To (both included), and optionally only
// some sites.
type MonthQuery struct {
	From, To Month
	Sites    []string // only these sites; nil: every site
}

// Validate reports what is wrong with q: From after To, or a month that is not a date.
func (q MonthQuery) Validate() error {
	if q.From.Month < 1 || q.From.Month > 12 || q.To.Month < 1 || q.To.Month > 12 {
		return fmt.Errorf("months %d-%02d..%d-%02d are not months", q.From.Year, int(q.From.Month), q.To.Year, int(q.To.Month))
	}
	if q.To.Before(q.From) {
		return fmt.Errorf("from %s is after to %s", q.From, q.To)
	}
	return nil
}

// addMonths adds month uses, like countStretch adds day counts: a use on a day in service
// counts, one on another day is uncounted, and a home device's days with uses are marked.
// Entries of months outside the calendar, of devices not in the input, or with days the month
// does not have are ignored (the days only).
func (c *computation) addMonths(ms []MonthUses) {
	lastDev, lastSite := "", ""
	ok, home := false, false
	var slot int32
	first := c.cal.firstMonth
	for i := range ms {
		u := &ms[i]
		m := u.Month.Year*12 + int(u.Month.Month) - 1 - first
		if m < 0 || m >= len(c.cal.months) || u.Days == 0 {
			continue
		}
		if u.Device != lastDev || u.Site != lastSite || i == 0 {
			lastDev, lastSite = u.Device, u.Site
			slot, ok, _ = c.claim(u.Device, u.Site, nil, -1)
			if ok {
				home = c.home[c.slots[slot].dev]
			}
		}
		if !ok {
			continue
		}
		lo := c.cal.firstDay[m]
		n := c.cal.firstDay[m+1] - lo
		valid := u.Days & (1<<n - 1)
		if home {
			orBits(c.bitset(slot, 2), lo, valid)
			continue
		}
		k := int(slot)*len(c.cal.months) + m
		service := getBits(c.bitset(slot, 0), lo, n)
		if valid == u.Days && len(u.Uses) == bits.OnesCount32(u.Days) {
			switch {
			case valid&^service == 0:
				c.uses[k] += u.Total()
				continue
			case valid&service == 0:
				c.other[k] += u.Total()
				continue
			}
		}
		j := 0
		for days := u.Days; days != 0 && j < len(u.Uses); days &= days - 1 {
			bit := uint32(1) << bits.TrailingZeros32(days)
			switch {
			case valid&bit == 0:
			case service&bit != 0:
				c.uses[k] += int64(u.Uses[j])
			default:
				c.other[k] += int64(u.Uses[j])
			}
			j++
		}
	}
}

// orBits sets, in the bitset w, the days lo+d for each bit d of mask.
func orBits(w []uint64, lo int, mask uint32) {
	word, shift := lo/64, uint(lo%64)
	w[word] |= uint64(mask) << shift
	if shift > 32 && word+1 < len(w) {
		w[word+1] |= uint64(mask) >> (64 - shift)
	}
}

// getBits returns the n (at most 32) days from lo of the bitset w, day lo as bit 0.
func getBits(w []uint64, lo, n int) uint32 {
	word, shift := lo/64, uint(lo%64)
	v := w[word] >> shift
	if shift > 32 && word+1 < len(w) {
		v |= w[word+1] << (64 - shift)
	}
	return uint32(v) & (1<<n - 1)
}
