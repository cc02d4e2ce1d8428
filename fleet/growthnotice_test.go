package fleet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// planPatients is a patient history that a test changes: 100 hypertensive patients at each
// centre 13 months before now, and then, a month before now, grown[site] more.
type planPatients struct {
	mu    sync.Mutex
	now   time.Time
	grown map[string]int
}

func (p *planPatients) set(grown map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grown = grown
}

func (p *planPatients) EachPatientRecord(_ context.Context, each func(devices.PatientRecord) error) error {
	return eachOf(p.records(), each)
}

func (p *planPatients) records() []devices.PatientRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, recent := p.now.AddDate(0, -13, 0), p.now.AddDate(0, -1, 0)
	var rs []devices.PatientRecord
	for _, site := range []string{"up", "flat"} {
		for i := range 100 {
			rs = append(rs, devices.PatientRecord{Patient: fmt.Sprintf("%s-old-%d", site, i), At: old, Site: site,
				Plans: []string{"Hypertension: BP daily"}, PlansSet: true})
		}
	}
	for _, site := range []string{"up", "flat"} {
		for i := range p.grown[site] {
			rs = append(rs, devices.PatientRecord{Patient: fmt.Sprintf("%s-new-%d", site, i), At: recent, Site: site,
				Plans: []string{"blood pressure morning and evening"}, PlansSet: true})
		}
	}
	return rs
}

// growthFixture seeds, in the database at dsn, two centres "up" and "flat" with 12 BP cuffs
// each (clinic cuffs, in station mode, so that uses count without loans), rated 1 use a day,
// in service since July, and 9 uses a day at each centre from August
// to October: a demand of 9 a day, 75% at the target.
func growthFixture(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	admin := audit.WithActor(ctx, "test")
	loc, _ := time.LoadLocation(shanghi)
	centres := []devices.Site{
		{ID: "up", Name: "Up CHC", District: "North", Lat: 31.20, Lon: 121.40, TimeZone: shanghi},
		{ID: "flat", Name: "Flat CHC", District: "South", Lat: 31.21, Lon: 121.41, TimeZone: shanghi},
	}
	if err := st.CreateSites(admin, centres); err != nil {
		t.Fatal(err)
	}
	var ds []devices.Device
	var uses []usage.Use
	for _, s := range centres {
		for i := range 12 {
			ds = append(ds, devices.Device{ID: fmt.Sprintf("cuff-%s-%d", s.ID, i), Kind: devices.BPCuff, SiteID: s.ID, Mode: devices.StationMode,
				Status: devices.Active, RatedUsesPerDay: 1, InService: since, SecretHash: "$7$101$c2FsdA==$a2V5"})
		}
		for d := time.Date(2026, 8, 1, 9, 0, 0, 0, loc); d.Month() <= time.October; d = d.AddDate(0, 0, 1) {
			for u := range 9 {
				at := d.Add(time.Duration(u) * time.Minute)
				uses = append(uses, usage.Use{Device: fmt.Sprintf("cuff-%s-%d", s.ID, u), Site: s.ID, At: at, Day: usage.DayOf(at, loc)})
			}
		}
	}
	if err := st.CreateDevices(admin, ds); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordUses(ctx, uses); err != nil {
		t.Fatal(err)
	}
}

// checker is one instance's growth notices on the database at dsn.
func newChecker(t *testing.T, dsn string, patients Patients, th reallocation.Thresholds, rule GrowthRule, hub alerts.Publisher) (*GrowthNotices, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r, err := New(Deps{Store: st, Moves: st, Patients: patients, Directory: st.LoadDirectory, Now: func() time.Time { return now }}, th)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return NewGrowthNotices(r, st, alerts.NewLifecycle(st, hub, log), rule, log), st
}

var growthRule = GrowthRule{Enabled: true, Severity: alerts.Info, Version: 1}

