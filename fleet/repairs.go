package fleet

import (
	"cmp"
	"context"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/usage"
)

// Faults gives the device-fault alerts of some devices: the alerts of the rules given, raised
// for any of the devices, whatever their state, with at least their id, rule, device, first
// seen and resolution time.
type Faults interface {
	DeviceFaults(ctx context.Context, rules []string, deviceIDs []string) ([]alerts.Alert, error)
}

// BrokenRules are the device-fault rules that say the device itself is broken, so that a repair
// that follows one starts at its fault: repeated error flags (failed measurements, a device
// that reports a malfunction), a stuck sensor, and repeated implausible values. The other fault
// rules do not: a device offline, with a low battery, due for calibration or with a clock that is
// off is not broken (it needs a network, a charge, a calibration or its clock set), and a call
// for help with no patient is no fault of the device.
var BrokenRules = []string{alerts.RuleRepeatedErrors, alerts.RuleStuckSensor, alerts.RuleImplausibleValues}

// ResolvedByMaintenance is how long before a device was put under maintenance a fault alert may
// have been resolved and still have started its repair: the person who takes the device in may
// resolve the alert first. A fault resolved earlier had cleared by itself.
const ResolvedByMaintenance = time.Hour

// FaultLead is how long before maintenance a fault alert may have been raised and still have
// started the repair. An alert is one per rule and device while open, so a device whose
// measurements fail now and then (a loose cuff on a busy station) can hold one repeated-errors
// alert open for months; a breakdown in that time updates the old alert rather than raising a
// new one. A repair taken to start at such an alert's first seen would count the months too.
// Fourteen days leaves room for a device that waits two weeks to be taken in, which the
// turnaround is there to show.
const FaultLead = 14 * 24 * time.Hour

// How a repair started.
const (
	StartedByFault       = "fault_alert" // at the first seen of a fault alert of BrokenRules
	StartedByMaintenance = "maintenance" // when the device was put under maintenance
)

// Repair is one device's time out of service for repair: from its fault, or when it was put
// under maintenance, to when it was active again (Until zero: not yet back).
type Repair struct {
	Device string
	Site   string // where it was under repair
	Kind   devices.Kind
	// From is when the repair started: the first seen of Alert, or Maintenance.
	From  time.Time
	Until time.Time
	// Maintenance is when the device was put under maintenance.
	Maintenance time.Time
	// Alert is the fault alert the repair started at; 0 when it started at Maintenance.
	Alert int64
	// Redirected is the time from From to Until (or now, while open) when the centre had no
	// other working device of the kind (active there, not lent): its residents went elsewhere.
	Redirected time.Duration

	back       time.Time // when the device came back from its previous repair; zero: none
	redirected []span    // the spans of Redirected
}

// StartedBy says how the repair started: StartedByFault or StartedByMaintenance.
func (x Repair) StartedBy() string {
	if x.Alert != 0 {
		return StartedByFault
	}
	return StartedByMaintenance
}

