package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// burdenFixture is a store on a clock the test moves, with team tA (4 patients) and tB (1)
// and site sA with 3 devices, one of them retired.
func burdenFixture(t *testing.T, newDSN func(t *testing.T) string) (*Store, *clock) {
	t.Helper()
	s := newStore(t, newDSN)
	clk := withClock(s)
	must(t, "sites", s.CreateSites(asAdmin, []devices.Site{{ID: "sA", Name: "A"}, {ID: "sB", Name: "B"}}))
	must(t, "teams", s.CreateTeams(asAdmin, []devices.Team{{ID: "tA", SiteID: "sA", Name: "A"}, {ID: "tB", SiteID: "sB", Name: "B"}}))
	must(t, "patients", s.CreatePatients(asAdmin, []devices.Patient{{ID: "pA1", TeamID: "tA"}, {ID: "pA2", TeamID: "tA"},
		{ID: "pA3", TeamID: "tA"}, {ID: "pA4", TeamID: "tA"}, {ID: "pB1", TeamID: "tB"}}))
	moveDevice(t, s, "dA1", devices.BPCuff, "sA", devices.Active)
	moveDevice(t, s, "dA2", devices.Oximeter, "sA", devices.Maintenance)
	moveDevice(t, s, "dA3", devices.Oximeter, "sA", devices.Retired)
	return s, clk
}