func growthNotices(t *testing.T, st *store.Store) []alerts.Alert {
	t.Helper()
	list, err := st.ListAlerts(context.Background(), alerts.Filter{Scope: alerts.Scope{All: true}, Rule: alerts.RuleCentreGrowth})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// notifying counts the events of the store that notify people.
func notifying(t *testing.T, st *store.Store) int {
	t.Helper()
	evs, err := st.AlertEvents(context.Background(), 0, alerts.Scope{All: true}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Notify {
			n++
		}
	}
	return n
}

// The notice is raised for a centre whose hypertensive patients grew 21% and not for one
// whose grew 19%; a check that finds the same figures changes nothing, new figures update
// it, and it resolves itself when the growth falls under the threshold or the rule is off.
func TestGrowthNoticeLifecycle(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "vw.db")
	growthFixture(t, dsn)
	patients := &planPatients{now: now, grown: map[string]int{"up": 21, "flat": 19}}
	g, st := newChecker(t, dsn, patients, reallocation.DefaultThresholds(), growthRule, nil)

	changes, err := g.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Event.Type != alerts.EventRaised || !changes[0].Notify {
		t.Fatalf("first check = %+v; want one raised notice that notifies", changes)
	}
	list := growthNotices(t, st)
	if len(list) != 1 {
		t.Fatalf("notices = %+v; want one, for up", list)
	}
	a := list[0]
	// 9 uses a day x 1.21 = 10.89 needs ceil(10.89 / 0.75) = 15 cuffs: 3 more than its 12.
	wantTh := map[string]float64{"growth": 0.2, "target": 0.75, "hypertension.before": 100, "hypertension.patients": 121,
		"hypertension.rate": 0.21, "hypertension.more.bp_cuff": 3}
	if a.Subject != (alerts.Subject{Kind: alerts.SubjectSite, ID: "up"}) || a.Site != "up" || a.Category != alerts.Fault ||
		a.Severity != alerts.Info || a.State != alerts.Open || a.Team != "" || a.Patient != "" || a.Device != "" ||
		a.LastValue != "hypertension 100→121 +21%: bp_cuff +3" || fmt.Sprint(a.Thresholds) != fmt.Sprint(wantTh) {
		t.Errorf("notice = %+v %q %v\nwant site/up, fault, info, open, hypertension 100→121 +21%%: bp_cuff +3, thresholds %v", a, a.LastValue, a.Thresholds, wantTh)
	}

	// The same figures the next day: nothing written.
	if changes, err := g.Check(ctx); err != nil || len(changes) != 0 {
		t.Errorf("second check = %+v, %v; want no change", changes, err)
	}
	// More patients: the notice is updated, not raised again, and notifies no one.
	patients.set(map[string]int{"up": 25, "flat": 19})
	changes, err = g.Check(ctx)
	if err != nil || len(changes) != 1 || changes[0].Event.Type != alerts.EventUpdated || changes[0].Notify ||
		changes[0].Alert.ID != a.ID || changes[0].Alert.Count != 2 || changes[0].Alert.LastValue != "hypertension 100→125 +25%: bp_cuff +3" {
		t.Errorf("check at 25%% = %+v, %v; want alert %d updated to count 2, 100→125 +25%%, not notifying", changes, err, a.ID)
	}
	if n := len(growthNotices(t, st)); n != 1 {
		t.Errorf("%d notices after the update; want 1", n)
	}
	// Under the threshold again: resolved by the system.
	patients.set(map[string]int{"up": 20, "flat": 19})
	changes, err = g.Check(ctx)
	if err != nil || len(changes) != 1 || changes[0].Event.Type != alerts.EventResolved || changes[0].Alert.State != alerts.Resolved ||
		changes[0].Alert.ResolvedBy != alerts.SystemActor || !strings.Contains(changes[0].Alert.ResolutionNote, "no plan's patients") {
		t.Errorf("check at 20%% = %+v, %v; want the notice resolved by the system", changes, err)
	}
	if changes, err := g.Check(ctx); err != nil || len(changes) != 0 {
		t.Errorf("check with nothing open and no growth = %+v, %v; want no change", changes, err)
	}

	// Growing again raises a new notice; turning the rule off resolves it.
	patients.set(map[string]int{"up": 30, "flat": 30})
	changes, err = g.Check(ctx)
	if err != nil || len(changes) != 2 || changes[0].Alert.Site != "flat" || changes[1].Alert.Site != "up" || changes[1].Alert.ID == a.ID {
		t.Fatalf("check at 30%% = %+v, %v; want new notices for flat and up", changes, err)
	}
	off := growthRule
	off.Enabled = false
	g.rule = off
	changes, err = g.Check(ctx)
	if err != nil || len(changes) != 2 || changes[0].Alert.State != alerts.Resolved || changes[1].Alert.State != alerts.Resolved ||
		!strings.Contains(changes[0].Alert.ResolutionNote, "off") {
		t.Errorf("check with the rule off = %+v, %v; want both resolved, the notice is off", changes, err)
	}
	if n := notifying(t, st); n != 3 {
		t.Errorf("%d notifying events; want 3 (the three raises)", n)
	}
}

// publishCount counts the events published to the live feed that notify.
type publishCount struct {
	mu     sync.Mutex
	raised int
}

func (p *publishCount) Publish(events ...alerts.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range events {
		if ev.Type == alerts.EventRaised {
			p.raised++
		}
	}
}

// Two instances checking at once on one database raise one notice and notify once.
func TestGrowthNoticeTwoInstances(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testGrowthNoticeTwoInstances(t, filepath.Join(t.TempDir(), "vw.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("needs PostgreSQL")
		}
		testGrowthNoticeTwoInstances(t, testsrv.StartPostgres(t).NewDatabase(t))
	})
}

