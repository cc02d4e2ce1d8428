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

func kindOf(ds []devices.Device, id string) devices.Kind {
	for _, d := range ds {
		if d.ID == id {
			return d.Kind
		}
	}
	return ""
}
