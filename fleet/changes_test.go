package fleet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The reports keep the registry's state and their started computations from one registry
// version to the next, reading again and patching only the devices a change touched. After
// random registry changes (repairs, moves between centres, loans and returns, transfers that
// take a device along, a new rated capacity or kind, an earlier start of service, a new device,
// a centre in another zone), every answer must be that of reports made anew.

func TestReportsAfterChangesSQLite(t *testing.T) {
	testReportsAfterChanges(t, filepath.Join(t.TempDir(), "vw.db"))
}

func TestReportsAfterChangesPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	pg := testsrv.StartPostgres(t)
	testReportsAfterChanges(t, pg.NewDatabase(t))
}

func testReportsAfterChanges(t *testing.T, dsn string) {
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	admin := audit.WithActor(ctx, "test")
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(9, seed))
	t.Logf("seed %d", seed)
	// The store's clock is the real one: the window is the three complete months before now.
	clock := time.Now().UTC()
	last := usage.MonthOf(clock).Prev()
	first := last.Prev().Prev()
	start := time.Date(first.Year, first.Month, 1, 0, 0, 0, 0, time.UTC)
	inWindow := func() time.Time { return start.Add(time.Duration(rng.Int64N(int64(clock.Sub(start))))) }

	zones := []string{"Asia/Shanghai", "America/Los_Angeles", ""}
	var ss []devices.Site
	var ts []devices.Team
	for i := range 5 {
		ss = append(ss, devices.Site{ID: fmt.Sprintf("c%d", i), Name: "Centre", District: fmt.Sprintf("d%d", i%2),
			Lat: 31 + float64(i)/10, Lon: 121, TimeZone: zones[i%len(zones)]})
		ts = append(ts, devices.Team{ID: fmt.Sprintf("t%d", i), SiteID: ss[i].ID, Name: "T"})
	}
	must("CreateSites", st.CreateSites(admin, ss))
	must("CreateTeams", st.CreateTeams(admin, ts))
	kinds := []devices.Kind{devices.BPCuff, devices.Scale}
	var ds []devices.Device
	var ps []devices.Patient
	for i := range 30 {
		d := devices.Device{ID: fmt.Sprintf("dev%02d", i), Kind: kinds[i%len(kinds)], SiteID: ss[i%len(ss)].ID,
			Mode: devices.StationMode, RatedUsesPerDay: 5 + rng.IntN(10), Status: devices.Active,
			InService: start.Add(-30 * 24 * time.Hour), SecretHash: "$7$101$c2FsdA==$a2V5"}
		if i%3 != 0 {
			d.Mode, d.RatedUsesPerDay = devices.Home, 0
		}
		ds = append(ds, d)
		ps = append(ps, devices.Patient{ID: "p" + d.ID, TeamID: ts[i%len(ts)].ID, Plans: []string{"hypertension", "weight"}})
	}
	must("CreatePatients", st.CreatePatients(admin, ps))
	must("CreateDevices", st.CreateDevices(admin, ds))
	var counts []usage.DayCount
	for _, d := range ds {
		for day := start.Add(-24 * time.Hour); day.Before(clock); day = day.Add(24 * time.Hour) {
			if rng.IntN(3) > 0 {
				counts = append(counts, usage.DayCount{Device: d.ID, Site: ss[rng.IntN(len(ss))].ID,
					Day: usage.Day(day.Format(usage.DayLayout)), Uses: 1 + rng.IntN(12)})
			}
		}
	}
	must("ReplaceUsage", st.ReplaceUsage(ctx, usage.DayOf(start.Add(-24*time.Hour), time.UTC), usage.DayOf(clock, time.UTC), counts, nil))

	view := devices.NewView(devices.NewDirectory(-1, nil, nil, nil))
	must("Refresh", devices.Refresh(ctx, view, st))
	now := func() time.Time { return clock }
	kept, err := New(Deps{Store: st, Moves: st, Patients: st, Now: now,
		Directory: func(context.Context) (*devices.Directory, error) { return view.Load(), nil }}, reallocation.DefaultThresholds())
	must("New", err)

	type answers struct {
		Window, Scales, Recent []usage.Figure
		Sites                  []usage.Figure
		Assessed               []Assessment
		Plan                   reallocation.Proposal
		Planned                []Assessment
		Days                   []DeviceDays
	}
	answer := func(r *Reports) answers {
		t.Helper()
		var a answers
		var err error
		a.Window, err = r.Utilisation(ctx, first, last, usage.ByDevice, Scope{})
		must("Utilisation", err)
		a.Scales, err = r.Utilisation(ctx, first, last, usage.ByDevice, Scope{Kind: devices.Scale})
		must("Utilisation(scales)", err)
		a.Sites, err = r.Utilisation(ctx, first, last, usage.BySite, Scope{Sites: []string{"c1", "c2"}})
		must("Utilisation(by site)", err)
		a.Recent, err = r.Utilisation(ctx, last, usage.MonthOf(clock), usage.ByDevice, Scope{})
		must("Utilisation(recent)", err)
		a.Assessed, err = r.Assess(ctx, Scope{})
		must("Assess", err)
		a.Plan, a.Planned, err = r.Plan(ctx, "")
		must("Plan", err)
		a.Days, err = r.Days(ctx, last, Scope{})
		must("Days", err)
		return a
	}
	answer(kept) // started, to be kept from here on
	patched := 0
	for round := range 30 {
		dir, err := st.LoadDirectory(ctx)
		must("LoadDirectory", err)
		d := ds[rng.IntN(len(ds))]
		cur, _ := dir.Device(d.ID)
		what := ""
		var err2 error
		switch rng.IntN(9) {
		case 0:
			what = "status"
			x := *cur
			x.Status = []devices.Status{devices.Active, devices.Maintenance}[rng.IntN(2)]
			err2 = st.UpdateDevice(admin, x)
		case 1:
			what = "site"
			x := *cur
			x.SiteID = ss[rng.IntN(len(ss))].ID
			err2 = st.UpdateDevice(admin, x)
		case 2:
			what = "rated"
			x := *cur
			if x.Mode == devices.StationMode {
				x.RatedUsesPerDay = 1 + rng.IntN(30)
			}
			x.Kind = kinds[rng.IntN(len(kinds))]
			err2 = st.UpdateDevice(admin, x)
		case 3:
			what = "in service"
			x := *cur
			x.InService = start.Add(time.Duration(rng.IntN(40*24)-20*24) * time.Hour)
			err2 = st.UpdateDevice(admin, x)
		case 4, 5:
			what = "loan"
			if dir.PatientAt(d.ID, clock) != "" {
				err2 = st.ReturnDevice(admin, d.ID, clock.Add(-time.Duration(rng.IntN(48))*time.Hour))
			} else {
				err2 = st.AssignDevice(admin, d.ID, "p"+d.ID, inWindow())
			}
		case 6:
			what = "transfer"
			err2 = st.TransferPatient(admin, "p"+d.ID, ts[rng.IntN(len(ts))].ID, devices.PolicyTravel, inWindow())
		case 7:
			what = "move"
			to := ss[rng.IntN(len(ss))].ID
			m, err := st.ProposeMove(admin, devices.Move{Kind: cur.Kind, From: cur.SiteID, To: to, Devices: []string{d.ID}, Reason: "test"})
			if err2 = err; err == nil {
				_, err2 = st.ApproveMove(admin, m.ID, "")
				if err2 == nil {
					_, err2 = st.DispatchMove(admin, m.ID)
				}
				if err2 == nil && rng.IntN(2) == 0 {
					_, err2 = st.ReceiveMove(admin, m.ID)
				}
			}
		default:
			switch rng.IntN(3) {
			case 0:
				what = "new device"
				x := ds[rng.IntN(len(ds))]
				x.ID, x.InService = fmt.Sprintf("new%02d", round), inWindow()
				err2 = st.CreateDevice(admin, x)
			case 1:
				what = "zone"
				s := ss[rng.IntN(len(ss))]
				s.TimeZone = zones[rng.IntN(len(zones))]
				err2 = st.UpdateSite(admin, s)
			default:
				what = "address"
				s := ss[rng.IntN(len(ss))]
				s.Address = fmt.Sprint(round, " road")
				err2 = st.UpdateSite(admin, s)
			}
		}
		if err2 != nil {
			t.Logf("round %d: %s of %s refused: %v", round, what, d.ID, err2)
		}
		must("Refresh", devices.Refresh(ctx, view, st))
		startsBefore, changed := kept.started.starts, view.Load().Version() != dir.Version()
		got := answer(kept)
		if changed && kept.started.starts == startsBefore {
			patched++ // every computation kept was patched, none started anew
		}
		fresh, err := New(Deps{Store: st, Moves: st, Patients: st, Now: now, Directory: st.LoadDirectory}, reallocation.DefaultThresholds())
		must("New", err)
		if want := answer(fresh); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d, after a %s of %s: the kept reports differ from reports made anew:\n%+v\nwant\n%+v", round, what, d.ID, got, want)
		}
		if v := view.Load().Version(); kept.periods.state == nil || kept.periods.state.version != v {
			t.Errorf("round %d: the registry's state kept is not of version %d", round, v)
		}
	}
	if patched == 0 {
		t.Errorf("no round kept its started computations: the patching is not tested")
	}
}

