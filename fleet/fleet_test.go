package fleet

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The fixture: four centres with station devices rated 10 uses a day, in service since July,
// and usage recorded for August to October 2026, as ingest records it.
//
//	idle:  4 stations, 2 uses a day each (20%): spare; demand 8/day needs 2 at 75%, so 2 spare
//	busy:  1 station, 12 uses a day (120%): short; needs 2, 1 missing
//	far:   1 station, 14 uses a day (140%): short; needs 2, 1 missing; 60 km away
//	fine:  2 stations, 7 uses a day each (70%): balanced
//
// "Now" is 15 November 2026, so the window is August to October.
var (
	now     = time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	since   = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	shanghi = "Asia/Shanghai"
	sites   = []devices.Site{
		{ID: "idle", Name: "Idle CHC", District: "North", Lat: 31.20, Lon: 121.40, TimeZone: shanghi},
		{ID: "busy", Name: "Busy CHC", District: "North", Lat: 31.22, Lon: 121.42, TimeZone: shanghi},
		{ID: "far", Name: "Far CHC", District: "South", Lat: 31.70, Lon: 121.80, TimeZone: shanghi},
		{ID: "fine", Name: "Fine CHC", District: "South", Lat: 31.21, Lon: 121.41, TimeZone: shanghi},
	}
	perDay = map[string]int{"idle": 2, "busy": 12, "far": 14, "fine": 7}
	counts = map[string]int{"idle": 4, "busy": 1, "far": 1, "fine": 2}
)

// openSQLite opens a store on a new SQLite file in the test's directory, closed at its end.
func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "vw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newFixture(t *testing.T) (*Reports, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st := openSQLite(t)
	admin := audit.WithActor(ctx, "test")
	if err := st.CreateSites(admin, sites); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation(shanghi)
	var ds []devices.Device
	var uses []usage.Use
	for _, s := range sites {
		for i := range counts[s.ID] {
			id := fmt.Sprintf("st-%s-%d", s.ID, i)
			ds = append(ds, devices.Device{ID: id, Kind: devices.Station, SiteID: s.ID, Mode: devices.StationMode,
				Status: devices.Active, RatedUsesPerDay: 10, InService: since, SecretHash: "$7$101$c2FsdA==$a2V5"})
			for d := time.Date(2026, 8, 1, 9, 0, 0, 0, loc); d.Month() <= time.October; d = d.AddDate(0, 0, 1) {
				for u := range perDay[s.ID] {
					at := d.Add(time.Duration(u) * 20 * time.Minute)
					uses = append(uses, usage.Use{Device: id, Site: s.ID, At: at, Day: usage.DayOf(at, loc)})
				}
			}
		}
	}
	if err := st.CreateDevices(admin, ds); err != nil {
		t.Fatal(err)
	}
	if added, err := st.RecordUses(ctx, uses); err != nil || added != len(uses) {
		t.Fatalf("RecordUses = %d, %v; want %d", added, err, len(uses))
	}
	r, err := New(Deps{Store: st, Moves: st, Directory: st.LoadDirectory, Now: func() time.Time { return now }},
		reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	return r, st
}

