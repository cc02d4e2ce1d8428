// Package fleet answers a fleet manager's questions about devices across centres: how much is
// each device, type and centre used (utilisation, from the usage counts of package usage), which
// centres have devices to spare and which are short, which moves of devices would help most
// (package reallocation's planner), and where the residents of a faulty device can go instead.
// It reads the store and the registry directory and computes; it changes nothing.
package fleet

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/usage"
)

// Store is what the reports read: the usage per device, site and month (the store's monthly
// aggregate), the devices' periods and the sites.
type Store interface {
	MonthUses(ctx context.Context, q usage.MonthQuery) ([]usage.MonthUses, error)
	// EachMonthUses is MonthUses a device's month at a time, kept by no one.
	EachMonthUses(ctx context.Context, q usage.MonthQuery,
		fn func(device []byte, site string, month usage.Month, days uint32, uses []int32)) error
	DevicePeriods(ctx context.Context, from, to time.Time, deviceIDs ...string) ([]devices.Period, error)
	AllSites(ctx context.Context) ([]devices.Site, error)
}

// Moves tells which devices are already part of an open move (proposed, approved or in
// transit), so that a plan does not offer them again, and what the open moves bring each
// centre, so that a plan does not send again what is on its way.
type Moves interface {
	DevicesInOpenMoves(ctx context.Context) (map[string]bool, error)
	OpenMoveArrivals(ctx context.Context) ([]devices.Arrival, error)
}

// Reports computes the answers. Create it with New.
type Reports struct {
	store      Store
	moves      Moves
	patients   Patients
	faults     Faults
	directory  func(ctx context.Context) (*devices.Directory, error)
	thresholds reallocation.Thresholds
	now        func() time.Time
	periods    periodCache
	started    startedCache
	forecasts  forecastCache
	// growthCounts keeps the counts of patients on each plan (growthCached).
	growthCounts growthCache
}

// Deps are what Reports reads.
type Deps struct {
	Store Store
	// Moves may be nil: then no device counts as already moving.
	Moves Moves
	// Patients may be nil: then no centre is flagged for the growth of its patients.
	Patients Patients
	// Faults may be nil: then every repair starts when the device was put under maintenance.
	Faults Faults
	// Directory returns the registry's devices and loans as of now.
	Directory func(ctx context.Context) (*devices.Directory, error)
	// Now is the clock (time.Now outside tests).
	Now func() time.Time
}

// New returns reports on deps with the spare/short thresholds t.
func New(deps Deps, t reallocation.Thresholds) (*Reports, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Reports{store: deps.Store, moves: deps.Moves, patients: deps.Patients, faults: deps.Faults, directory: deps.Directory, thresholds: t, now: deps.Now}, nil
}

// Thresholds are the spare/short thresholds in use.
func (r *Reports) Thresholds() reallocation.Thresholds { return r.thresholds }

// MaxMonths bounds the months of one utilisation report.
const MaxMonths = 24

// Scope limits a report: to some sites (nil: all) and one device kind ("" : all).
type Scope struct {
	Sites []string
	Kind  devices.Kind
}

func (s Scope) hasSite(id string) bool { return s.Sites == nil || slices.Contains(s.Sites, id) }

// siteFilter is hasSite for the computations' filters: nil when every site is in scope, so
// that they do not go through every site's devices to keep them all.
func (s Scope) siteFilter() func(site string) bool {
	if s.Sites == nil {
		return nil
	}
	return s.hasSite
}

// Utilisation returns the figures of every device in scope for the months from..to, rolled up
// by by. Months after the current one have no days in service; the current month counts up to
// now.
func (r *Reports) Utilisation(ctx context.Context, from, to usage.Month, by usage.By, scope Scope) ([]usage.Figure, error) {
	if to.Before(from) {
		return nil, errcode.Errorf(errcode.Invalid, "the period ends (%s) before it starts (%s)", to, from)
	}
	if n := monthsBetween(from, to); n > MaxMonths {
		return nil, errcode.Errorf(errcode.Invalid, "the period spans %d months; at most %d at once", n, MaxMonths)
	}
	if by == usage.ByDevice {
		return r.figures(ctx, from, to, scope)
	}
	// Rolled up, the devices' figures are summed as they are computed, not kept.
	c, err := r.computation(ctx, from, to, scope)
	if err != nil || c == nil {
		return nil, err
	}
	return c.Rollup(by, scope.siteFilter()), nil
}

