package usage

import (
	"fmt"
	"maps"
	"math/bits"
	"runtime"
	"slices"
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
func (m *MonthUses) Total() int64 { return total(m.Uses) }

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
	for i := range ms {
		u := &ms[i]
		if dev, ok := c.devIdx[u.Device]; ok {
			c.addMonth(dev, u.Site, u.Month, u.Days, u.Uses)
		}
	}
}

// addMonth adds one device's uses at a site in a month.
func (c *computation) addMonth(dev int32, site string, month Month, days uint32, uses []int32) {
	m := month.Year*12 + int(month.Month) - 1 - c.cal.firstMonth
	if m < 0 || m >= len(c.cal.months) || days == 0 {
		return
	}
	if site != c.lastSite || c.lastSiteIdx < 0 {
		c.lastSite, c.lastSiteIdx = site, c.site(site)
	}
	slot := c.slot(dev, c.lastSiteIdx)
	lo := c.cal.firstDay[m]
	n := c.cal.firstDay[m+1] - lo
	valid := days & (1<<n - 1)
	if c.home[dev] {
		orBits(c.bitset(slot, 2), lo, valid)
		return
	}
	k := int(slot)*len(c.cal.months) + m
	service := getBits(c.bitset(slot, 0), lo, n)
	if valid == days && len(uses) == bits.OnesCount32(days) {
		switch {
		case valid&^service == 0:
			c.uses[k] += total(uses)
			return
		case valid&service == 0:
			c.other[k] += total(uses)
			return
		}
	}
	j := 0
	for ds := days; ds != 0 && j < len(uses); ds &= ds - 1 {
		bit := uint32(1) << bits.TrailingZeros32(ds)
		switch {
		case valid&bit == 0:
		case service&bit != 0:
			c.uses[k] += int64(uses[j])
		default:
			c.other[k] += int64(uses[j])
		}
		j++
	}
}

func total(uses []int32) int64 {
	var n int64
	for _, u := range uses {
		n += int64(u)
	}
	return n
}

// Computation is Compute in steps, for uses read a device's month at a time rather than all
// kept in Input.Months: NewComputation, then AddMonth for each, then Each or Figures.
type Computation struct {
	c *computation
}

// NewComputation starts the computation of the figures of from..to from in (all of it:
// periods, assignments, and any Counts and Months).
func NewComputation(in Input, from, to Month) *Computation {
	if to.Before(from) {
		return &Computation{}
	}
	c := newComputation(in, newCalendar(from, to))
	c.par = parallelism{workers: min(runtime.GOMAXPROCS(0), 8), counts: 1 << 18, figures: 1 << 16}
	c.addPeriods(in.Periods)
	c.addAssignments(in.Assignments)
	c.addCounts(in.Counts)
	c.addMonths(in.Months)
	c.sorted = &sortedSlots{n: len(c.slots)}
	return &Computation{c: c}
}

// AddMonth adds a device's uses at a site in a month: days has bit d-1 set for day d, and uses
// are those days' uses in order, as in MonthUses. A device not in the input is ignored. device
// and uses are not kept.
func (x *Computation) AddMonth(device []byte, site string, month Month, days uint32, uses []int32) {
	if x.c == nil {
		return
	}
	c := x.c
	// The devices of a site's month come in the order of their ids, as the computation's
	// devices are, and a centre's devices often have ids in a row: try the one after the last.
	dev, ok := c.lastDev+1, false
	if int(dev) < len(c.in.Devices) && c.in.Devices[dev].ID == string(device) {
		ok = true
	} else {
		dev, ok = c.devIdx[string(device)]
	}
	if ok {
		c.lastDev = dev
		c.addMonth(dev, site, month, days, uses)
	}
}

// Clone returns a copy of x to add more uses to, leaving x as it is: a computation of the same
// devices, periods and loans is started once and cloned for each set of uses. Cloning copies
// the days and sums of each device at each site, not the input.
func (x *Computation) Clone() *Computation {
	if x.c == nil {
		return &Computation{}
	}
	c := *x.c
	c.first = slices.Clone(c.first)
	c.sites = slices.Clone(c.sites)
	c.siteIdx = maps.Clone(c.siteIdx)
	c.slots = slices.Clone(c.slots)
	c.days = slices.Clone(c.days)
	c.uses = slices.Clone(c.uses)
	c.other = slices.Clone(c.other)
	c.lastSite, c.lastSiteIdx, c.lastDev = "", -1, -1
	return &Computation{c: &c}
}

// Figures returns the figures, as Compute does.
func (x *Computation) Figures() []Figure { return x.FiguresOf(nil) }

// FiguresOf returns the figures of the sites keep accepts (nil: every site), as Figures does,
// without computing the others'.
func (x *Computation) FiguresOf(keep func(site string) bool) []Figure {
	if x.c == nil {
		return nil
	}
	order := x.c.order()
	if keep != nil {
		order = x.c.keptSlots(order, keep)
	}
	return x.c.figures(order)
}

// Each calls fn with each figure, as ComputeEach does.
func (x *Computation) Each(fn func(f *Figure)) {
	if x.c == nil {
		return
	}
	x.c.each(fn)
}

// Rollup returns the figures of the sites that keep accepts (nil: every site) summed by by
// (ByType, BySite or ByDistrict), as Rollup(Figures(), by) would, without keeping the devices'
// figures. Groups never span months, so each month is summed on its own, on several goroutines
// when there is enough to do, and its devices are told apart by their number, not their id.
func (x *Computation) Rollup(by By, keep func(site string) bool) []Figure {
	if x.c == nil || by == ByDevice || by < 0 || int(by) >= len(byNames) {
		return nil
	}
	c := x.c
	order := c.order()
	if keep != nil {
		order = c.keptSlots(order, keep)
	}
	months := make([][]Figure, len(c.cal.months))
	c.eachMonth(func(m int) {
		r := NewRoller(by)
		if by == ByDistrict {
			r.seenDev = make([]int32, len(c.in.Devices))
		}
		for _, i := range order {
			if f, ok := c.figure(i, m); ok {
				r.add(&f, c.slots[i].dev)
			}
		}
		months[m] = r.out
	})
	return sortRolled(slices.Concat(months...))
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