func TestUtilisationByType(t *testing.T) {
	r, _ := newFixture(t)
	oct := usage.Month{Year: 2026, Month: time.October}
	figs, err := r.Utilisation(context.Background(), oct, oct, usage.ByType, Scope{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][3]float64{}
	for _, f := range figs {
		got[f.Site] = [3]float64{float64(f.DaysInService), f.Used, math.Round(f.Utilisation*1000) / 1000}
	}
	want := map[string][3]float64{
		"idle": {4 * 31, 8 * 31, 0.2}, "busy": {31, 12 * 31, 1.2}, "far": {31, 14 * 31, 1.4}, "fine": {2 * 31, 14 * 31, 0.7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("October by type = %v\nwant %v", got, want)
	}

	// A fleet manager's scope keeps other sites out; November counts up to now: 08:00 on the
	// 15th in Shanghai, so 15 days, the last one in part.
	nov := usage.Month{Year: 2026, Month: time.November}
	figs, err = r.Utilisation(context.Background(), oct, nov, usage.ByDevice, Scope{Sites: []string{"busy"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != 2 || figs[0].Site != "busy" || figs[1].Site != "busy" || figs[1].DaysInService != 15 || figs[1].Used != 0 {
		t.Errorf("busy, October and November = %+v; want two figures, November with 15 days in service and no use", figs)
	}

	for _, bad := range [][2]usage.Month{{nov, oct}, {{Year: 2024, Month: time.January}, nov}} {
		_, err := r.Utilisation(context.Background(), bad[0], bad[1], usage.ByDevice, Scope{})
		var de *errcode.Error
		if !asCodeError(err, &de) || de.Code != errcode.Invalid {
			t.Errorf("Utilisation(%s..%s) = %v; want an invalid-period error", bad[0], bad[1], err)
		}
	}
}

func asCodeError(err error, de **errcode.Error) bool {
	e, ok := err.(*errcode.Error)
	*de = e
	return ok
}

func TestAssessAndPlan(t *testing.T) {
	r, st := newFixture(t)
	ctx := context.Background()
	as, err := r.Assess(ctx, Scope{})
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]string{}
	for _, a := range as {
		verdicts[a.Site] = fmt.Sprintf("%s spare=%d missing=%d history=%d", a.Status, a.Spare, a.Missing, len(a.History))
	}
	want := map[string]string{
		"idle": "spare spare=2 missing=0 history=3", "busy": "short spare=0 missing=1 history=3",
		"far": "short spare=0 missing=1 history=3", "fine": "balanced spare=0 missing=0 history=3",
	}
	if !reflect.DeepEqual(verdicts, want) {
		t.Errorf("Assess = %v\nwant %v", verdicts, want)
	}

	p, _, err := r.Plan(ctx, devices.Station)
	if err != nil {
		t.Fatal(err)
	}
	if p.Shortage != 2 || p.Moved != 2 || p.Unmet != 0 || len(p.Moves) != 2 {
		t.Fatalf("Plan = %+v; want 2 moves meeting a shortage of 2", p)
	}
	to := map[string][]string{}
	for _, m := range p.Moves {
		if m.From != "idle" || m.Count != 1 {
			t.Errorf("move %+v; want one device from idle", m)
		}
		to[m.To] = m.DeviceIDs
	}
	if len(to["busy"]) != 1 || len(to["far"]) != 1 || to["busy"][0] == to["far"][0] {
		t.Errorf("moves go to %v; want one distinct device each to busy and far", to)
	}

	// A device already in an open move is not offered again, and the centres count the move:
	// one station on its way from idle to busy meets busy's shortage and takes one of idle's
	// two spare, so the plan sends idle's other spare to far, and not st-idle-0.
	act := audit.WithActor(ctx, "test")
	if _, err := st.ProposeMove(act, devices.Move{Kind: devices.Station, From: "idle", To: "busy",
		Devices: []string{"st-idle-0"}}); err != nil {
		t.Fatal(err)
	}
	p, as, err = r.Plan(ctx, devices.Station)
	if err != nil {
		t.Fatal(err)
	}
	if p.Shortage != 1 || p.Moved != 1 || len(p.Moves) != 1 || p.Moves[0].From != "idle" || p.Moves[0].To != "far" ||
		!reflect.DeepEqual(p.Moves[0].DeviceIDs, []string{"st-idle-1"}) {
		t.Errorf("Plan with one station on its way to busy = %+v; want st-idle-1 alone, to far", p)
	} else if d := p.Moves[0].Donor; d.Devices != 3 || d.DevicesAfter != 2 {
		t.Errorf("the move's donor side = %+v; want 3 -> 2 devices, the one on its way gone", d)
	}
	verdicts = map[string]string{}
	for _, a := range as {
		verdicts[a.Site] = fmt.Sprintf("%s spare=%d missing=%d arriving=%d leaving=%d", a.Status, a.Spare, a.Missing, a.Arriving, a.Leaving)
	}
	want = map[string]string{
		"idle": "spare spare=1 missing=0 arriving=0 leaving=1", "busy": "short spare=0 missing=0 arriving=1 leaving=0",
		"far": "short spare=0 missing=1 arriving=0 leaving=0",
	}
	if !reflect.DeepEqual(verdicts, want) {
		t.Errorf("Plan's assessments with one station on its way = %v\nwant %v", verdicts, want)
	}

	// With three of idle's four stations moving, idle has nothing left to give (its demand
	// needs two): far's shortage stays unmet.
	if _, err := st.ProposeMove(act, devices.Move{Kind: devices.Station, From: "idle", To: "busy",
		Devices: []string{"st-idle-1", "st-idle-2"}}); err != nil {
		t.Fatal(err)
	}
	p, _, err = r.Plan(ctx, devices.Station)
	if err != nil {
		t.Fatal(err)
	}
	if p.Shortage != 1 || p.Moved != 0 || p.Unmet != 1 || len(p.Moves) != 0 {
		t.Errorf("Plan with three stations moving = %+v; want no move and far's one unmet", p)
	}
}

func TestAlternatives(t *testing.T) {
	r, _ := newFixture(t)
	alts, d, err := r.Alternatives(context.Background(), "st-busy-0")
	if err != nil {
		t.Fatal(err)
	}
	if d.SiteID != "busy" {
		t.Errorf("device site = %s; want busy", d.SiteID)
	}
	var got []string
	for _, a := range alts {
		got = append(got, fmt.Sprintf("%s %.0f", a.Site, a.SpareUsesPerDay))
	}
	// fine is nearest (about 1.5 km), then idle (about 3 km); far has no room left.
	want := []string{"fine 6", "idle 32"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Alternatives(st-busy-0) = %v; want %v", got, want)
	}
	if _, _, err := r.Alternatives(context.Background(), "nope"); err == nil {
		t.Error("Alternatives(nope) = nil error; want not found")
	}
}