// Figures for a hand-built set of alerts raised over two weeks (from t0), with alerts before
// and after the period that must not count.
func testAlertBurden(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s, clk := burdenFixture(t, newDSN)
	as := audit.WithActor(ctx, "user:dr")
	raise := func(f alerts.Finding) alerts.Alert {
		t.Helper()
		a, _, _ := mustApply(t, s, f)
		return a
	}
	ack := func(id int64, after time.Duration) {
		t.Helper()
		clk.advance(after)
		_, _, err := s.AcknowledgeAlert(as, id, "")
		must(t, "AcknowledgeAlert", err)
	}
	resolve := func(id int64) {
		t.Helper()
		_, _, err := s.ResolveAlert(as, id, "seen")
		must(t, "ResolveAlert", err)
	}
	from, to := t0, t0.AddDate(0, 0, 14)

	// Before the period: not counted, though acknowledged in it.
	clk.advance(-time.Hour)
	early := raise(clinicalFinding("glucose_low", "pA4", "tA", alerts.Warning, 0, "3.5"))
	clk.advance(time.Hour)
	ack(early.ID, time.Hour)
	resolve(early.ID)

	// Team tA, glucose_low: four alerts of three patients, three acknowledged after 2, 10 and 4
	// minutes (median 4), two resolved by a person.
	a1 := raise(clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 0, "3.5"))
	ack(a1.ID, 2*time.Minute)
	resolve(a1.ID)
	a2 := raise(clinicalFinding("glucose_low", "pA2", "tA", alerts.Warning, 0, "3.6"))
	ack(a2.ID, 10*time.Minute)
	a3 := raise(clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 60, "3.4")) // pA1 again
	ack(a3.ID, 4*time.Minute)
	resolve(a3.ID)
	raise(clinicalFinding("glucose_low", "pA3", "tA", alerts.Warning, 0, "3.7")) // never acknowledged
	// Team tA, spo2_low: one late, one in doubt, one silenced, none acknowledged.
	late := clinicalFinding("spo2_low", "pA1", "tA", alerts.Urgent, 0, "91 %")
	late.Late = true
	raise(late)
	doubt := clinicalFinding("spo2_low", "pA2", "tA", alerts.Urgent, 0, "90 %")
	doubt.Doubt = "low_perfusion"
	raise(doubt)
	silenced := clinicalFinding("spo2_low", "pA3", "tA", alerts.Urgent, 0, "90 %")
	silenced.Silenced = "in hospital"
	raise(silenced)
	// Team tB: another team's alert.
	raise(clinicalFinding("glucose_low", "pB1", "tB", alerts.Warning, 0, "3.1"))
	// Site sA: two battery faults that clear by themselves, and one offline fault a person
	// resolves after acknowledging it in 30 minutes.
	raise(faultFinding("battery_low", "dA1", "sA", alerts.Warning, 0))
	raise(faultFinding("battery_low", "dA2", "sA", alerts.Warning, 0))
	for _, d := range []string{"dA1", "dA2"} {
		cleared := faultFinding("battery_low", d, "sA", alerts.Info, 5)
		cleared.Resolve = true
		mustApply(t, s, cleared)
	}
	off := raise(faultFinding("offline", "dA1", "sA", alerts.Warning, 0))
	ack(off.ID, 30*time.Minute)
	resolve(off.ID)

	// After the period: not counted.
	clk.advance(to.Sub(clk.now()))
	raise(clinicalFinding("glucose_low", "pA4", "tA", alerts.Warning, 0, "3.5"))
	raise(faultFinding("battery_low", "dA1", "sA", alerts.Warning, 0))

	want := []alerts.Burden{
		{Category: alerts.Clinical, Team: "tA", Rule: "glucose_low", Alerts: 4, Subjects: 3, Population: 4,
			Acknowledged: 3, AckMedian: 4 * time.Minute, ResolvedByPerson: 2},
		{Category: alerts.Clinical, Team: "tA", Rule: "spo2_low", Alerts: 3, Subjects: 3, Population: 4, Late: 1, Doubt: 1, Silenced: 1},
		{Category: alerts.Clinical, Team: "tB", Rule: "glucose_low", Alerts: 1, Subjects: 1, Population: 1},
		{Category: alerts.Fault, Site: "sA", Rule: "battery_low", Alerts: 2, Subjects: 2, Population: 2, ResolvedBySystem: 2},
		{Category: alerts.Fault, Site: "sA", Rule: "offline", Alerts: 1, Subjects: 1, Population: 2,
			Acknowledged: 1, AckMedian: 30 * time.Minute, ResolvedByPerson: 1},
	}
	for i := range want {
		want[i].From, want[i].To = from, to
	}
	get := func(f alerts.BurdenFilter) []alerts.Burden {
		t.Helper()
		f.From, f.To = from, to
		got, err := s.AlertBurden(ctx, f)
		must(t, "AlertBurden", err)
		return got
	}
	check := func(what string, got []alerts.Burden, want ...alerts.Burden) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %d figures %+v; want %d", what, len(got), got, len(want))
			return
		}
		for i := range want {
			g, w := got[i], want[i]
			sameTimes := g.From.Equal(w.From) && g.To.Equal(w.To)
			g.From, g.To = w.From, w.To // compared above: == would compare their locations too
			if !sameTimes || g != w {
				t.Errorf("%s: figure %d = %+v;\nwant %+v", what, i, got[i], w)
			}
		}
	}
	check("everything", get(alerts.BurdenFilter{Scope: alerts.Scope{All: true}}), want...)
	s.burdenSorted = true // PostgreSQL sorts the alerts instead of hashing them
	check("everything, sorted", get(alerts.BurdenFilter{Scope: alerts.Scope{All: true}}), want...)
	check("team tA's doctor, sorted", get(alerts.BurdenFilter{Scope: alerts.Scope{Teams: []string{"tA"}}}), want[0], want[1])
	s.burdenSorted = false
	// Every team and site named: what everything gives (in SQLite, read group by group).
	check("every team and site named", get(alerts.BurdenFilter{Scope: alerts.Scope{Teams: []string{"tA", "tB"}, Sites: []string{"sA"}}}), want...)
	check("every team's glucose_low", get(alerts.BurdenFilter{Scope: alerts.Scope{All: true}, Rule: "glucose_low"}), want[0], want[2])
	check("team tA's doctor", get(alerts.BurdenFilter{Scope: alerts.Scope{Teams: []string{"tA"}}}), want[0], want[1])
	check("site sA's fleet manager", get(alerts.BurdenFilter{Scope: alerts.Scope{Sites: []string{"sA"}}}), want[3], want[4])
	check("team tA, glucose_low", get(alerts.BurdenFilter{Scope: alerts.Scope{All: true}, Team: "tA", Rule: "glucose_low"}), want[0])
	check("team tB and site sA", get(alerts.BurdenFilter{Scope: alerts.Scope{All: true}, Team: "tB", Site: "sA"}), want[2], want[3], want[4])
	check("team tB in tA's scope", get(alerts.BurdenFilter{Scope: alerts.Scope{Teams: []string{"tA"}}, Team: "tB"}))
	check("the zero scope", get(alerts.BurdenFilter{}))

	// The period's bounds: from is in it, to is not.
	got, err := s.AlertBurden(ctx, alerts.BurdenFilter{Scope: alerts.Scope{All: true}, From: to, To: to.Add(time.Millisecond)})
	must(t, "AlertBurden at to", err)
	if len(got) != 2 || got[0].Alerts != 1 || got[1].Alerts != 1 {
		t.Errorf("figures of [to, to+1ms) = %+v; want the two alerts raised at to", got)
	}
	if per, ok := want[0].PerSubjectPerWeek(); !ok || per != 0.5 {
		t.Errorf("tA glucose_low per patient per week = %v, %v; want 4 alerts / 4 patients / 2 weeks = 0.5", per, ok)
	}
	for _, bad := range []alerts.BurdenFilter{{Scope: alerts.Scope{All: true}}, {Scope: alerts.Scope{All: true}, From: to, To: from},
		{Scope: alerts.Scope{All: true}, From: from, To: from}} {
		_, err := s.AlertBurden(ctx, bad)
		wantCode(t, "AlertBurden without a period", err, errcode.Invalid)
	}
}

