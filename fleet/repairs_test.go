package fleet

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/usage"
)

var day = 24 * time.Hour

// Five repairs of stations at one centre ending in October, of 1, 2, 3, 4 and 10 days: the
// median is 3 days, the 90th percentile 10 (the empirical one), 20 days out in all; one repair
// ending in November; one device still under repair; and one that went from repair to retired,
// which is no repair.
func TestRepairTurnaround(t *testing.T) {
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var ps []devices.Period
	add := func(id, site string, steps ...any) {
		for i := 0; i < len(steps); i += 2 {
			p := devices.Period{DeviceID: id, SiteID: site, Status: steps[i].(devices.Status), From: steps[i+1].(time.Time)}
			if i+3 < len(steps) {
				p.Until = steps[i+3].(time.Time)
			}
			ps = append(ps, p)
		}
	}
	m, a := devices.Maintenance, devices.Active
	for i, days := range []int{1, 2, 3, 4, 10} {
		start := t0.Add(time.Duration(i) * day)
		add("st-"+string(rune('a'+i)), "s1", a, t0.AddDate(0, -2, 0), m, start, a, start.Add(time.Duration(days)*day))
	}
	add("st-f", "s1", a, t0, m, t0.AddDate(0, 1, 2), a, t0.AddDate(0, 1, 2).Add(36*time.Hour))
	add("st-g", "s1", a, t0, m, t0.AddDate(0, 1, 5))
	add("st-h", "s1", a, t0, m, t0.Add(day), devices.Retired, t0.Add(3*day))
	kind := func(string) devices.Kind { return devices.Station }
	repairs := repairsOf(ps, kind)
	if len(repairs) != 7 {
		t.Fatalf("repairsOf = %d repairs %+v; want 7 (5 in October, 1 in November, 1 open)", len(repairs), repairs)
	}

	got := turnarounds(repairs, usage.Month{Year: 2026, Month: time.October}, usage.Month{Year: 2026, Month: time.November}, Scope{})
	want := []Turnaround{
		{Month: usage.Month{Year: 2026, Month: time.October}, Site: "s1", Kind: devices.Station, Count: 5, Median: 3 * day, P90: 10 * day, DaysOut: 20},
		{Month: usage.Month{Year: 2026, Month: time.November}, Site: "s1", Kind: devices.Station, Count: 1, Median: 36 * time.Hour, P90: 36 * time.Hour, DaysOut: 1.5},
	}
	if !reflect.DeepEqual(got.done, want) {
		t.Errorf("turnarounds =\n%+v\nwant\n%+v", got.done, want)
	}
	if len(got.open) != 1 || got.open[0].Device != "st-g" {
		t.Errorf("open repairs = %+v; want st-g", got.open)
	}
}