// figures computes the per-device figures of the months from..to for the scope.
func (r *Reports) figures(ctx context.Context, from, to usage.Month, scope Scope) ([]usage.Figure, error) {
	c, err := r.computation(ctx, from, to, scope)
	if err != nil || c == nil {
		return nil, err
	}
	return c.FiguresOf(scope.siteFilter()), nil
}

// input is what the figures of the months from..to for the scope are computed from.
func (r *Reports) input(ctx context.Context, from, to usage.Month, scope Scope) (usage.Input, error) {
	dir, err := r.directory(ctx)
	if err != nil {
		return usage.Input{}, err
	}
	return r.inputAt(ctx, dir, from, to, scope)
}

// inputAt is input as of dir.
func (r *Reports) inputAt(ctx context.Context, dir *devices.Directory, from, to usage.Month, scope Scope) (usage.Input, error) {
	sites, err := r.store.AllSites(ctx)
	if err != nil {
		return usage.Input{}, err
	}
	st, err := r.registry(ctx, dir)
	if err != nil {
		return usage.Input{}, err
	}
	return r.inputOf(st, sites, from, to, scope.Kind, nil), nil
}

// inputOf is what the figures of the months from..to for the devices of kind ("": all) are
// computed from, as of st: of every device, or with only (sorted), of those devices only.
// Loans and periods of devices out of scope are left out by Compute.
func (r *Reports) inputOf(st *registryState, sites []devices.Site, from, to usage.Month, kind devices.Kind, only []string) usage.Input {
	// Widen by a day on each side: local days reach up to 14 hours either side of UTC.
	start := time.Date(from.Year, from.Month, 1, 0, 0, 0, 0, time.UTC).Add(-24 * time.Hour)
	end := time.Date(to.Year, to.Month+1, 1, 0, 0, 0, 0, time.UTC).Add(24 * time.Hour)
	now := r.now()
	in := usage.Input{Sites: sites}
	all, loans, periods := st.devices, st.loans, st.periods
	if only != nil {
		all, loans, periods = nil, nil, nil
		for _, id := range only {
			all = append(all, of(st.devices, id, func(d *devices.Device) string { return d.ID })...)
			loans = append(loans, of(st.loans, id, func(a *devices.Assignment) string { return a.DeviceID })...)
			periods = append(periods, of(st.periods, id, func(p *devices.Period) string { return p.DeviceID })...)
		}
	}
	if kind == "" {
		in.Devices = all
	} else {
		for _, d := range all {
			if d.Kind == kind {
				in.Devices = append(in.Devices, d)
			}
		}
	}
	for _, a := range loans {
		if a.From.Before(end) && (a.Until.IsZero() || a.Until.After(start)) {
			if a.Until.IsZero() || a.Until.After(now) {
				a.Until = now
			}
			in.Assignments = append(in.Assignments, a)
		}
	}
	if len(in.Devices) == 0 {
		return in
	}
	for _, p := range periods {
		if !p.From.Before(now) || !p.From.Before(end) || !p.Until.IsZero() && !p.Until.After(start) {
			continue
		}
		if p.Until.IsZero() || p.Until.After(now) {
			p.Until = now // no day after now is in service yet
		}
		in.Periods = append(in.Periods, p)
	}
	return in
}

