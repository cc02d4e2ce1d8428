package usage

import (
	"cmp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Input is what utilisation is computed from, all for the months asked.
type Input struct {
	Sites       []devices.Site       // zones and districts
	Devices     []devices.Device     // kind, mode, rated uses per day (current registry values)
	Periods     []devices.Period     // from the store's device periods, overlapping the months
	Assignments []devices.Assignment // loans of home devices overlapping the months
	// Counts are the uses per device, site and local day, at most one per device, site and day
	// (as the store keeps them). Sorted by device (then site or day), as the store returns
	// them, they are read fastest.
	Counts []DayCount
	// Months are uses per device, site and month, day by day: the same uses as Counts, read
	// from the store's monthly aggregate. Both may be given; their uses add up.
	Months []MonthUses
}

// Figure is the utilisation of one subject (a device, a type at a site, a site, a district) in
// one month. Fields a roll-up sums away are empty.
type Figure struct {
	Month    Month
	Device   string
	Site     string
	District string
	Kind     devices.Kind
	Mode     devices.Mode
	// Devices is the number of distinct devices counted (1 for a device); a device seen at two
	// sites of a district in a month counts once in the district.
	Devices int
	// DaysInService is, for a station device, its device-days in service; for a home device,
	// its device-days assigned.
	DaysInService int
	// ServiceDays is the device-days in service whatever the mode: for a home device it also
	// counts the days it sat in the pool unlent. Capacity 0 with ServiceDays > 0 means idle,
	// not absent.
	ServiceDays int
	// Used is, for a station device, its uses on days in service; for a home device, its days
	// with a use among its days assigned.
	Used float64
	// Capacity is, for a station device, rated uses per day × days in service; for a home
	// device, its days assigned. 0 means no capacity: Utilisation is then 0.
	Capacity float64
	// Utilisation is Used / Capacity; 0 when Capacity is 0.
	Utilisation float64
	// Uncounted is what was recorded at the site in the month but is left out of Used: uses
	// (station) or days with a use (home) on days not in service or, for a home device, not
	// assigned.
	Uncounted float64
}

// Compute returns the utilisation of every device at every site for each month from..to (both
// included): one Figure per device, site and month with a day in service or a use recorded
// there, ordered by month, site and device. Periods, assignments and counts of devices that
// are not in in.Devices are ignored, and so are counts outside the months or with a malformed
// day.
//
// Utilisation (docs/design.md, "Utilisation and reallocation"; docs/domain.md, "Utilisation")
// is counted per device, per site and per calendar month:
//
//   - A local day is a calendar day in the time zone of the site the device was at (UTC when the
//     site has no zone, an unknown zone, or is not in in.Sites). It is a day in service at site S
//     when the device had an Active period at S covering any part of that day: a day cut by a
//     repair, a move or retirement still counts. Days in maintenance, in transit, retired or
//     before the device's first period are not days in service. A device received at one site
//     the same day it left another has that day in service at both.
//   - Station device: utilisation = uses on days in service / (rated uses per day × days in
//     service).
//   - Home device: utilisation = days with at least one use among its days assigned / days
//     assigned, where a day assigned is a day in service on which the device was lent to a
//     patient for any part of the day (in the site's zone).
//   - Uses on days that are not counted (not in service; for a home device, not assigned) are
//     left out of Used and Capacity and reported as Uncounted.
//   - A roll-up (see Rollup) sums the numerators (uses, days with a use) and the capacities
//     (rated × days in service, days assigned) of its devices, station and home alike, and
//     divides: utilisation = Σ Used / Σ Capacity. With no capacity, utilisation is 0 and
//     Capacity is 0.
//
// The rated uses per day, kind and mode are the devices' current registry values. A city's
// year of counts is read on up to 8 goroutines (GOMAXPROCS).
func Compute(in Input, from, to Month) []Figure {
	return compute(in, from, to, parallelism{workers: min(runtime.GOMAXPROCS(0), 8), counts: 1 << 18, figures: 1 << 16})
}

// ComputeEach calls fn with each figure that Compute returns, in the same order, without
// keeping them: for what only sums the figures (a roll-up, the stocks of an assessment), a
// city's devices need no slice of hundreds of thousands of figures. fn must not keep f.
func ComputeEach(in Input, from, to Month, fn func(f *Figure)) {
	NewComputation(in, from, to).Each(fn)
}

// each calls fn with each figure, in the order of figures.
func (c *computation) each(fn func(f *Figure)) {
	order := c.order()
	var f Figure // one, handed to fn each time: a figure each would escape to the heap
	for m := range c.cal.months {
		for _, i := range order {
			var ok bool
			if f, ok = c.figure(i, m); ok {
				fn(&f)
			}
		}
	}
}

// parallelism is how many goroutines Compute may use, and the least work worth one each.
type parallelism struct {
	workers int
	counts  int // counts per worker
	figures int // device-site-months per worker
}

func compute(in Input, from, to Month, par parallelism) []Figure {
	if to.Before(from) {
		return nil
	}
	cal := newCalendar(from, to)
	c := newComputation(in, cal)
	c.par = par
	c.addPeriods(in.Periods)
	c.addAssignments(in.Assignments)
	c.addCounts(in.Counts)
	c.addMonths(in.Months)
	return c.figures(c.order())
}

// utilSite is a site as utilisation needs it.
type utilSite struct {
	id, district string
	zone         string // as given: Patch compares it
	loc          *time.Location
}

// utilSlot is one device at one site over the months. Its day bitsets are in the
// computation's days slice: in service, assigned (home), with a use (home).
type utilSlot struct {
	dev, site int32
	next      int32 // the device's next slot, or -1
}

type computation struct {
	cal     *calendar
	in      *Input
	par     parallelism
	devIdx  map[string]int32
	home    []bool
	first   []int32 // each device's first slot, or -1
	sites   []utilSite
	listed  int // the sites of the input, first in sites; the others came with a period or use
	siteIdx map[string]int32
	zones   map[string]*time.Location
	slots   []utilSlot
	days    []uint64 // 3 bitsets per slot
	uses    []int64  // station: per slot and month, counted uses
	other   []int64  // station: per slot and month, uncounted uses
	// The site of the last month's uses added, and its index (-1: none yet).
	lastSite    string
	lastSiteIdx int32
	// The device of the last month's uses added through AddMonth (-1: none yet).
	lastDev int32
	// sorted is the order of the slots of the computation this was cloned from, or nil.
	sorted *sortedSlots
}

func newComputation(in Input, cal *calendar) *computation {
	c := &computation{
		cal:         cal,
		in:          &in,
		devIdx:      make(map[string]int32, len(in.Devices)),
		home:        make([]bool, len(in.Devices)),
		first:       make([]int32, len(in.Devices)),
		siteIdx:     make(map[string]int32, len(in.Sites)),
		zones:       map[string]*time.Location{},
		lastSiteIdx: -1,
		lastDev:     -1,
	}
	// Most devices stay at one site: one slot each, and more only for those that moved.
	c.slots = make([]utilSlot, 0, len(in.Devices))
	c.days = make([]uint64, 0, len(in.Devices)*3*cal.words)
	c.uses = make([]int64, 0, len(in.Devices)*len(cal.months))
	c.other = make([]int64, 0, len(in.Devices)*len(cal.months))
	for i, d := range in.Devices {
		c.devIdx[d.ID] = int32(i)
		c.home[i] = d.Mode == devices.Home
		c.first[i] = -1
	}
	for _, s := range in.Sites {
		if _, ok := c.siteIdx[s.ID]; !ok {
			c.siteIdx[s.ID] = int32(len(c.sites))
			c.sites = append(c.sites, utilSite{id: s.ID, district: s.District, zone: s.TimeZone, loc: c.zone(s.TimeZone)})
		}
	}
	c.listed = len(c.sites)
	return c
}

// zone loads a time zone once; an empty or unknown name is UTC.
func (c *computation) zone(name string) *time.Location {
	if loc, ok := c.zones[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" {
		loc = time.UTC
	}
	c.zones[name] = loc
	return loc
}

// site returns a site's index, adding a site unknown to the list (UTC, no district).
func (c *computation) site(id string) int32 {
	if i, ok := c.siteIdx[id]; ok {
		return i
	}
	i := int32(len(c.sites))
	c.siteIdx[id] = i
	c.sites = append(c.sites, utilSite{id: id, loc: time.UTC})
	return i
}

// slot returns the slot of device dev at site, creating it.
func (c *computation) slot(dev, site int32) int32 {
	if i := c.slotOf(dev, site); i >= 0 {
		return i
	}
	i := int32(len(c.slots))
	c.slots = append(c.slots, utilSlot{dev: dev, site: site, next: c.first[dev]})
	c.first[dev] = i
	c.days = grow(c.days, 3*c.cal.words)
	n := len(c.cal.months)
	c.uses = grow(c.uses, n)
	c.other = grow(c.other, n)
	return i
}

// slotOf returns the slot of device dev at site, or -1. A device has a slot for each site it
// was at in the months: mostly one.
func (c *computation) slotOf(dev, site int32) int32 {
	for i := c.first[dev]; i >= 0; i = c.slots[i].next {
		if c.slots[i].site == site {
			return i
		}
	}
	return -1
}

// grow extends s by n zeros, without allocating them first.
func grow[T any](s []T, n int) []T {
	s = slices.Grow(s, n)
	s = s[:len(s)+n]
	clear(s[len(s)-n:])
	return s
}

// bitset returns slot i's bitset k: 0 in service, 1 assigned, 2 with a use.
func (c *computation) bitset(i int32, k int) []uint64 {
	w := c.cal.words
	o := (int(i)*3 + k) * w
	return c.days[o : o+w : o+w]
}

func (c *computation) addPeriods(ps []devices.Period) {
	lastID, dev := "", int32(-1)
	for _, p := range ps {
		if !p.Status.InService() {
			continue
		}
		if p.DeviceID != lastID || dev < 0 {
			lastID = p.DeviceID
			var ok bool
			if dev, ok = c.devIdx[p.DeviceID]; !ok {
				dev = -1
			}
		}
		if dev < 0 {
			continue
		}
		s := c.site(p.SiteID)
		if lo, hi, ok := c.cal.span(p.From, p.Until, c.sites[s].loc); ok {
			setDays(c.bitset(c.slot(dev, s), 0), lo, hi)
		}
	}
}

// addAssignments marks a home device's days assigned at each site it was in service at, then
// keeps only those in service.
func (c *computation) addAssignments(as []devices.Assignment) {
	for _, a := range as {
		dev, ok := c.devIdx[a.DeviceID]
		if !ok || !c.home[dev] {
			continue
		}
		for i := c.first[dev]; i >= 0; i = c.slots[i].next {
			if lo, hi, ok := c.cal.span(a.From, a.Until, c.sites[c.slots[i].site].loc); ok {
				setDays(c.bitset(i, 1), lo, hi)
			}
		}
	}
	for i := range c.slots {
		if c.home[c.slots[i].dev] {
			service, assigned := c.bitset(int32(i), 0), c.bitset(int32(i), 1)
			for w := range assigned {
				assigned[w] &= service[w]
			}
		}
	}
}

// addCounts adds the counts, in parallel when there are many: each worker takes a stretch of
// the counts and claims the slots it writes, so that a slot has one writer; counts whose slot
// another worker holds or that need a new slot are added afterwards, one at a time. Counts
// grouped by device, as the store returns them, rarely meet a claimed slot.
func (c *computation) addCounts(counts []DayCount) {
	workers := min(c.par.workers, len(counts)/max(c.par.counts, 1))
	if workers < 2 {
		c.countStretch(counts, 0, nil, -1)
		return
	}
	owner := make([]atomic.Int32, len(c.slots))
	for i := range owner {
		owner[i].Store(-1)
	}
	later := make([][]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := len(counts)*w/workers, len(counts)*(w+1)/workers
		wg.Go(func() { later[w] = c.countStretch(counts[lo:hi], lo, owner, int32(w)) })
	}
	wg.Wait()
	var rest []DayCount
	for _, l := range later {
		for _, i := range l {
			rest = append(rest, counts[i])
		}
	}
	c.countStretch(rest, 0, nil, -1)
}

// countStretch adds counts, whose first is counts[offset] of all the counts. Alone (owner nil)
// it creates the slots it needs. As worker w it writes only the slots it claims in owner, and
// returns the indexes of the counts it left.
func (c *computation) countStretch(counts []DayCount, offset int, owner []atomic.Int32, w int32) (left []int) {
	// The slot of the last run of counts of one device at one site, and its days.
	lastDev, lastSite := "", ""
	ok, later, home := false, false, false
	var service, used []uint64
	var uses, other []int64
	for i := range counts {
		u := &counts[i]
		if u.Uses <= 0 {
			continue
		}
		if u.Device != lastDev || u.Site != lastSite || i == 0 {
			lastDev, lastSite = u.Device, u.Site
			var slot int32
			if slot, ok, later = c.claim(u.Device, u.Site, owner, w); ok {
				dev := c.slots[slot].dev
				home, service, used = c.home[dev], c.bitset(slot, 0), c.bitset(slot, 2)
				n := len(c.cal.months)
				uses, other = c.uses[int(slot)*n:][:n], c.other[int(slot)*n:][:n]
			}
		}
		if !ok {
			if later {
				left = append(left, offset+i)
			}
			continue
		}
		day, valid := c.cal.parseDay(u.Day)
		if !valid {
			continue
		}
		switch bit := uint64(1) << (day % 64); {
		case home:
			used[day/64] |= bit
		case service[day/64]&bit != 0:
			uses[c.cal.monthOf[day]] += int64(u.Uses)
		default:
			other[c.cal.monthOf[day]] += int64(u.Uses)
		}
	}
	return left
}

// claim returns the slot of a known device at a site, or whether to add the count later.
// Alone (owner nil) it creates the slot; as worker w it takes only an existing slot that no
// other worker holds.
func (c *computation) claim(device, site string, owner []atomic.Int32, w int32) (slot int32, ok, later bool) {
	dev, ok := c.devIdx[device]
	if !ok {
		return 0, false, false
	}
	if owner == nil {
		return c.slot(dev, c.site(site)), true, false
	}
	s, ok := c.siteIdx[site]
	if !ok {
		return 0, false, true
	}
	if slot = c.slotOf(dev, s); slot < 0 {
		return 0, false, true
	}
	if o := owner[slot].Load(); o == w || o < 0 && owner[slot].CompareAndSwap(-1, w) {
		return slot, true, false
	}
	return 0, false, true
}

// shows reports whether slot i has a figure in month m: a day in service or a use recorded.
func (c *computation) shows(i int32, m int) bool {
	lo, hi := c.cal.firstDay[m], c.cal.firstDay[m+1]
	if c.home[c.slots[i].dev] {
		return countDays(c.bitset(i, 0), nil, lo, hi, false) > 0 || countDays(c.bitset(i, 2), nil, lo, hi, false) > 0
	}
	k := int(i)*len(c.cal.months) + m
	return c.uses[k] != 0 || c.other[k] != 0 || countDays(c.bitset(i, 0), nil, lo, hi, false) > 0
}

// figure returns slot i's figure in month m, and whether it has anything to show.
func (c *computation) figure(i int32, m int) (Figure, bool) {
	lo, hi := c.cal.firstDay[m], c.cal.firstDay[m+1]
	s := &c.slots[i]
	service := countDays(c.bitset(i, 0), nil, lo, hi, false)
	var f Figure
	if c.home[s.dev] {
		assigned, used := c.bitset(i, 1), c.bitset(i, 2)
		f.DaysInService = countDays(assigned, nil, lo, hi, false)
		f.Used = float64(countDays(used, assigned, lo, hi, false))
		f.Uncounted = float64(countDays(used, assigned, lo, hi, true))
		f.Capacity = float64(f.DaysInService)
	} else {
		k := int(i)*len(c.cal.months) + m
		f.DaysInService = service
		f.Used = float64(c.uses[k])
		f.Uncounted = float64(c.other[k])
		f.Capacity = float64(c.in.Devices[s.dev].RatedUsesPerDay * service)
	}
	if service == 0 && f.Used == 0 && f.Uncounted == 0 {
		return Figure{}, false
	}
	d, site := &c.in.Devices[s.dev], &c.sites[s.site]
	f.Month, f.Device, f.Site, f.District, f.Kind, f.Mode = c.cal.months[m], d.ID, site.id, site.district, d.Kind, d.Mode
	f.Devices, f.ServiceDays = 1, service
	if f.Capacity > 0 {
		f.Utilisation = f.Used / f.Capacity
	}
	return f, true
}

// sortedSlots is the order of a started computation's slots (its first n), made once and
// shared by its clones: each report on a kept window would sort them again.
type sortedSlots struct {
	n     int
	once  sync.Once
	order []int32
}

// order returns the slots ordered by site and device. Slots are only ever added, so the order
// of a started computation's is that of its clones' as long as they added none.
func (c *computation) order() []int32 {
	if s := c.sorted; s != nil && s.n == len(c.slots) {
		s.once.Do(func() { s.order = c.sortSlots() })
		return s.order
	}
	return c.sortSlots()
}

// sortSlots returns the slots ordered by site and device.
func (c *computation) sortSlots() []int32 {
	order := make([]int32, len(c.slots))
	for i := range order {
		order[i] = int32(i)
	}
	// Sites by id, ranked once; devices too when they come ordered by id, as they mostly do.
	bySite := make([]int32, len(c.sites))
	for i := range bySite {
		bySite[i] = int32(i)
	}
	slices.SortFunc(bySite, func(a, b int32) int { return strings.Compare(c.sites[a].id, c.sites[b].id) })
	rank := make([]int32, len(c.sites))
	for r, i := range bySite {
		rank[i] = int32(r)
	}
	ds := c.in.Devices
	if slices.IsSortedFunc(ds, func(a, b devices.Device) int { return strings.Compare(a.ID, b.ID) }) {
		slices.SortFunc(order, func(a, b int32) int {
			sa, sb := &c.slots[a], &c.slots[b]
			return cmp.Or(cmp.Compare(rank[sa.site], rank[sb.site]), cmp.Compare(sa.dev, sb.dev))
		})
		return order
	}
	slices.SortFunc(order, func(a, b int32) int {
		sa, sb := &c.slots[a], &c.slots[b]
		return cmp.Or(cmp.Compare(rank[sa.site], rank[sb.site]), strings.Compare(ds[sa.dev].ID, ds[sb.dev].ID))
	})
	return order
}

// keptSlots returns the slots of order at the sites keep accepts, in order.
func (c *computation) keptSlots(order []int32, keep func(site string) bool) []int32 {
	kept := make([]int8, len(c.sites)) // 0: not asked yet, 1: kept, -1: left out
	var out []int32
	for _, i := range order {
		s := c.slots[i].site
		if kept[s] == 0 {
			kept[s] = -1
			if keep(c.sites[s].id) {
				kept[s] = 1
			}
		}
		if kept[s] > 0 {
			out = append(out, i)
		}
	}
	return out
}

// figures returns the figures of the slots in order (the slots' order, or some of them in it).
func (c *computation) figures(order []int32) []Figure {
	// Months are independent: each is counted, then written into its own part of the result.
	months := len(c.cal.months)
	start := make([]int, months+1)
	c.eachMonth(func(m int) {
		for _, i := range order {
			if c.shows(i, m) {
				start[m+1]++
			}
		}
	})
	for m := range months {
		start[m+1] += start[m]
	}
	out := make([]Figure, start[months])
	c.eachMonth(func(m int) {
		k := start[m]
		for _, i := range order {
			if f, ok := c.figure(i, m); ok {
				out[k] = f
				k++
			}
		}
	})
	return out
}

// eachMonth calls f for each month, on several goroutines when there is enough to do.
func (c *computation) eachMonth(f func(m int)) {
	months := len(c.cal.months)
	workers := min(c.par.workers, months, len(c.slots)*months/max(c.par.figures, 1))
	if workers < 2 {
		for m := range months {
			f(m)
		}
		return
	}
	var next atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for m := int(next.Add(1)) - 1; m < months; m = int(next.Add(1)) - 1 {
				f(m)
			}
		})
	}
	wg.Wait()
}
