package fleet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// TestForgetIdle checks that the reports' caches (the registry's state, the computations
// started, the patients' records) are kept while reports use them, dropped once no report has
// for CacheIdle, and that the reports answer the same after.
func TestForgetIdle(t *testing.T) {
	ctx := context.Background()
	r, _, clock := forgetFixture(t)
	assess := func() []Assessment {
		t.Helper()
		as, err := r.Assess(ctx, Scope{})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	first := assess()
	if p, s, g := r.kept(); !p || !s || !g {
		t.Fatalf("after an assessment: registry state kept %v, computations %v, patients' records %v; want all kept", p, s, g)
	}
	*clock = clock.Add(CacheIdle - time.Second)
	if r.ForgetIdle(CacheIdle) {
		t.Error("ForgetIdle dropped a cache used less than CacheIdle ago")
	}
	if p, s, g := r.kept(); !p || !s || !g {
		t.Fatalf("before CacheIdle: registry state kept %v, computations %v, patients' records %v; want all kept", p, s, g)
	}
	// A report keeps them another CacheIdle.
	assess()
	*clock = clock.Add(CacheIdle - time.Second)
	if r.ForgetIdle(CacheIdle) {
		t.Error("ForgetIdle dropped a cache that a report used less than CacheIdle ago")
	}
	*clock = clock.Add(time.Second)
	if !r.ForgetIdle(CacheIdle) {
		t.Error("ForgetIdle dropped nothing after CacheIdle without a report")
	}
	if p, s, g := r.kept(); p || s || g {
		t.Fatalf("after CacheIdle: registry state kept %v, computations %v, patients' records %v; want none", p, s, g)
	}
	if again := assess(); !reflect.DeepEqual(again, first) {
		t.Errorf("assessment after the caches were dropped:\n%+v\nwant\n%+v", again, first)
	}
	if p, s, g := r.kept(); !p || !s || !g {
		t.Errorf("after the next assessment: registry state kept %v, computations %v, patients' records %v; want all kept again", p, s, g)
	}
}

// TestGrowthCheckKeepsNoCache checks that the growth check, which reads what an assessment
// reads, leaves none of it behind unless a report used it within CacheIdle, and then leaves
// it to go CacheIdle after that report.
func TestGrowthCheckKeepsNoCache(t *testing.T) {
	ctx := context.Background()
	r, st, clock := forgetFixture(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := NewGrowthNotices(r, st, alerts.NewLifecycle(st, nil, log), growthRule, log)
	if _, err := g.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if p, s, gr := r.kept(); p || s || gr {
		t.Fatalf("after a check with no report: registry state kept %v, computations %v, patients' records %v; want none", p, s, gr)
	}
	if _, err := r.Assess(ctx, Scope{}); err != nil {
		t.Fatal(err)
	}
	*clock = clock.Add(CacheIdle / 2)
	if _, err := g.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if p, s, gr := r.kept(); !p || !s || !gr {
		t.Fatalf("after a check, a report CacheIdle/2 before: registry state kept %v, computations %v, patients' records %v; want all kept", p, s, gr)
	}
	*clock = clock.Add(CacheIdle / 2)
	if !r.ForgetIdle(CacheIdle) {
		t.Error("ForgetIdle dropped nothing CacheIdle after the report: the check counted as a use")
	}
}

// kept says which of its caches r holds.
func (r *Reports) kept() (periods, started, growth bool) {
	return r.periods.state != nil, len(r.started.started) > 0, r.growthCounts.read
}

// forgetFixture is reports on a SQLite store of two sites with three scales each and three
// months of usage, the store, and the clock the reports read.
func forgetFixture(t *testing.T) (*Reports, *store.Store, *time.Time) {
	t.Helper()
	ctx := context.Background()
	st := openSQLite(t)
	admin := audit.WithActor(ctx, "test")
	now := time.Now().UTC()
	last := usage.MonthOf(now).Prev()
	start := time.Date(last.Year, last.Month, 1, 0, 0, 0, 0, time.UTC).AddDate(0, -2, 0)
	if err := st.CreateSites(admin, []devices.Site{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}); err != nil {
		t.Fatal(err)
	}
	var counts []usage.DayCount
	for i := range 6 {
		d := devices.Device{ID: fmt.Sprintf("s%02d", i), Kind: devices.Scale, SiteID: []string{"a", "b"}[i%2], Mode: devices.StationMode,
			RatedUsesPerDay: 10, Status: devices.Active, InService: start.AddDate(0, -1, 0), SecretHash: "x"}
		if err := st.CreateDevice(admin, d); err != nil {
			t.Fatal(err)
		}
		for day := start; day.Before(now.AddDate(0, 0, -2)); day = day.AddDate(0, 0, 1) {
			counts = append(counts, usage.DayCount{Device: d.ID, Site: d.SiteID, Day: usage.DayOf(day, time.UTC), Uses: 1 + 8*(i%2)})
		}
	}
	if err := st.ReplaceUsage(ctx, usage.DayOf(start, time.UTC), usage.DayOf(now.AddDate(0, 0, -2), time.UTC), counts, nil); err != nil {
		t.Fatal(err)
	}
	clock := now
	r, err := New(Deps{Store: st, Moves: st, Patients: st, Now: func() time.Time { return clock }, Directory: st.LoadDirectory},
		reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	return r, st, &clock
}