// computation is the computation of the figures of the months from..to for the scope, with
// the uses added from the store's monthly aggregate as they are read; nil when the scope has
// no device.
func (r *Reports) computation(ctx context.Context, from, to usage.Month, scope Scope) (*usage.Computation, error) {
	c, err := r.prepared(ctx, from, to, scope.Kind)
	if err != nil || c == nil {
		return nil, err
	}
	err = r.store.EachMonthUses(ctx, usage.MonthQuery{From: from, To: to, Sites: scope.Sites},
		func(device []byte, site string, month usage.Month, days uint32, uses []int32) {
			if scope.hasSite(site) {
				c.AddMonth(device, site, month, days, uses)
			}
		})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func monthsBetween(from, to usage.Month) int {
	return (to.Year-from.Year)*12 + int(to.Month) - int(from.Month) + 1
}

// Window is the complete months an assessment looks at: the thresholds' Months months ending
// with the last complete month before now.
func (r *Reports) Window() (first, last usage.Month) {
	last = usage.MonthOf(r.now().UTC()).Prev()
	first = last
	for range r.thresholds.Months - 1 {
		first = first.Prev()
	}
	return first, last
}

// Assessment is the verdict on one device kind at one centre, with what it rests on.
type Assessment struct {
	reallocation.Assessment
	// History is the monthly utilisation of the window, oldest first.
	History []float64
	First   usage.Month
	Last    usage.Month
	// In a plan only: Arriving is the devices of the kind that open moves are bringing the
	// centre, taken off its Missing; Leaving the working devices that open moves not yet
	// dispatched are taking away, taken off its Spare.
	Arriving, Leaving int
	// Forecast is, in a plan on BasisForecast, the forecast month whose demand it judged by
	// (nil: no use to forecast from); History then ends with that month's utilisation.
	Forecast *MonthForecast
	// Growth is, in an assessment, the growth of the centre's patients on a plan that asks
	// for this kind, when beyond the thresholds' Growth (nil otherwise).
	Growth *Growth
}

// stocks returns the usage of every (site, kind) in the window and, with used, each device's
// utilisation in its last month (summed over the sites it was at).
func (r *Reports) stocks(ctx context.Context, kind devices.Kind, used bool) ([]reallocation.Usage, map[string]float64, *devices.Directory, error) {
	first, last := r.Window()
	c, err := r.computation(ctx, first, last, Scope{Kind: kind})
	if err != nil {
		return nil, nil, nil, err
	}
	dir, err := r.directory(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := r.registry(ctx, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	sums := newStockSums(last, r.thresholds.Months)
	var lastUsed map[string]float64
	if used {
		lastUsed = make(map[string]float64, len(st.devices))
	}
	if c != nil {
		c.Each(func(f *usage.Figure) {
			sums.add(f)
			if used && f.Month == last {
				lastUsed[f.Device] += f.Utilisation
			}
		})
	}
	current := st.devices
	if kind != "" {
		current = slices.DeleteFunc(slices.Clone(current), func(d devices.Device) bool { return d.Kind != kind })
	}
	return sums.usages(current), lastUsed, dir, nil
}

// Assess judges every device kind (or only kind) at every centre in scope.
func (r *Reports) Assess(ctx context.Context, scope Scope) ([]Assessment, error) {
	us, _, _, err := r.stocks(ctx, scope.Kind, false)
	if err != nil {
		return nil, err
	}
	before, now, err := r.growthCached(ctx)
	if err != nil {
		return nil, err
	}
	first, last := r.Window()
	var out []Assessment
	for _, u := range us {
		if !scope.hasSite(u.Site) {
			continue
		}
		out = append(out, Assessment{Assessment: reallocation.Assess(u, r.thresholds), History: u.History, First: first, Last: last,
			Growth: growthOf(u.Stock, before, now, r.thresholds)})
	}
	slices.SortFunc(out, func(a, b Assessment) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Site, b.Site))
	})
	return out, nil
}

// Plan assesses every centre and proposes the moves of spare devices to short centres; see
// reallocation.Plan. The devices offered by a donor are its working devices of the kind that
// are not lent to a patient and not already in an open move, least used last month first.
// Moves under way count: a short centre is missing fewer by the devices that open moves
// (proposed, approved or in transit) are bringing it, and a spare centre has fewer to give by
// its working devices that open moves are taking (once dispatched, they are in transit and no
// longer working there).
func (r *Reports) Plan(ctx context.Context, kind devices.Kind) (reallocation.Proposal, []Assessment, error) {
	return r.PlanOn(ctx, kind, BasisHistory)
}

