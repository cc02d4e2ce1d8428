package fleet

import (
	"cmp"
	"context"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/usage"
)

// Repair is one device's time out of service for repair: from when it was put under
// maintenance to when it was active again (Until zero: not yet back).
type Repair struct {
	Device string
	Site   string // where it was under repair
	Kind   devices.Kind
	From   time.Time
	Until  time.Time
}

// repairsOf finds the repairs in the devices' periods (by device and start, as the store gives
// them): a run of maintenance periods, at any site, that ends in an active one. A device that
// goes from maintenance to retired or in transit was not returned to service there, and is not
// a repair; one still under maintenance is an open repair.
func repairsOf(periods []devices.Period, kindOf func(id string) devices.Kind) []Repair {
	var out []Repair
	var open *Repair
	for i, p := range periods {
		if i > 0 && periods[i-1].DeviceID != p.DeviceID {
			if open != nil {
				out = append(out, *open) // the device's last period: still under repair
			}
			open = nil
		}
		switch {
		case p.Status == devices.Maintenance && open == nil:
			open = &Repair{Device: p.DeviceID, Site: p.SiteID, Kind: kindOf(p.DeviceID), From: p.From}
		case p.Status == devices.Maintenance:
		case p.Status == devices.Active && open != nil:
			open.Until = p.From
			out = append(out, *open)
			open = nil
		default:
			open = nil
		}
	}
	if open != nil {
		out = append(out, *open)
	}
	return out
}

// Turnaround is the repairs of one kind at one centre that ended in one month (UTC): how many,
// the median and 90th percentile of their durations, and the device-days they kept the devices
// out of service, when the residents who used them were sent elsewhere.
type Turnaround struct {
	Month  usage.Month
	Site   string
	Kind   devices.Kind
	Count  int
	Median time.Duration
	P90    time.Duration
	// DaysOut is the repairs' total duration in days.
	DaysOut float64
}

// Percentiles are the empirical ones (stat.Empirical: the smallest duration with at least that
// share of the durations at or below it): of 1, 2, 3, 4 and 10 days, the median is 3 days and the
// 90th percentile 10.

// Repairs returns the repairs in scope (the site they were under repair at) that ended in the
// months from..to, as turnarounds by month, site and kind, and the repairs in scope not yet
// ended (open), oldest first.
func (r *Reports) Repairs(ctx context.Context, from, to usage.Month, scope Scope) ([]Turnaround, []Repair, error) {
	if to.Before(from) {
		return nil, nil, errcode.Errorf(errcode.Invalid, "the period ends (%s) before it starts (%s)", to, from)
	}
	if n := monthsBetween(from, to); n > MaxMonths {
		return nil, nil, errcode.Errorf(errcode.Invalid, "the period spans %d months; at most %d at once", n, MaxMonths)
	}
	dir, err := r.directory(ctx)
	if err != nil {
		return nil, nil, err
	}
	periods, err := r.allPeriods(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	kindOf := func(id string) devices.Kind {
		if d, ok := dir.Device(id); ok {
			return d.Kind
		}
		return ""
	}
	t := turnarounds(repairsOf(periods, kindOf), from, to, scope)
	return t.done, t.open, nil
}

// grouped is what turnarounds finds: the repairs that ended, grouped, and those still open.
type grouped struct {
	done []Turnaround
	open []Repair
}

// turnarounds groups the repairs in scope that ended in from..to by month, site and kind, and
// lists those in scope still open.
func turnarounds(repairs []Repair, from, to usage.Month, scope Scope) grouped {
	type key struct {
		month usage.Month
		site  string
		kind  devices.Kind
	}
	groups := map[key][]float64{} // durations in hours
	var g grouped
	for _, x := range repairs {
		if !scope.hasSite(x.Site) || scope.Kind != "" && x.Kind != scope.Kind {
			continue
		}
		if x.Until.IsZero() {
			g.open = append(g.open, x)
			continue
		}
		m := usage.MonthOf(x.Until.UTC())
		if m.Before(from) || to.Before(m) {
			continue
		}
		k := key{m, x.Site, x.Kind}
		groups[k] = append(groups[k], x.Until.Sub(x.From).Hours())
	}
	for k, hours := range groups {
		slices.Sort(hours)
		var total float64
		for _, h := range hours {
			total += h
		}
		hour := func(h float64) time.Duration { return time.Duration(h * float64(time.Hour)).Round(time.Millisecond) }
		g.done = append(g.done, Turnaround{Month: k.month, Site: k.site, Kind: k.kind, Count: len(hours),
			Median: hour(stat.Quantile(0.5, stat.Empirical, hours, nil)), P90: hour(stat.Quantile(0.9, stat.Empirical, hours, nil)),
			DaysOut: total / 24})
	}
	slices.SortFunc(g.done, func(a, b Turnaround) int {
		return cmp.Or(cmp.Compare(a.Month.String(), b.Month.String()), cmp.Compare(a.Site, b.Site), cmp.Compare(a.Kind, b.Kind))
	})
	slices.SortFunc(g.open, func(a, b Repair) int { return cmp.Or(a.From.Compare(b.From), cmp.Compare(a.Device, b.Device)) })
	return g
}