// testBurdenPopulationKept checks the population of every team and site, kept per registry
// version for a burden that names many: the same as counted by name, and counted again after
// a registry change (a device retired, a patient transferred).
func testBurdenPopulationKept(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s, _ := burdenFixture(t, newDSN)
	named := []alerts.Burden{{Category: alerts.Clinical, Team: "tA"}, {Category: alerts.Clinical, Team: "tB"},
		{Category: alerts.Fault, Site: "sA"}, {Category: alerts.Fault, Site: "sB"}}
	check := func(what string, want map[burdenKey]int) {
		t.Helper()
		got, err := s.allPopulation(ctx)
		must(t, "allPopulation", err)
		byName, err := s.burdenPopulation(ctx, named)
		must(t, "burdenPopulation", err)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(byName, want) {
			t.Errorf("%s: population kept %v, counted by name %v; want %v", what, got, byName, want)
		}
	}
	check("at first", map[burdenKey]int{{category: alerts.Clinical, owner: "tA"}: 4, {category: alerts.Clinical, owner: "tB"}: 1, {category: alerts.Fault, owner: "sA"}: 2})
	d, err := s.GetDevice(ctx, "dA2")
	must(t, "GetDevice", err)
	d.Status = devices.Retired
	must(t, "UpdateDevice", s.UpdateDevice(asAdmin, d))
	must(t, "TransferPatient", s.TransferPatient(asAdmin, "pA4", "tB", devices.PolicyReturn, t0))
	check("after a retirement and a transfer", map[burdenKey]int{{category: alerts.Clinical, owner: "tA"}: 3, {category: alerts.Clinical, owner: "tB"}: 2, {category: alerts.Fault, owner: "sA"}: 1})
}

// testBurdenInParts checks that a burden read in parts (a range of teams and of sites each,
// side by side) is the burden read whole: with the alerts of teams and sites at the parts'
// bounds, before the first and after the last, and of a team and a site that are not
// registered.
func testBurdenInParts(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s, clk := burdenFixture(t, newDSN)
	var sites []devices.Site
	var teams []devices.Team
	var patients []devices.Patient
	for i := range 40 {
		site := fmt.Sprintf("s%02d", i)
		sites = append(sites, devices.Site{ID: site, Name: site})
		teams = append(teams, devices.Team{ID: fmt.Sprintf("t%02d", i), SiteID: site, Name: site})
		patients = append(patients, devices.Patient{ID: fmt.Sprintf("p%02d", i), TeamID: fmt.Sprintf("t%02d", i)})
	}
	must(t, "sites", s.CreateSites(asAdmin, sites))
	must(t, "teams", s.CreateTeams(asAdmin, teams))
	must(t, "patients", s.CreatePatients(asAdmin, patients))
	// Teams and sites as ids sort: "sA" and "tA" after the numbered ones, "a-gone" and
	// "zz-gone" (not registered) before and after them all.
	owners := []string{"a-gone", "zz-gone", "A", "B"}
	for i := range 40 {
		owners = append(owners, fmt.Sprintf("%02d", i))
	}
	for i, o := range owners {
		team, site := "t"+o, "s"+o
		if strings.HasSuffix(o, "-gone") {
			team, site = o, o
		}
		for k := range 1 + i%3 {
			raise := clinicalFinding("glucose_low", fmt.Sprintf("p%s-%d", o, k%2), team, alerts.Warning, k, "3.5")
			mustApply(t, s, raise)
			mustApply(t, s, faultFinding("battery_low", fmt.Sprintf("d%s-%d", o, k), site, alerts.Warning, k))
		}
		if i%4 == 0 {
			mustApply(t, s, clinicalFinding("spo2_low", "p"+o, team, alerts.Urgent, 0, "90 %"))
		}
	}
	from, to := clk.now().Add(-time.Hour), clk.now().Add(time.Hour)
	named := alerts.Scope{}
	for _, o := range owners {
		if !strings.HasSuffix(o, "-gone") {
			named.Teams = append(named.Teams, "t"+o)
			named.Sites = append(named.Sites, "s"+o)
		}
	}
	for _, sc := range []struct {
		what  string
		scope alerts.Scope
		want  int // figures
	}{
		{"everything", alerts.Scope{All: true}, 2*len(owners) + (len(owners)+3)/4},
		{"every registered team and site named", named, 2*(len(owners)-2) + (len(owners)+3)/4 - 1},
	} {
		burden := func(split int) []alerts.Burden {
			t.Helper()
			s.burdenSplit = split
			got, err := s.AlertBurden(ctx, alerts.BurdenFilter{Scope: sc.scope, From: from, To: to})
			must(t, "AlertBurden", err)
			return got
		}
		whole := burden(1)
		if len(whole) != sc.want {
			t.Errorf("%s: %d figures read whole; want %d", sc.what, len(whole), sc.want)
		}
		// In PostgreSQL, the alerts grouped in hash tables (whole, above) or sorted.
		for _, sorted := range []bool{false, true} {
			s.burdenSorted = sorted
			for _, split := range []int{1, 2, 3, 4} {
				s.burdenSplit = split
				parts, err := s.burdenParts(ctx, alerts.BurdenFilter{Scope: sc.scope})
				must(t, "burdenParts", err)
				if len(parts) != split {
					t.Errorf("%s: %d parts; want %d", sc.what, len(parts), split)
				}
				if got := burden(split); !reflect.DeepEqual(got, whole) {
					t.Errorf("%s in %d parts, sorted %v:\n%+v\nwhole:\n%+v", sc.what, split, sorted, got, whole)
				}
			}
		}
		s.burdenSorted = false
	}
}
