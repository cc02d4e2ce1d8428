package fleet

import (
	"context"
	"reflect"
	"testing"
	"time"

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