// TestRegistryStateOfAnOlderDirectory checks that a directory older than the registry state kept
// gets a state of its own version, and leaves the newer one kept.
func TestRegistryStateOfAnOlderDirectory(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	admin := audit.WithActor(ctx, "test")
	d := devices.Device{ID: "s1", Kind: devices.Scale, SiteID: "a", Mode: devices.StationMode, RatedUsesPerDay: 10,
		Status: devices.Active, SecretHash: "x"}
	if err := st.CreateSites(admin, []devices.Site{{ID: "a", Name: "A"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateDevice(admin, d); err != nil {
		t.Fatal(err)
	}
	older, err := st.LoadDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.Status = devices.Maintenance
	if err := st.UpdateDevice(admin, d); err != nil {
		t.Fatal(err)
	}
	newer, err := st.LoadDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Deps{Store: st, Directory: func(context.Context) (*devices.Directory, error) { return newer, nil }},
		reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	if s, err := r.registry(ctx, newer); err != nil || s.devices[0].Status != devices.Maintenance {
		t.Fatalf("state of the newer directory = %+v, %v; want s1 under maintenance", s, err)
	}
	if s, err := r.registry(ctx, older); err != nil || s.version != older.Version() || s.devices[0].Status != devices.Active {
		t.Fatalf("state of the older directory = %+v, %v; want version %d, s1 active", s, err, older.Version())
	}
	if r.periods.state.version != newer.Version() {
		t.Errorf("state kept is of version %d; want the newer %d", r.periods.state.version, newer.Version())
	}
}

// TestReportsConcurrentWithChanges asks for reports from several goroutines while the registry
// changes (run it with -race): the kept state and computations are shared, and the answers
// after the last change are those of reports made anew.
func TestReportsConcurrentWithChanges(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	admin := audit.WithActor(ctx, "test")
	clock := time.Now().UTC()
	last := usage.MonthOf(clock).Prev()
	first := last.Prev().Prev()
	start := time.Date(first.Year, first.Month, 1, 0, 0, 0, 0, time.UTC)
	if err := st.CreateSites(admin, []devices.Site{{ID: "a", Name: "A", TimeZone: "Asia/Shanghai"}, {ID: "b", Name: "B"}}); err != nil {
		t.Fatal(err)
	}
	var ds []devices.Device
	var counts []usage.DayCount
	for i := range 12 {
		d := devices.Device{ID: fmt.Sprintf("s%02d", i), Kind: devices.Scale, SiteID: []string{"a", "b"}[i%2], Mode: devices.StationMode,
			RatedUsesPerDay: 10, Status: devices.Active, InService: start.AddDate(0, -1, 0), SecretHash: "x"}
		ds = append(ds, d)
		for day := start; day.Before(clock); day = day.Add(24 * time.Hour) {
			counts = append(counts, usage.DayCount{Device: d.ID, Site: d.SiteID, Day: usage.Day(day.Format(usage.DayLayout)), Uses: 1 + i%7})
		}
	}
	if err := st.CreateDevices(admin, ds); err != nil {
		t.Fatal(err)
	}
	if err := st.ReplaceUsage(ctx, usage.DayOf(start, time.UTC), usage.DayOf(clock, time.UTC), counts, nil); err != nil {
		t.Fatal(err)
	}
	view := devices.NewView(devices.NewDirectory(-1, nil, nil, nil))
	if err := devices.Refresh(ctx, view, st); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return clock }
	kept, err := New(Deps{Store: st, Moves: st, Now: now,
		Directory: func(context.Context) (*devices.Directory, error) { return view.Load(), nil }}, reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	ask := func(r *Reports) ([]usage.Figure, []Assessment, reallocation.Proposal, error) {
		figs, err := r.Utilisation(ctx, first, last, usage.ByDevice, Scope{})
		if err != nil {
			return nil, nil, reallocation.Proposal{}, err
		}
		as, err := r.Assess(ctx, Scope{})
		if err != nil {
			return nil, nil, reallocation.Proposal{}, err
		}
		p, _, err := r.Plan(ctx, "")
		return figs, as, p, err
	}
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if _, _, _, err := ask(kept); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 20 {
		d := ds[i%len(ds)]
		d.Status = []devices.Status{devices.Maintenance, devices.Active}[i/len(ds)%2]
		if i%3 == 0 {
			d.RatedUsesPerDay = 5 + i
		}
		if err := st.UpdateDevice(admin, d); err != nil {
			t.Fatal(err)
		}
		if err := devices.Refresh(ctx, view, st); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	fresh, err := New(Deps{Store: st, Moves: st, Now: now, Directory: st.LoadDirectory}, reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	gotF, gotA, gotP, err := ask(kept)
	if err != nil {
		t.Fatal(err)
	}
	wantF, wantA, wantP, err := ask(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotF, wantF) || !reflect.DeepEqual(gotA, wantA) || !reflect.DeepEqual(gotP, wantP) {
		t.Errorf("after the changes, the kept reports differ from reports made anew")
	}
}
