package fleet

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/usage"
)

// growingFixture: two centres of stations rated 10 uses a day, used from 1 August 2026 to the
// day before now (15 November, 08:00 in Shanghai):
//
//	calm: 3 stations, 2 uses a day each, every day: 20%, spare 2 (6 a day needs 1 at 75%)
//	grow: 1 station whose uses rise by 0.08 a day, from 2 on 1 August to about 10.4 on
//	      14 November: October is about 81% (balanced), but December, at this rate, about 130%
func growingFixture(t *testing.T) *Reports {
	t.Helper()
	ctx := context.Background()
	st := openSQLite(t)
	admin := audit.WithActor(ctx, "test")
	if err := st.CreateSites(admin, []devices.Site{
		{ID: "calm", Name: "Calm CHC", Lat: 31.20, Lon: 121.40, TimeZone: shanghi},
		{ID: "grow", Name: "Growing CHC", Lat: 31.22, Lon: 121.42, TimeZone: shanghi},
	}); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation(shanghi)
	var ds []devices.Device
	var uses []usage.Use
	add := func(id, site string, perDay func(day int) int) {
		ds = append(ds, devices.Device{ID: id, Kind: devices.Station, SiteID: site, Mode: devices.StationMode,
			Status: devices.Active, RatedUsesPerDay: 10, InService: since, SecretHash: "$7$101$c2FsdA==$a2V5"})
		i := 0
		for d := time.Date(2026, 8, 1, 9, 0, 0, 0, loc); d.Before(time.Date(2026, 11, 15, 0, 0, 0, 0, loc)); d = d.AddDate(0, 0, 1) {
			for u := range perDay(i) {
				at := d.Add(time.Duration(u) * 20 * time.Minute)
				uses = append(uses, usage.Use{Device: id, Site: site, At: at, Day: usage.DayOf(at, loc)})
			}
			i++
		}
	}
	for i := range 3 {
		add(fmt.Sprintf("st-calm-%d", i), "calm", func(int) int { return 2 })
	}
	add("st-grow-0", "grow", func(day int) int { return int(math.Round(2 + 0.08*float64(day))) })
	if err := st.CreateDevices(admin, ds); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordUses(ctx, uses); err != nil {
		t.Fatal(err)
	}
	r, err := New(Deps{Store: st, Moves: st, Directory: st.LoadDirectory, Now: func() time.Time { return now }},
		reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDemandHistoryAndForecast(t *testing.T) {
	r := growingFixture(t)
	ctx := context.Background()
	hist, err := r.DemandHistory(ctx, Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 {
		t.Fatalf("DemandHistory = %d series; want 2", len(hist))
	}
	calm, grow := hist[0], hist[1]
	// 1 August to 14 November: 106 days.
	if calm.Site != "calm" || calm.First != "2026-08-01" || calm.Last != "2026-11-14" || len(calm.Daily) != 106 ||
		calm.Daily[0] != 6 || calm.Daily[105] != 6 {
		t.Errorf("calm = %s %s..%s, %d days, first %v last %v; want 106 days of 6 uses", calm.Site, calm.First, calm.Last,
			len(calm.Daily), calm.Daily[0], calm.Daily[len(calm.Daily)-1])
	}
	if grow.Daily[0] != 2 || grow.Daily[105] != 10 {
		t.Errorf("grow runs %v..%v; want 2..10", grow.Daily[0], grow.Daily[105])
	}

	fs, err := r.Forecast(ctx, Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || len(fs[0].Months) != ForecastMonths || fs[0].Months[0].Month.String() != "2026-12" {
		t.Fatalf("Forecast = %+v; want 2 centres, each December to February", fs)
	}
	// A flat series is forecast flat, exactly.
	if p := fs[0].Months[0]; math.Abs(p.Mean-6) > 1e-6 || math.Abs(p.Hi95-6) > 1e-3 {
		t.Errorf("calm in December = %+v (%s); want 6 uses a day", p, fs[0].Model)
	}
	// The growing centre is forecast to keep growing: about 13 uses a day in December (the
	// line gives 12.96, mid-December being day 137; a damped trend a little less), more in
	// January.
	g := fs[1]
	if d, j := g.Months[0], g.Months[1]; d.Mean < 12 || d.Mean > 14 || !(j.Mean > d.Mean) || !(d.Lo80 < d.Mean && d.Mean < d.Hi80) {
		t.Errorf("grow: December %+v, January %+v (%s); want about 12 in December, rising, inside its interval", d, j, g.Model)
	}
	// A fleet manager's scope keeps only their sites.
	if fs, _ := r.Forecast(ctx, Scope{Sites: []string{"grow"}}); len(fs) != 1 || fs[0].Site != "grow" {
		t.Errorf("Forecast(grow) = %+v; want grow alone", fs)
	}
}

// Planned on last month's use, the growing centre is balanced and nothing moves; planned on
// December's forecast it is short by one station, which comes from the calm centre.
func TestPlanOnForecast(t *testing.T) {
	r := growingFixture(t)
	ctx := context.Background()
	p, _, err := r.PlanOn(ctx, devices.Station, BasisHistory)
	if err != nil {
		t.Fatal(err)
	}
	if p.Shortage != 0 || len(p.Moves) != 0 {
		t.Errorf("plan on history = %+v; want no shortage and no move", p)
	}
	p, as, err := r.PlanOn(ctx, devices.Station, BasisForecast)
	if err != nil {
		t.Fatal(err)
	}
	if p.Shortage != 1 || p.Moved != 1 || len(p.Moves) != 1 || p.Moves[0].From != "calm" || p.Moves[0].To != "grow" {
		t.Errorf("plan on forecast = %+v; want one station from calm to grow", p)
	}
	for _, a := range as {
		if a.Forecast == nil || a.Forecast.Month.String() != "2026-12" || len(a.History) != 3 || a.Demand != a.Forecast.Mean {
			t.Errorf("%s: forecast %+v, history %v, demand %v; want December's forecast as the demand and the last month", a.Site, a.Forecast, a.History, a.Demand)
		}
		if a.Site == "grow" && (a.Status != reallocation.Short || a.History[2] < 1.1) {
			t.Errorf("grow on forecast = %v with history %v; want short, above 110%% in December", a.Status, a.History)
		}
	}
}
