package fleet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The reports read the store's monthly aggregate; computed from the day counts instead, as they
// were before it, every figure must be the same. A random fleet: centres in three time zones,
// station and home devices entering service on any day, repaired or retired now, lent and
// returned; uses on days in service and not, at the device's centre and at others, rebuilt,
// recorded and folded, and recorded but not folded yet.

func TestReportsFromMonthsSQLite(t *testing.T) {
	testReportsFromMonths(t, filepath.Join(t.TempDir(), "vw.db"))
}

func TestReportsFromMonthsPostgres(t *testing.T) {
	pg := testsrv.StartPostgres(t)
	testReportsFromMonths(t, pg.NewDatabase(t))
}

func testReportsFromMonths(t *testing.T, dsn string) {
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	admin := audit.WithActor(ctx, "test")
	rng := rand.New(rand.NewPCG(5, uint64(time.Now().UnixNano())))
	// The months: the current one (counting up to now) and the five before.
	clock := time.Now().UTC()
	last := usage.MonthOf(clock)
	first := last
	for range 5 {
		first = first.Prev()
	}
	zones := []string{"Asia/Shanghai", "America/Los_Angeles", ""}
	var ss []devices.Site
	for i := range 6 {
		ss = append(ss, devices.Site{ID: fmt.Sprintf("c%d", i), Name: "Centre", District: fmt.Sprintf("d%d", i%2),
			Lat: 31 + float64(i)/10, Lon: 121, TimeZone: zones[i%len(zones)]})
	}
	if err := st.CreateSites(admin, ss); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTeams(admin, []devices.Team{{ID: "t", SiteID: "c0", Name: "T"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(first.Year, first.Month, 1, 0, 0, 0, 0, time.UTC)
	span := clock.Sub(start)
	at := func() time.Time {
		return start.Add(-20*24*time.Hour + time.Duration(rng.Int64N(int64(span+20*24*time.Hour))))
	}
	var ds []devices.Device
	var ps []devices.Patient
	kinds := []devices.Kind{devices.BPCuff, devices.Scale, devices.GlucoseMeter}
	for i := range 40 {
		d := devices.Device{ID: fmt.Sprintf("dev%02d", i), Kind: kinds[i%len(kinds)], SiteID: ss[rng.IntN(len(ss))].ID,
			Mode: devices.StationMode, RatedUsesPerDay: 5 + rng.IntN(20), Status: devices.Active, InService: at(),
			SecretHash: "$7$101$c2FsdA==$a2V5"}
		if i%2 == 1 {
			d.Mode, d.RatedUsesPerDay = devices.Home, 0
			ps = append(ps, devices.Patient{ID: "p" + d.ID, TeamID: "t"})
		}
		ds = append(ds, d)
	}
	if err := st.CreatePatients(admin, ps); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateDevices(admin, ds); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		switch {
		case d.Mode == devices.Home && rng.IntN(4) > 0:
			from := d.InService.Add(time.Duration(rng.IntN(30*24)) * time.Hour)
			if err := st.AssignDevice(admin, d.ID, "p"+d.ID, from); err != nil {
				t.Fatal(err)
			}
			if back := from.Add(time.Duration(rng.IntN(60*24)) * time.Hour); back.Before(clock) && rng.IntN(2) == 0 {
				if err := st.ReturnDevice(admin, d.ID, back); err != nil {
					t.Fatal(err)
				}
			}
		case d.Mode == devices.StationMode && rng.IntN(4) == 0:
			d.Status = []devices.Status{devices.Maintenance, devices.Retired}[rng.IntN(2)]
			if err := st.UpdateDevice(admin, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Uses: the older months rebuilt, the rest recorded; some not folded.
	var counts []usage.DayCount
	var uses []usage.Use
	rebuilt := first.Next().Next()
	for _, d := range ds {
		for day := start; day.Before(clock); day = day.Add(24 * time.Hour) {
			if rng.IntN(3) == 0 {
				continue
			}
			site := d.SiteID
			if rng.IntN(15) == 0 {
				site = ss[rng.IntN(len(ss))].ID
			}
			n := 1 + rng.IntN(8)
			dd := usage.Day(day.Format(usage.DayLayout))
			if usage.MonthOf(day).Before(rebuilt.Next()) {
				counts = append(counts, usage.DayCount{Device: d.ID, Site: site, Day: dd, Uses: n})
				continue
			}
			for k := range n {
				uses = append(uses, usage.Use{Device: d.ID, Site: site, At: day.Add(time.Duration(k) * time.Minute), Day: dd})
			}
		}
	}
	if err := st.ReplaceUsage(ctx, first.FirstDay(), rebuilt.LastDay(), counts, nil); err != nil {
		t.Fatal(err)
	}
	half := len(uses) / 2
	if _, err := st.RecordUses(ctx, uses[:half]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FoldUses(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordUses(ctx, uses[half:]); err != nil {
		t.Fatal(err)
	}

	r, err := New(Deps{Store: st, Moves: st, Directory: st.LoadDirectory, Now: func() time.Time { return clock }},
		reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []Scope{{}, {Sites: []string{"c1", "c4"}}, {Kind: devices.Scale}} {
		c, err := r.computation(ctx, first, last, scope)
		if err != nil {
			t.Fatal(err)
		}
		got := c.Figures()
		// The same input, with the day counts instead of the aggregate.
		dayIn, err := r.input(ctx, first, last, scope)
		if err != nil {
			t.Fatal(err)
		}
		all, err := st.DayCounts(ctx, usage.Query{From: first.FirstDay(), To: last.LastDay()})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			if scope.hasSite(c.Site) {
				dayIn.Counts = append(dayIn.Counts, c)
			}
		}
		want := usage.Compute(dayIn, first, last)
		if len(want) < 50 || !slices.ContainsFunc(want, func(f usage.Figure) bool { return f.Uncounted > 0 }) {
			t.Fatalf("scope %+v: %d figures, none with uses left uncounted: the fixture tests too little", scope, len(want))
		}
		if monthly, err := st.MonthUses(ctx, usage.MonthQuery{From: first, To: last, Sites: scope.Sites}); err != nil {
			t.Fatal(err)
		} else {
			// And Compute from the aggregate read all at once.
			all := dayIn
			all.Counts, all.Months = nil, monthly
			if kept := usage.Compute(all, first, last); scope.Sites == nil && !reflect.DeepEqual(kept, want) {
				t.Errorf("scope %+v: Compute from MonthUses differs from Compute from the day counts", scope)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("scope %+v: the figures from the monthly aggregate differ from those from the day counts:\n%v\nwant\n%v", scope, got, want)
		}
		// And the device-by-day report says what the day counts say.
		days, err := r.Days(ctx, last.Prev(), scope)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		at := map[[3]string]int{}
		for _, c := range all {
			if c.Day >= last.Prev().FirstDay() && c.Day <= last.Prev().LastDay() && scope.hasSite(c.Site) &&
				(scope.Kind == "" || kindOf(ds, c.Device) == scope.Kind) {
				at[[3]string{c.Device, c.Site, string(c.Day)}] = c.Uses
			}
		}
		for _, x := range days {
			for _, d := range x.Days {
				if want := at[[3]string{x.Device, x.Site, string(d.Day)}]; d.Uses != want {
					t.Errorf("scope %+v: %s at %s on %s: %d uses; the day counts say %d", scope, x.Device, x.Site, d.Day, d.Uses, want)
				}
				if d.Uses > 0 {
					seen++
				}
			}
		}
		if seen != len(at) {
			t.Errorf("scope %+v: the device-by-day report has %d days with uses; the day counts %d", scope, seen, len(at))
		}
	}
}

// TestReportsFromMonthsStarted checks the computations kept for windows of complete months: a
// second report on the same window, from a clone of the kept computation, is the first again,
// and both are the day counts'.
func TestReportsFromMonthsStarted(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	admin := audit.WithActor(ctx, "test")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	since := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	must(st.CreateSites(admin, []devices.Site{{ID: "a", Name: "A", TimeZone: "Asia/Shanghai"}, {ID: "b", Name: "B"}}))
	must(st.CreateTeams(admin, []devices.Team{{ID: "t", SiteID: "a", Name: "T"}}))
	must(st.CreatePatients(admin, []devices.Patient{{ID: "p", TeamID: "t"}}))
	must(st.CreateDevices(admin, []devices.Device{
		{ID: "s1", Kind: devices.Scale, SiteID: "a", Mode: devices.StationMode, RatedUsesPerDay: 10, Status: devices.Active, InService: since, SecretHash: "x"},
		{ID: "h1", Kind: devices.BPCuff, SiteID: "b", Mode: devices.Home, Status: devices.Active, InService: since, SecretHash: "x"},
	}))
	must(st.AssignDevice(admin, "h1", "p", since.AddDate(0, 0, 20)))
	var counts []usage.DayCount
	for d := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC); d.Month() <= time.May; d = d.AddDate(0, 0, 1) {
		day := usage.Day(d.Format(usage.DayLayout))
		counts = append(counts, usage.DayCount{Device: "s1", Site: "a", Day: day, Uses: 1 + d.Day()%9},
			usage.DayCount{Device: "h1", Site: "b", Day: day, Uses: 2})
	}
	must(st.ReplaceUsage(ctx, "2025-03-01", "2025-05-31", counts, nil))
	r, err := New(Deps{Store: st, Moves: st, Directory: st.LoadDirectory,
		Now: func() time.Time { return time.Date(2025, 7, 20, 0, 0, 0, 0, time.UTC) }}, reallocation.DefaultThresholds())
	must(err)
	from, to := usage.Month{Year: 2025, Month: 3}, usage.Month{Year: 2025, Month: 5}
	in, err := r.input(ctx, from, to, Scope{})
	must(err)
	in.Counts = counts
	want := usage.Compute(in, from, to)
	for i := range 3 {
		c, err := r.computation(ctx, from, to, Scope{})
		must(err)
		if got := c.Figures(); !reflect.DeepEqual(got, want) {
			t.Errorf("report %d on the same window:\n%v\nwant\n%v", i+1, got, want)
		}
	}
	if len(r.started.started) != 1 {
		t.Errorf("%d computations kept; want 1", len(r.started.started))
	}
}

func kindOf(ds []devices.Device, id string) devices.Kind {
	for _, d := range ds {
		if d.ID == id {
			return d.Kind
		}
	}
	return ""
}
