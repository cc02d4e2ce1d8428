package fleet

import (
	"cmp"
	"slices"
	"strings"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/usage"
)

// stocksOf builds, per site and kind, the reallocation.Usage that reallocation.Assess needs, from
// the per-device figures of complete months ending with last (as usage.Compute returns them) and the
// registry's devices as they are now:
//
//   - Devices: the working devices (status Active) of that kind at that site in current.
//   - Rated: their mean rated uses per day, a home device counting 1 (in use on a day). With no
//     working device, the mean over the kind's devices at the site that are not retired (under
//     repair, in transit), so that a centre whose only device is away can still be short; with
//     none of those either, 0 (Assess then leaves the type balanced).
//   - Demand: Σ Used in month last / days in last: uses a day, or home devices in use a day.
//   - History: the utilisation of the centre's devices of that kind in each of the months months
//     ending with last, oldest first: Σ Used / Σ capacity, where a station device's capacity is
//     its Capacity and a home device's is its days in service (ServiceDays), lent or not. A
//     centre's pool of home devices is judged by how many of its device-days were used, so that
//     devices sitting unlent in the pool show as spare; the per-device figure (days with a
//     reading / days lent) measures use while lent. A month in which devices of the type were in
//     service but had no capacity counts 0: they sat idle. A month with
//     no device of the type in service there (no figure, or only uses recorded while not in
//     service) has no utilisation, and History restarts after it; a type with fewer months than
//     months simply has a shorter History, which Assess takes as not enough to be spare.
//
// Figures outside those months are ignored. There is one Usage per site and kind with a working
// device now or a figure in the months, ordered by site and kind. months below 1 counts as 1.
func stocksOf(figs []usage.Figure, current []devices.Device, last usage.Month, months int) []reallocation.Usage {
	acc := newStockSums(last, months)
	for i := range figs {
		acc.add(&figs[i])
	}
	return acc.usages(current)
}

// stockKey is a kind at a site.
type stockKey struct {
	site string
	kind devices.Kind
}

// stock is what stockSums keeps of one kind at one site.
type stock struct {
	// Per month of the window: what was used, the capacity of the centre's devices, and
	// their days in service.
	used, capacity []float64
	serviceDays    []int
	working, other int
	rated, otherR  float64 // sums of rated uses per day
}

// stockSums adds up figures one at a time into the stocks of stocksOf.
type stockSums struct {
	first, last usage.Month
	months      int
	stocks      map[stockKey]*stock
	// The stocks of the site of the last figure added, by kind: figures come by month, site
	// and device, and a key's hash cost more than the sums.
	site  string
	kinds []kindStock
}

type kindStock struct {
	kind devices.Kind
	s    *stock
}

// at returns the stock of kind at site, creating it.
func (a *stockSums) at(site string, kind devices.Kind) *stock {
	if site != a.site || a.kinds == nil {
		a.site, a.kinds = site, a.kinds[:0]
	}
	for i := range a.kinds {
		if a.kinds[i].kind == kind {
			return a.kinds[i].s
		}
	}
	s := a.get(stockKey{site, kind})
	a.kinds = append(a.kinds, kindStock{kind, s})
	return s
}

func newStockSums(last usage.Month, months int) *stockSums {
	months = max(months, 1)
	first := last
	for range months - 1 {
		first = first.Prev()
	}
	return &stockSums{first: first, last: last, months: months, stocks: map[stockKey]*stock{}}
}

func (a *stockSums) index(m usage.Month) int {
	return (m.Year-a.first.Year)*12 + int(m.Month) - int(a.first.Month)
}

func (a *stockSums) get(k stockKey) *stock {
	s := a.stocks[k]
	if s == nil {
		s = &stock{used: make([]float64, a.months), capacity: make([]float64, a.months), serviceDays: make([]int, a.months)}
		a.stocks[k] = s
	}
	return s
}

// add adds a figure; those outside the window are ignored.
func (a *stockSums) add(f *usage.Figure) {
	i := a.index(f.Month)
	if i < 0 || i >= a.months {
		return
	}
	s := a.at(f.Site, f.Kind)
	s.used[i] += f.Used
	s.serviceDays[i] += f.ServiceDays
	if f.Mode == devices.Home {
		// The centre's pool: every home device in service could have been lent and used.
		s.capacity[i] += float64(f.ServiceDays)
	} else {
		s.capacity[i] += f.Capacity
	}
}

// usages returns the stocks with the devices current, as stocksOf does.
func (a *stockSums) usages(current []devices.Device) []reallocation.Usage {
	months, last := a.months, a.last
	for _, d := range current {
		rated := float64(d.RatedUsesPerDay)
		if d.Mode == devices.Home {
			rated = 1
		}
		switch d.Status {
		case devices.Active:
			s := a.get(stockKey{d.SiteID, d.Kind})
			s.working++
			s.rated += rated
		case devices.Retired:
		default:
			s := a.get(stockKey{d.SiteID, d.Kind})
			s.other++
			s.otherR += rated
		}
	}
	out := make([]reallocation.Usage, 0, len(a.stocks))
	for k, s := range a.stocks {
		if s.working == 0 && !slices.ContainsFunc(s.serviceDays, func(n int) bool { return n > 0 }) &&
			!slices.ContainsFunc(s.used, func(u float64) bool { return u > 0 }) {
			continue // only devices away or under repair, and no figures: nothing to judge
		}
		u := reallocation.Usage{Stock: reallocation.Stock{Site: k.site, Type: k.kind, Devices: s.working}}
		switch {
		case s.working > 0:
			u.Rated = s.rated / float64(s.working)
		case s.other > 0:
			u.Rated = s.otherR / float64(s.other)
		}
		for i := range months {
			switch {
			case s.serviceDays[i] == 0:
				u.History = nil // no device in service that month: the history starts again
			case s.capacity[i] == 0:
				u.History = append(u.History, 0)
			default:
				u.History = append(u.History, s.used[i]/s.capacity[i])
			}
		}
		u.Demand = s.used[months-1] / float64(last.Days())
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b reallocation.Usage) int {
		return cmp.Or(strings.Compare(a.Site, b.Site), cmp.Compare(a.Type, b.Type))
	})
	return out
}