func testGrowthNoticeTwoInstances(t *testing.T, dsn string) {
	ctx := context.Background()
	growthFixture(t, dsn)
	patients := &planPatients{now: now, grown: map[string]int{"up": 21, "flat": 19}}
	hub := &publishCount{}
	var checkers []*GrowthNotices
	var st *store.Store
	for range 2 {
		g, s := newChecker(t, dsn, patients, reallocation.DefaultThresholds(), growthRule, hub)
		checkers, st = append(checkers, g), s
	}
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make([]error, len(checkers))
		for i, g := range checkers {
			wg.Go(func() { _, errs[i] = g.Check(ctx) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, instance %d: %v", round, i, err)
			}
		}
	}
	list := growthNotices(t, st)
	if len(list) != 1 || list[0].Site != "up" || list[0].State != alerts.Open {
		t.Errorf("notices = %+v; want one open, for up", list)
	}
	if n := notifying(t, st); n != 1 || hub.raised != 1 {
		t.Errorf("%d notifying events, %d raised published; want 1 and 1", n, hub.raised)
	}
}

// Run checks after its delay, then every interval, until its context ends: the notice is
// raised by the first check and resolved by a later one once the growth ends.
func TestGrowthNoticeRun(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "vw.db")
	growthFixture(t, dsn)
	patients := &planPatients{now: now, grown: map[string]int{"up": 21}}
	g, st := newChecker(t, dsn, patients, reallocation.DefaultThresholds(), growthRule, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, 10*time.Millisecond, 20*time.Millisecond) }()
	waitFor := func(what string, ok func([]alerts.Alert) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if list := growthNotices(t, st); ok(list) {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: notices = %+v", what, list)
			}
		}
	}
	waitFor("raised", func(l []alerts.Alert) bool { return len(l) == 1 && l[0].State == alerts.Open })
	patients.set(nil)
	waitFor("resolved", func(l []alerts.Alert) bool { return len(l) == 1 && l[0].State == alerts.Resolved })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil when its context ends", err)
	}
}

// The check reads the stocks only when some plan grew: with no centre's patients grown beyond
// the threshold, no computation is started and the registry's state is not read; with
// hypertension grown at one centre, only the BP cuffs' computation is; with plans of several
// kinds grown, one computation of every kind.
func TestCentreGrowthsReadsStocksOfGrowthOnly(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "vw.db")
	growthFixture(t, dsn)
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	patients := &planPatients{now: now, grown: map[string]int{"up": 19, "flat": 5}}
	r, err := New(Deps{Store: st, Moves: st, Patients: patients, Directory: st.LoadDirectory, Now: func() time.Time { return now }},
		reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	started := func() []devices.Kind {
		var kinds []devices.Kind
		for k := range r.started.started {
			kinds = append(kinds, k.kind)
		}
		return kinds
	}
	gs, err := r.CentreGrowths(ctx)
	if err != nil || len(gs) != 0 {
		t.Fatalf("growths at 19%% and 5%% = %+v, %v; want none", gs, err)
	}
	if kinds := started(); len(kinds) != 0 || r.periods.state != nil {
		t.Errorf("with no growth: computations of %q started, registry state read %v; want none, not read", kinds, r.periods.state != nil)
	}
	patients.set(map[string]int{"up": 21, "flat": 5})
	gs, err = r.CentreGrowths(ctx)
	if err != nil || len(gs) != 1 || gs[0].Site != "up" || gs[0].Condition != "hypertension" || gs[0].More[devices.BPCuff] != 3 {
		t.Fatalf("growths at 21%% and 5%% = %+v, %v; want up's hypertension, 3 more cuffs", gs, err)
	}
	if kinds := started(); !slices.Equal(kinds, []devices.Kind{devices.BPCuff}) {
		t.Errorf("with hypertension grown: computations of %q started; want %q only", kinds, devices.BPCuff)
	}
	// Diabetes grown too, at "flat" (none before at "up"): its glucose meters and CGMs with the
	// cuffs make several kinds, read in one computation of every kind.
	recs := patients.records()
	for i := range 10 {
		recs = append(recs, devices.PatientRecord{Patient: fmt.Sprintf("flat-dm-old-%d", i), At: now.AddDate(0, -13, 0), Site: "flat",
			Plans: []string{"diabetes"}, PlansSet: true})
	}
	for i := range 3 {
		recs = append(recs, devices.PatientRecord{Patient: fmt.Sprintf("flat-dm-new-%d", i), At: now.AddDate(0, -1, 0), Site: "flat",
			Plans: []string{"insulin"}, PlansSet: true})
	}
	r.patients = recordsOf(recs)
	r.started.started = nil
	if _, err := r.CentreGrowths(ctx); err != nil {
		t.Fatal(err)
	}
	if kinds := started(); !slices.Equal(kinds, []devices.Kind{""}) {
		t.Errorf("with hypertension and diabetes grown: computations of %q started; want one of every kind", kinds)
	}
}

// recordsOf is a patient history of fixed records.
type recordsOf []devices.PatientRecord

func (rs recordsOf) EachPatientRecord(_ context.Context, each func(devices.PatientRecord) error) error {
	return eachOf(rs, each)
}