// PlanOn is Plan on the demand of basis: last month's use, or the forecast of the month after
// the current one (see onForecast).
func (r *Reports) PlanOn(ctx context.Context, kind devices.Kind, basis Basis) (reallocation.Proposal, []Assessment, error) {
	us, used, dir, err := r.stocks(ctx, kind, true)
	if err != nil {
		return reallocation.Proposal{}, nil, err
	}
	forecasts := make([]*MonthForecast, len(us))
	if basis == BasisForecast {
		if forecasts, err = r.onForecast(ctx, kind, us); err != nil {
			return reallocation.Proposal{}, nil, err
		}
	}
	sites, err := r.store.AllSites(ctx)
	if err != nil {
		return reallocation.Proposal{}, nil, err
	}
	moving := map[string]bool{}
	arriving := map[stockKey]int{}
	if r.moves != nil {
		if moving, err = r.moves.DevicesInOpenMoves(ctx); err != nil {
			return reallocation.Proposal{}, nil, err
		}
		arrivals, err := r.moves.OpenMoveArrivals(ctx)
		if err != nil {
			return reallocation.Proposal{}, nil, err
		}
		for _, a := range arrivals {
			arriving[stockKey{a.Site, a.Kind}] += a.Devices
		}
	}
	_, last := r.Window()
	now := r.now()
	free := map[stockKey][]string{} // devices that may leave, least used first
	leaving := map[stockKey]int{}   // working devices in open moves
	st, err := r.registry(ctx, dir)
	if err != nil {
		return reallocation.Proposal{}, nil, err
	}
	all := st.devices
	lent := st.lentAt(now)
	for i := range all {
		d := &all[i]
		if (kind != "" && d.Kind != kind) || d.Status != devices.Active {
			continue
		}
		k := stockKey{d.SiteID, d.Kind}
		switch {
		case moving[d.ID]:
			leaving[k]++
		case !lent[i]:
			free[k] = append(free[k], d.ID)
		}
	}
	first, _ := r.Window()
	var donors []reallocation.Donor
	var receivers []reallocation.Receiver
	var assessed []Assessment
	for i, u := range us {
		a := reallocation.Assess(u, r.thresholds)
		k := stockKey{u.Site, u.Type}
		x := Assessment{History: u.History, First: first, Last: last, Forecast: forecasts[i]}
		switch a.Status {
		case reallocation.Spare:
			ids := free[k]
			slices.SortFunc(ids, func(a, b string) int { return cmp.Or(cmp.Compare(used[a], used[b]), cmp.Compare(a, b)) })
			// A donor gives no more than it has free devices to give, nor what open moves
			// are taking already.
			x.Leaving = leaving[k]
			a.Spare = max(min(a.Spare-x.Leaving, len(ids)), 0)
			if a.Spare == 0 {
				continue
			}
			d := reallocation.DonorOf(a, ids)
			d.Devices -= x.Leaving // a move's explanation counts from what stays
			donors = append(donors, d)
		case reallocation.Short:
			x.Arriving = arriving[k]
			a.Missing = max(a.Missing-x.Arriving, 0)
			if a.Missing > 0 {
				rc := reallocation.ReceiverOf(a)
				rc.Devices += x.Arriving // and from what will have arrived
				receivers = append(receivers, rc)
			}
		default:
			continue
		}
		x.Assessment = a
		assessed = append(assessed, x)
	}
	centres := make([]reallocation.Centre, len(sites))
	for i, s := range sites {
		centres[i] = reallocation.Centre{ID: s.ID, Lat: s.Lat, Lon: s.Lon}
	}
	p, err := reallocation.Plan(centres, donors, receivers)
	return p, assessed, err
}

// Alternatives lists, nearest first, the other centres with a working device of the same kind
// as the device and spare daily capacity last month, where its booked residents can go.
func (r *Reports) Alternatives(ctx context.Context, deviceID string) ([]reallocation.Alternative, devices.Device, error) {
	dir, err := r.directory(ctx)
	if err != nil {
		return nil, devices.Device{}, err
	}
	d, ok := dir.Device(deviceID)
	if !ok {
		return nil, devices.Device{}, errcode.Errorf(errcode.NotFound, "no device %s", deviceID)
	}
	us, _, _, err := r.stocks(ctx, d.Kind, false)
	if err != nil {
		return nil, *d, err
	}
	sites, err := r.store.AllSites(ctx)
	if err != nil {
		return nil, *d, err
	}
	centres := make([]reallocation.Centre, len(sites))
	for i, s := range sites {
		centres[i] = reallocation.Centre{ID: s.ID, Lat: s.Lat, Lon: s.Lon}
	}
	stocks := make([]reallocation.Stock, len(us))
	for i, u := range us {
		stocks[i] = u.Stock
	}
	alts, err := reallocation.Alternatives(d.SiteID, d.Kind, centres, stocks)
	return alts, *d, err
}