// Through the registry: a station put under maintenance and made active again is one repair of
// the month it came back, at its centre; another still under maintenance is open.
func TestRepairsFromTheRegistry(t *testing.T) {
	r, st := newFixture(t)
	ctx := audit.WithActor(context.Background(), "test")
	set := func(id string, status devices.Status) {
		d, err := st.GetDevice(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		d.Status = status
		if err := st.UpdateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	set("st-fine-0", devices.Maintenance)
	time.Sleep(5 * time.Millisecond)
	set("st-fine-0", devices.Active)
	set("st-busy-0", devices.Maintenance)
	m := usage.MonthOf(time.Now().UTC())
	done, open, err := r.Repairs(ctx, m, m, Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].Site != "fine" || done[0].Kind != devices.Station || done[0].Count != 1 || done[0].Median <= 0 {
		t.Errorf("Repairs = %+v; want one repair of a station at fine", done)
	}
	if len(open) != 1 || open[0].Device != "st-busy-0" || !open[0].Until.IsZero() {
		t.Errorf("open repairs = %+v; want st-busy-0", open)
	}
	if done, _, _ := r.Repairs(ctx, m, m, Scope{Sites: []string{"busy"}}); len(done) != 0 {
		t.Errorf("Repairs at busy = %+v; want none ended", done)
	}
}

// faultsOf is a Faults of fixed alerts.
type faultsOf []alerts.Alert

func (f faultsOf) DeviceFaults(_ context.Context, rules []string, ids []string) ([]alerts.Alert, error) {
	var out []alerts.Alert
	for _, a := range f {
		if slices.Contains(rules, a.Rule) && slices.Contains(ids, a.Device) {
			out = append(out, a)
		}
	}
	return out, nil
}

// A repair starts at the device's broken-device fault alert when the alert was raised after the
// device's previous repair and was still open, or resolved within the hour before, when the
// device was put under maintenance; otherwise at maintenance. An offline or battery alert never
// starts one.
func TestRepairStartsAtTheFault(t *testing.T) {
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	m, a := devices.Maintenance, devices.Active
	var ps []devices.Period
	add := func(id string, steps ...any) {
		for i := 0; i < len(steps); i += 2 {
			p := devices.Period{DeviceID: id, SiteID: "s1", Status: steps[i].(devices.Status), From: steps[i+1].(time.Time)}
			if i+3 < len(steps) {
				p.Until = steps[i+3].(time.Time)
			}
			ps = append(ps, p)
		}
	}
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	// a: stuck sensor at 10h, still open at maintenance (24h), back at 48h: 38 hours from the
	// fault; then a second repair 100h-110h, whose only alert is the first, from before the
	// first repair: it starts at maintenance.
	add("a", a, t0, m, h(24), a, h(48), m, h(100), a, h(110))
	// b: repeated errors at 5h resolved at 23h30 (within the hour before maintenance at 24h),
	// and implausible values at 8h: the earliest, 5h.
	add("b", a, t0, m, h(24), a, h(30))
	// c: repeated errors at 5h resolved at 20h, 4 hours before maintenance: not the repair's.
	add("c", a, t0, m, h(24), a, h(30))
	// d: offline at 2h, still open: no broken-device rule.
	add("d", a, t0, m, h(24), a, h(30))
	// e: stuck sensor at 30h, after maintenance at 24h: not the repair's.
	add("e", a, t0, m, h(24), a, h(40))
	// f: repeated errors open since 0h (a loose cuff now and then), maintenance 20 days later:
	// raised more than FaultLead before, not the repair's; g: the same 13 days later is.
	add("f", a, t0, m, h(20*24), a, h(21*24))
	add("g", a, t0, m, h(13*24), a, h(14*24))
	faults := faultsOf{
		{ID: 1, Rule: alerts.RuleStuckSensor, Device: "a", FirstSeen: h(10)},
		{ID: 2, Rule: alerts.RuleRepeatedErrors, Device: "b", FirstSeen: h(5), ResolvedAt: h(23).Add(30 * time.Minute)},
		{ID: 3, Rule: alerts.RuleImplausibleValues, Device: "b", FirstSeen: h(8)},
		{ID: 4, Rule: alerts.RuleRepeatedErrors, Device: "c", FirstSeen: h(5), ResolvedAt: h(20)},
		{ID: 5, Rule: alerts.RuleDeviceOffline, Device: "d", FirstSeen: h(2)},
		{ID: 6, Rule: alerts.RuleStuckSensor, Device: "e", FirstSeen: h(30)},
		{ID: 7, Rule: alerts.RuleRepeatedErrors, Device: "f", FirstSeen: h(0)},
		{ID: 8, Rule: alerts.RuleRepeatedErrors, Device: "g", FirstSeen: h(0)},
	}
	repairs := repairsOf(ps, func(string) devices.Kind { return devices.CGM })
	got, _ := faults.DeviceFaults(context.Background(), BrokenRules, []string{"a", "b", "c", "d", "e", "f", "g"})
	startAtFaults(repairs, got)
	type start struct {
		device string
		from   time.Time
		alert  int64
		by     string
	}
	var starts []start
	for _, x := range repairs {
		starts = append(starts, start{x.Device, x.From, x.Alert, x.StartedBy()})
	}
	want := []start{
		{"a", h(10), 1, StartedByFault}, {"a", h(100), 0, StartedByMaintenance},
		{"b", h(5), 2, StartedByFault}, {"c", h(24), 0, StartedByMaintenance},
		{"d", h(24), 0, StartedByMaintenance}, {"e", h(24), 0, StartedByMaintenance},
		{"f", h(20 * 24), 0, StartedByMaintenance}, {"g", h(0), 8, StartedByFault},
	}
	if !reflect.DeepEqual(starts, want) {
		t.Errorf("starts =\n%+v\nwant\n%+v", starts, want)
	}
	g := turnarounds(repairs, usage.MonthOf(t0), usage.MonthOf(t0), Scope{})
	if len(g.done) != 1 || g.done[0].Count != 8 || g.done[0].FromFault != 3 {
		t.Errorf("turnarounds = %+v; want 8 repairs, 3 from a fault", g.done)
	}
}

// Residents are redirected while the centre has no other working device of the kind. A centre
// with two stations, x out from day 0 to day 4 and y from day 2 to day 6: each repair is
// redirected for days 2 to 4 only, and the month's group for those 2 days once. At a second
// centre, one station out from day 0 to day 3 (from a fault 12 hours before), beside a CGM,
// another kind, which does not count: the whole 3.5 days are redirected. A home cuff out days 0-2 at a third
// centre, whose other cuff is lent from day 1: redirected from day 1 to 2. An open repair at a
// fourth centre with no other device, from day 10 to now (day 12): 2 days.
func TestRedirectedHours(t *testing.T) {
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	d := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(day))) }
	m, a := devices.Maintenance, devices.Active
	var ps []devices.Period
	add := func(id, site string, steps ...any) {
		for i := 0; i < len(steps); i += 2 {
			p := devices.Period{DeviceID: id, SiteID: site, Status: steps[i].(devices.Status), From: steps[i+1].(time.Time)}
			if i+3 < len(steps) {
				p.Until = steps[i+3].(time.Time)
			}
			ps = append(ps, p)
		}
	}
	since := t0.AddDate(0, -1, 0)
	add("cuff-1", "s3", a, since, m, d(0), a, d(2))
	add("cuff-2", "s3", a, since)
	add("cgm-9", "s2", a, since)
	add("st-o", "s4", a, since, m, d(10))
	add("st-x", "s1", a, since, m, d(0), a, d(4))
	add("st-y", "s1", a, since, m, d(2), a, d(6))
	add("st-z", "s2", a, since, m, d(0), a, d(3))
	kinds := map[string]devices.Kind{"cuff-1": devices.BPCuff, "cuff-2": devices.BPCuff, "cgm-9": devices.CGM}
	kindOf := func(id string) devices.Kind {
		if k, ok := kinds[id]; ok {
			return k
		}
		return devices.Station
	}
	loans := []devices.Assignment{{DeviceID: "cuff-2", PatientID: "p1", From: d(1)}}
	repairs := repairsOf(ps, kindOf)
	startAtFaults(repairs, []alerts.Alert{{ID: 7, Rule: alerts.RuleImplausibleValues, Device: "st-z", FirstSeen: d(-0.5)}})
	redirect(repairs, workingAt(repairs, ps, loans, kindOf), d(12))
	got := map[string]time.Duration{}
	for _, x := range repairs {
		got[x.Device] = x.Redirected
	}
	want := map[string]time.Duration{"cuff-1": day, "st-o": 2 * day, "st-x": 2 * day, "st-y": 2 * day, "st-z": 3*day + 12*time.Hour}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("redirected = %v; want %v", got, want)
	}
	g := turnarounds(repairs, usage.MonthOf(t0), usage.MonthOf(t0), Scope{})
	red := map[string]time.Duration{}
	for _, x := range g.done {
		red[x.Site] = x.Redirected
	}
	if want := map[string]time.Duration{"s1": 2 * day, "s2": 3*day + 12*time.Hour, "s3": day}; !reflect.DeepEqual(red, want) {
		t.Errorf("redirected per centre = %v; want %v", red, want)
	}
	if len(g.open) != 1 || g.open[0].Device != "st-o" || g.open[0].Redirected != 2*day {
		t.Errorf("open = %+v; want st-o redirected 2 days so far", g.open)
	}
}
