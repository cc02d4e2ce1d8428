package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/simulators"
	"github.com/vitalwatch/vitalwatch/store"
	deviceusage "github.com/vitalwatch/vitalwatch/usage"
)

// The demo history's repairs, as `make run` loads them (maintenance.csv of vitalsim's export,
// imported as the devices' past periods): the repair turnaround gives each month, centre and
// type the repairs the scenario made, with their durations, median and 90th percentile; and the
// utilisation of the repaired devices leaves out the days they were away, when they had no use.
func TestRepairsDemoHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo's 130 days of history")
	}
	before := time.Now()
	dataDir := demoStore(t)
	end := time.Now()
	start := simulators.HistoryStart(end, 130*24*time.Hour)
	if !start.Equal(simulators.HistoryStart(before, 130*24*time.Hour)) {
		t.Skip("the history's first day changed while it was loaded (midnight in Chengdu)")
	}
	f := simulators.NewScenarioFleet(60, 1, simulators.DefaultMix(), simulators.Reallocation())
	made := f.Repairs(start, end)

	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reports, err := fleet.New(fleet.Deps{Store: st, Moves: st, Directory: st.LoadDirectory}, reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}

	// What the turnaround should be: the scenario's repairs grouped by the month (UTC) they
	// ended, centre and type.
	type key struct {
		month deviceusage.Month
		site  string
		kind  devices.Kind
	}
	want := map[key][]float64{} // hours, sorted
	for _, r := range made {
		k := key{deviceusage.MonthOf(r.Until.UTC()), r.Site, r.Kind.RegistryKind()}
		want[k] = append(want[k], r.Duration().Hours())
	}
	first, last := deviceusage.MonthOf(start.UTC()), deviceusage.MonthOf(end.UTC())
	got, open, err := reports.Repairs(ctx, first, last, fleet.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 0 {
		t.Errorf("open repairs %+v; want none: every repair of the history ended", open)
	}
	hours := func(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }
	near := func(a, b time.Duration) bool { return (a - b).Abs() < time.Second }
	n := 0
	for _, g := range got {
		k := key{g.Month, g.Site, g.Kind}
		hs := want[k]
		delete(want, k)
		slices.Sort(hs)
		var sum float64
		for _, h := range hs {
			sum += h
		}
		n += g.Count
		t.Logf("%s %s %s: %d repairs, median %v, p90 %v, %.1f device-days out", g.Month, g.Site, g.Kind, g.Count,
			g.Median.Round(time.Minute), g.P90.Round(time.Minute), g.DaysOut)
		if len(hs) == 0 || g.Count != len(hs) || !near(g.Median, hours(stat.Quantile(0.5, stat.Empirical, hs, nil))) ||
			!near(g.P90, hours(stat.Quantile(0.9, stat.Empirical, hs, nil))) || fmt.Sprintf("%.3f", g.DaysOut) != fmt.Sprintf("%.3f", sum/24) {
			t.Errorf("%s %s %s: %d repairs, median %v, p90 %v, %.3f days out; want the scenario's %d of %v hours",
				g.Month, g.Site, g.Kind, g.Count, g.Median, g.P90, g.DaysOut, len(hs), hs)
		}
	}
	for k, hs := range want {
		t.Errorf("%s %s %s: no turnaround; want the scenario's %d repairs of %v hours", k.month, k.site, k.kind, len(hs), hs)
	}
	if n != len(made) || n < 15 {
		t.Errorf("%d repairs in the turnaround; want the scenario's %d, at least 15", n, len(made))
	}

	// The days a device was wholly away are not in service and had no use; the days it failed
	// and came back are in service. Its monthly figure counts only the days in service.
	zone, _ := time.LoadLocation("Asia/Shanghai")
	today := deviceusage.MonthOf(end.In(zone))
	daysOf, figuresOf := map[deviceusage.Month][]fleet.DeviceDays{}, map[deviceusage.Month][]deviceusage.Figure{}
	for _, r := range made {
		out := map[deviceusage.Day]bool{}
		for d := midnightIn(r.From, zone).AddDate(0, 0, 1); d.Before(midnightIn(r.Until, zone)); d = d.AddDate(0, 0, 1) {
			out[deviceusage.DayOf(d, zone)] = true
		}
		edges := map[deviceusage.Day]bool{deviceusage.DayOf(r.From, zone): true, deviceusage.DayOf(r.Until, zone): true}
		for m := deviceusage.MonthOf(r.From.In(zone)); !deviceusage.MonthOf(r.Until.In(zone)).Before(m); m = m.Next() {
			days, ok := daysOf[m]
			if !ok {
				if days, err = reports.Days(ctx, m, fleet.Scope{}); err != nil {
					t.Fatal(err)
				}
				daysOf[m] = days
			}
			i := slices.IndexFunc(days, func(d fleet.DeviceDays) bool { return d.Device == r.Device && d.Site == r.Site })
			if i < 0 {
				t.Fatalf("%s: not in the days of %s at %s", r.Device, m, r.Site)
			}
			inService := 0
			for _, d := range days[i].Days {
				switch {
				case out[d.Day] && (d.InService || d.Uses > 0):
					t.Errorf("%s on %s, away for repair: in service %v with %d uses; want neither", r.Device, d.Day, d.InService, d.Uses)
				case edges[d.Day] && !d.InService:
					t.Errorf("%s on %s, the day it failed or came back: not in service; want it counted", r.Device, d.Day)
				}
				if d.InService {
					inService++
				}
			}
			if !m.Before(today) {
				continue // the current month counts up to now
			}
			figs, ok := figuresOf[m]
			if !ok {
				if figs, err = reports.Utilisation(ctx, m, m, deviceusage.ByDevice, fleet.Scope{}); err != nil {
					t.Fatal(err)
				}
				figuresOf[m] = figs
			}
			j := slices.IndexFunc(figs, func(x deviceusage.Figure) bool { return x.Device == r.Device && x.Site == r.Site })
			if j < 0 {
				t.Fatalf("%s: no figure in %s at %s", r.Device, m, r.Site)
			}
			if figs[j].DaysInService != inService || inService > m.Days()-countIn(out, m) {
				t.Errorf("%s in %s: %d days in service; want %d, its %d days away left out", r.Device, m, figs[j].DaysInService, inService, countIn(out, m))
			}
		}
	}
}

func midnightIn(t time.Time, zone *time.Location) time.Time {
	l := t.In(zone)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, zone)
}

// countIn counts the days of m in days.
func countIn(days map[deviceusage.Day]bool, m deviceusage.Month) int {
	n := 0
	for d := range days {
		if deviceusage.MonthOf(d.Start(time.UTC)) == m {
			n++
		}
	}
	return n
}