// repairsOf finds the repairs in the devices' periods (by device and start, as the store gives
// them): a run of maintenance periods, at any site, that ends in an active one. A device that
// goes from maintenance to retired or in transit was not returned to service there, and is not
// a repair; one still under maintenance is an open repair. The repairs start at maintenance.
func repairsOf(periods []devices.Period, kindOf func(id string) devices.Kind) []Repair {
	var out []Repair
	var open *Repair
	var back time.Time
	for i, p := range periods {
		if i > 0 && periods[i-1].DeviceID != p.DeviceID {
			if open != nil {
				out = append(out, *open) // the device's last period: still under repair
			}
			open, back = nil, time.Time{}
		}
		switch {
		case p.Status == devices.Maintenance && open == nil:
			open = &Repair{Device: p.DeviceID, Site: p.SiteID, Kind: kindOf(p.DeviceID), From: p.From, Maintenance: p.From, back: back}
		case p.Status == devices.Maintenance:
		case p.Status == devices.Active && open != nil:
			open.Until = p.From
			back = p.From
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

// startAtFaults moves the start of each repair to the first seen of its device's fault alert
// (of BrokenRules) that was raised after the device came back from its previous repair, at or
// before it was put under maintenance and at most FaultLead before, and was still open then (or
// resolved at most ResolvedByMaintenance before): the earliest such alert.
func startAtFaults(repairs []Repair, faults []alerts.Alert) {
	byDevice := map[string][]alerts.Alert{}
	for _, a := range faults {
		if slices.Contains(BrokenRules, a.Rule) {
			byDevice[a.Device] = append(byDevice[a.Device], a)
		}
	}
	for i := range repairs {
		x := &repairs[i]
		for _, a := range byDevice[x.Device] {
			switch {
			case a.FirstSeen.After(x.Maintenance), a.FirstSeen.Before(x.back),
				a.FirstSeen.Before(x.Maintenance.Add(-FaultLead)),
				!a.ResolvedAt.IsZero() && a.ResolvedAt.Before(x.Maintenance.Add(-ResolvedByMaintenance)):
				continue
			}
			if x.Alert == 0 || a.FirstSeen.Before(x.From) || a.FirstSeen.Equal(x.From) && a.ID < x.Alert {
				x.From, x.Alert = a.FirstSeen, a.ID
			}
		}
	}
}

// span is [from, until).
type span struct{ from, until time.Time }

// working is one device's working spans at a site: active there and not lent.
type working struct {
	device string
	spans  []span
}

// workingAt gives the devices' working spans by site and kind, of the sites and kinds of the
// repairs given: the spans of their active periods at each site, less their loans (a home
// device lent to a patient is not free for another). Open ends are endOfTime.
func workingAt(repairs []Repair, periods []devices.Period, loans []devices.Assignment, kindOf func(id string) devices.Kind) map[siteKind][]working {
	need := map[siteKind]bool{}
	for _, x := range repairs {
		need[siteKind{x.Site, x.Kind}] = true
	}
	lent := map[string][]span{}
	for _, l := range loans {
		u := l.Until
		if u.IsZero() {
			u = endOfTime
		}
		lent[l.DeviceID] = append(lent[l.DeviceID], span{l.From, u})
	}
	out := map[siteKind][]working{}
	for _, p := range periods {
		if p.Status != devices.Active {
			continue
		}
		u := p.Until
		if u.IsZero() {
			u = endOfTime
		}
		k := siteKind{p.SiteID, kindOf(p.DeviceID)}
		if !need[k] {
			continue
		}
		spans := subtract([]span{{p.From, u}}, lent[p.DeviceID])
		if len(spans) == 0 {
			continue
		}
		ws := out[k]
		if n := len(ws); n > 0 && ws[n-1].device == p.DeviceID {
			ws[n-1].spans = append(ws[n-1].spans, spans...)
		} else {
			ws = append(ws, working{p.DeviceID, spans})
		}
		out[k] = ws
	}
	return out
}

// siteKind is a device kind at a site.
type siteKind struct {
	site string
	kind devices.Kind
}

// subtract returns the parts of the spans in from (sorted, apart) not in any of cut.
func subtract(from, cut []span) []span {
	cut = merge(cut)
	var out []span
	for _, s := range from {
		at := s.from
		for _, c := range cut {
			if !c.until.After(at) || !c.from.Before(s.until) {
				continue
			}
			if c.from.After(at) {
				out = append(out, span{at, c.from})
			}
			at = c.until
			if !at.Before(s.until) {
				break
			}
		}
		if at.Before(s.until) {
			out = append(out, span{at, s.until})
		}
	}
	return out
}

// merge sorts the spans and joins those that overlap or touch.
func merge(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	s := slices.Clone(spans)
	slices.SortFunc(s, func(a, b span) int { return a.from.Compare(b.from) })
	out := s[:1]
	for _, x := range s[1:] {
		last := &out[len(out)-1]
		if x.from.After(last.until) {
			out = append(out, x)
		} else if x.until.After(last.until) {
			last.until = x.until
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// total is the spans' length (they do not overlap).
func total(spans []span) time.Duration {
	var d time.Duration
	for _, s := range spans {
		d += s.until.Sub(s.from)
	}
	return d
}

// redirect sets each repair's redirected spans: the parts of [From, Until or now) when no other
// device of its kind was working at its site.
func redirect(repairs []Repair, work map[siteKind][]working, now time.Time) {
	for i := range repairs {
		x := &repairs[i]
		end := x.Until
		if end.IsZero() {
			end = now
		}
		if !end.After(x.From) {
			x.redirected, x.Redirected = nil, 0
			continue
		}
		var others []span
		for _, w := range work[siteKind{x.Site, x.Kind}] {
			if w.device == x.Device {
				continue
			}
			for _, s := range w.spans {
				if s.from.Before(end) && s.until.After(x.From) {
					others = append(others, span{later(s.from, x.From), earlier(s.until, end)})
				}
			}
		}
		x.redirected = subtract([]span{{x.From, end}}, others)
		x.Redirected = total(x.redirected)
	}
}

// Turnaround is the repairs of one kind at one centre that ended in one month (UTC): how many,
// how many started at a fault alert, the median and 90th percentile of their durations, the
// device-days they kept the devices out of service, and the time the centre's residents were
// sent elsewhere during them.
type Turnaround struct {
	Month     usage.Month
	Site      string
	Kind      devices.Kind
	Count     int
	FromFault int // of Count, the repairs that started at a fault alert
	Median    time.Duration
	P90       time.Duration
	// DaysOut is the repairs' total duration in days.
	DaysOut float64
	// Redirected is the time during the repairs when the centre had no working device of the
	// kind but the one under repair: the union of the repairs' redirected spans, so two repairs
	// out at once count their common time once.
	Redirected time.Duration
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
	repairs, err := r.repairs(ctx, func(x Repair) bool {
		if !scope.hasSite(x.Site) || scope.Kind != "" && x.Kind != scope.Kind {
			return false
		}
		if x.Until.IsZero() {
			return true
		}
		m := usage.MonthOf(x.Until.UTC())
		return !m.Before(from) && !to.Before(m)
	})
	if err != nil {
		return nil, nil, err
	}
	t := turnarounds(repairs, from, to, scope)
	return t.done, t.open, nil
}

// DeviceRepairs returns the device's repairs, at any site, newest first (an open one first).
func (r *Reports) DeviceRepairs(ctx context.Context, id string) ([]Repair, error) {
	repairs, err := r.repairs(ctx, func(x Repair) bool { return x.Device == id })
	if err != nil {
		return nil, err
	}
	slices.Reverse(repairs) // repairsOf gives a device's repairs oldest first
	return repairs, nil
}

// repairs finds every repair in the registry's periods, keeps those keep says, and sets their
// start (at a fault alert, when Faults are given) and their redirected time.
func (r *Reports) repairs(ctx context.Context, keep func(Repair) bool) ([]Repair, error) {
	dir, err := r.directory(ctx)
	if err != nil {
		return nil, err
	}
	periods, err := r.allPeriods(ctx, dir)
	if err != nil {
		return nil, err
	}
	kindOf := func(id string) devices.Kind {
		if d, ok := dir.Device(id); ok {
			return d.Kind
		}
		return ""
	}
	repairs := slices.DeleteFunc(repairsOf(periods, kindOf), func(x Repair) bool { return !keep(x) })
	if len(repairs) == 0 {
		return nil, nil
	}
	if r.faults != nil {
		ids := make([]string, 0, len(repairs))
		for _, x := range repairs {
			ids = append(ids, x.Device)
		}
		slices.Sort(ids)
		faults, err := r.faults.DeviceFaults(ctx, BrokenRules, slices.Compact(ids))
		if err != nil {
			return nil, err
		}
		startAtFaults(repairs, faults)
	}
	_, loans := r.allDevices(dir)
	redirect(repairs, workingAt(repairs, periods, loans, kindOf), r.now())
	return repairs, nil
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
	type group struct {
		hours      []float64 // durations
		fromFault  int
		redirected []span
	}
	groups := map[key]*group{}
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
		gr := groups[k]
		if gr == nil {
			gr = &group{}
			groups[k] = gr
		}
		gr.hours = append(gr.hours, x.Until.Sub(x.From).Hours())
		if x.Alert != 0 {
			gr.fromFault++
		}
		gr.redirected = append(gr.redirected, x.redirected...)
	}
	for k, gr := range groups {
		hours := gr.hours
		slices.Sort(hours)
		var sum float64
		for _, h := range hours {
			sum += h
		}
		hour := func(h float64) time.Duration { return time.Duration(h * float64(time.Hour)).Round(time.Millisecond) }
		g.done = append(g.done, Turnaround{Month: k.month, Site: k.site, Kind: k.kind, Count: len(hours), FromFault: gr.fromFault,
			Median: hour(stat.Quantile(0.5, stat.Empirical, hours, nil)), P90: hour(stat.Quantile(0.9, stat.Empirical, hours, nil)),
			DaysOut: sum / 24, Redirected: total(merge(gr.redirected))})
	}
	slices.SortFunc(g.done, func(a, b Turnaround) int {
		return cmp.Or(cmp.Compare(a.Month.String(), b.Month.String()), cmp.Compare(a.Site, b.Site), cmp.Compare(a.Kind, b.Kind))
	})
	slices.SortFunc(g.open, func(a, b Repair) int { return cmp.Or(a.From.Compare(b.From), cmp.Compare(a.Device, b.Device)) })
	return g
}
