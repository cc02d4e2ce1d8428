package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// alertBase is the measurement time of the first reading in the alert tests.
var alertBase = time.Date(2026, 11, 22, 7, 30, 0, 0, time.UTC)

// clinicalFinding is a finding of rule on patient of team, measured minutes after alertBase.
func clinicalFinding(rule, patient, team string, sev alerts.Severity, minutes int, value string) alerts.Finding {
	at := alertBase.Add(time.Duration(minutes) * time.Minute)
	return alerts.Finding{Rule: rule, RuleVersion: 1, Category: alerts.Clinical, Severity: sev,
		Subject: alerts.Subject{Kind: "patient", ID: patient}, Patient: patient, Device: "cuff-" + patient, Team: team,
		Site: "s-" + team, At: at, Value: value, Thresholds: map[string]float64{"low": 3.9},
		Evidence: []alerts.Evidence{{Device: "cuff-" + patient, Measurement: "glucose", Time: at, Value: float64(minutes)}}}
}

// faultFinding is a finding of rule on device at site, measured minutes after alertBase.
func faultFinding(rule, device, site string, sev alerts.Severity, minutes int) alerts.Finding {
	at := alertBase.Add(time.Duration(minutes) * time.Minute)
	return alerts.Finding{Rule: rule, RuleVersion: 2, Category: alerts.Fault, Severity: sev,
		Subject: alerts.Subject{Kind: "device", ID: device}, Device: device, Site: site, At: at, Value: "12%"}
}

// sameAsStored fails the test unless the alert as stored is a, as the change returned it.
func sameAsStored(t *testing.T, s *Store, what string, a alerts.Alert) {
	t.Helper()
	got, err := s.GetAlert(context.Background(), a.ID)
	must(t, "GetAlert", err)
	if !reflect.DeepEqual(got, a) {
		t.Errorf("%s: stored\n %+v\nreturned\n %+v", what, got, a)
	}
}

// mustApply records f and fails the test at once on an error.
func mustApply(t *testing.T, s *Store, f alerts.Finding) (alerts.Alert, alerts.Event, bool) {
	t.Helper()
	a, ev, notify, err := s.ApplyFinding(context.Background(), f)
	if err != nil {
		t.Fatalf("ApplyFinding(%s on %s): %v", f.Rule, f.Subject, err)
	}
	return a, ev, notify
}

// eventTypes lists the types of events, in order.
func eventTypes(evs []alerts.Event) []alerts.EventType {
	out := []alerts.EventType{}
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// A finding raises an alert and notifies; repeats update it without notifying, unless the
// severity rises; out-of-order readings widen its times without replacing its last value.
func testAlertRaiseAndRepeat(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)

	a, ev, notify := mustApply(t, s, clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 0, "3.5 mmol/L"))
	if !notify || a.ID == 0 || a.State != alerts.Open || a.Count != 1 || a.Severity != alerts.Warning ||
		a.LastValue != "3.5 mmol/L" || !a.FirstSeen.Equal(alertBase) || a.Team != "tA" || a.NotifiedSeverity != alerts.Warning {
		t.Fatalf("raised %+v, notify %v; want an open warning alert of tA, count 1, notifying", a, notify)
	}
	if ev.ID == 0 || ev.Type != alerts.EventRaised || !ev.Notify || ev.AlertID != a.ID || ev.Alert.ID != a.ID ||
		ev.Actor != alerts.SystemActor || ev.Alert.Evidence != nil {
		t.Errorf("raise event = %+v; want raised, notify, about alert %d, by the system, without evidence", ev, a.ID)
	}
	first := a.ID

	steps := []struct {
		name       string
		sev        alerts.Severity
		minutes    int
		value      string
		notify     bool
		typ        alerts.EventType
		severity   alerts.Severity
		lastValue  string
		firstSeen  int
		lastSeenAt int
	}{
		{"repeat", alerts.Warning, 5, "3.4 mmol/L", false, alerts.EventUpdated, alerts.Warning, "3.4 mmol/L", 0, 5},
		{"out of order", alerts.Warning, -5, "3.6 mmol/L", false, alerts.EventUpdated, alerts.Warning, "3.4 mmol/L", -5, 5},
		{"rise", alerts.Urgent, 10, "2.9 mmol/L", true, alerts.EventSeverityRaised, alerts.Urgent, "2.9 mmol/L", -5, 10},
		{"lower again", alerts.Warning, 15, "3.3 mmol/L", false, alerts.EventUpdated, alerts.Urgent, "3.3 mmol/L", -5, 15},
		{"rise to critical", alerts.Critical, 20, "2.1 mmol/L", true, alerts.EventSeverityRaised, alerts.Critical, "2.1 mmol/L", -5, 20},
	}
	for i, st := range steps {
		a, ev, notify := mustApply(t, s, clinicalFinding("glucose_low", "pA1", "tA", st.sev, st.minutes, st.value))
		if a.ID != first || notify != st.notify || ev.Type != st.typ || ev.Notify != st.notify || a.Severity != st.severity ||
			a.Count != i+2 || a.LastValue != st.lastValue || ev.Severity != st.severity {
			t.Errorf("%s: alert %d %v count %d last %q, event %s notify %v; want alert %d %v count %d last %q, event %s notify %v",
				st.name, a.ID, a.Severity, a.Count, a.LastValue, ev.Type, notify, first, st.severity, i+2, st.lastValue, st.typ, st.notify)
		}
		sameAsStored(t, s, st.name, a)
		if !a.FirstSeen.Equal(alertBase.Add(time.Duration(st.firstSeen)*time.Minute)) ||
			!a.LastSeen.Equal(alertBase.Add(time.Duration(st.lastSeenAt)*time.Minute)) {
			t.Errorf("%s: seen %v - %v; want %d to %d minutes after %v", st.name, a.FirstSeen, a.LastSeen, st.firstSeen, st.lastSeenAt, alertBase)
		}
	}

	// A repeat writes only the columns it changes: a change of team (and site) is stored too.
	moved, _, _ := mustApply(t, s, clinicalFinding("glucose_low", "pA1", "tB", alerts.Warning, 25, "3.2 mmol/L"))
	if moved.Team != "tB" || moved.Site != "s-tB" || moved.LastValue != "3.2 mmol/L" {
		t.Errorf("after a finding of team tB the alert is of %s at %s, last %q", moved.Team, moved.Site, moved.LastValue)
	}
	sameAsStored(t, s, "a change of team", moved)
	mustApply(t, s, clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 26, "3.2 mmol/L"))

	got, err := s.GetAlert(ctx, first)
	must(t, "GetAlert", err)
	if got.Count != 8 || got.Severity != alerts.Critical || len(got.Evidence) != 8 || got.Thresholds["low"] != 3.9 ||
		got.Subject != (alerts.Subject{Kind: "patient", ID: "pA1"}) || got.RuleVersion != 1 || got.Category != alerts.Clinical {
		t.Errorf("GetAlert(%d) = %+v; want count 8, critical, 8 readings, the thresholds", first, got)
	}
	hist, err := s.AlertHistory(ctx, first)
	must(t, "AlertHistory", err)
	want := []alerts.EventType{alerts.EventRaised, alerts.EventUpdated, alerts.EventUpdated, alerts.EventSeverityRaised,
		alerts.EventUpdated, alerts.EventSeverityRaised, alerts.EventUpdated, alerts.EventUpdated}
	if !slices.Equal(eventTypes(hist), want) {
		t.Errorf("history = %v; want %v", eventTypes(hist), want)
	}
	for i := 1; i < len(hist); i++ {
		if hist[i].ID <= hist[i-1].ID || hist[i].Alert.Count != i+1 {
			t.Errorf("event %d: id %d after %d, alert count %d; want rising ids and the count after each change", i, hist[i].ID, hist[i-1].ID, hist[i].Alert.Count)
		}
	}

	// Another subject, or another rule on the same subject, is another alert.
	other, _, notify := mustApply(t, s, clinicalFinding("glucose_low", "pA2", "tA", alerts.Warning, 0, "3.5 mmol/L"))
	rule, _, notify2 := mustApply(t, s, clinicalFinding("glucose_very_low", "pA1", "tA", alerts.Urgent, 0, "2.9 mmol/L"))
	if other.ID == first || rule.ID == first || other.ID == rule.ID || !notify || !notify2 {
		t.Errorf("alerts %d (pA2) and %d (another rule) should be new and notify, beside %d", other.ID, rule.ID, first)
	}

	// Evidence is bounded: the first readings and the latest.
	for i := range 40 {
		mustApply(t, s, clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 100+i, "3.5 mmol/L"))
	}
	got, err = s.GetAlert(ctx, first)
	must(t, "GetAlert", err)
	if len(got.Evidence) != alerts.EvidenceFirst+alerts.EvidenceLatest {
		t.Fatalf("evidence after 46 findings holds %d readings; want %d", len(got.Evidence), alerts.EvidenceFirst+alerts.EvidenceLatest)
	}
	var values []float64
	for _, e := range got.Evidence {
		values = append(values, e.Value)
	}
	if values[0] != 0 || values[1] != 5 || values[4] != 15 || values[5] != 120 || values[len(values)-1] != 139 {
		t.Errorf("evidence values = %v; want the first 5 (0 5 -5 10 15) and the latest 20 (120-139)", values)
	}
}

// A resolving finding resolves an open fault as the system, and a clinical alert with the
// finding's note (a normal BP retest); with nothing open it changes nothing.
func testAlertResolveByFinding(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	fault, _, _ := mustApply(t, s, faultFinding("battery_low", "dA1", "sA", alerts.Warning, 0))
	clear := faultFinding("battery_low", "dA1", "sA", 0, 30)
	clear.Resolve = true
	a, ev, notify := mustApply(t, s, clear)
	if a.ID != fault.ID || a.State != alerts.Resolved || a.ResolvedBy != alerts.SystemActor || a.ResolvedAt.IsZero() ||
		a.ResolutionNote == "" || ev.Type != alerts.EventResolved || ev.Actor != alerts.SystemActor || notify || ev.ID == 0 {
		t.Errorf("cleared fault = %+v, event %+v, notify %v; want alert %d resolved by the system, not notifying", a, ev, notify, fault.ID)
	}
	// Nothing is open now: the next clearing changes nothing, the next finding raises anew.
	a, ev, notify = mustApply(t, s, clear)
	if ev.ID != 0 || a.ID != 0 || notify {
		t.Errorf("clearing with nothing open = %+v, event %+v; want nothing", a, ev)
	}
	again, ev, notify := mustApply(t, s, faultFinding("battery_low", "dA1", "sA", alerts.Warning, 60))
	if again.ID == fault.ID || again.State != alerts.Open || ev.Type != alerts.EventRaised || !notify {
		t.Errorf("fault after it cleared = alert %d %s, %s; want a new open alert, raised", again.ID, again.State, ev.Type)
	}

	crisis, _, _ := mustApply(t, s, clinicalFinding("bp_crisis", "pA1", "tA", alerts.Urgent, 0, "185/121 mm[Hg]"))
	retest := clinicalFinding("bp_crisis", "pA1", "tA", 0, 10, "128/82 mm[Hg]")
	retest.Resolve, retest.Note = true, "retest 128/82 mm[Hg] is normal"
	a, ev, _ = mustApply(t, s, retest)
	if a.ID != crisis.ID || a.State != alerts.Resolved || a.ResolvedBy != alerts.SystemActor ||
		a.ResolutionNote != retest.Note || ev.Note != retest.Note || len(a.Evidence) != 2 {
		t.Errorf("crisis after a normal retest = %+v; want alert %d resolved by the system with the note and both readings", a, crisis.ID)
	}
	hist, err := s.AlertHistory(context.Background(), crisis.ID)
	must(t, "AlertHistory", err)
	if want := []alerts.EventType{alerts.EventRaised, alerts.EventResolved}; !slices.Equal(eventTypes(hist), want) {
		t.Errorf("history of the crisis = %v; want %v", eventTypes(hist), want)
	}
}

// People acknowledge and resolve: open -> acknowledged -> resolved, or open -> resolved; any
// other step is a Conflict naming the state; a clinical alert needs a note to be resolved.
func testAlertAcknowledgeResolve(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	doc := audit.WithActor(ctx, "user:doc")
	c, _, _ := mustApply(t, s, clinicalFinding("spo2_low", "pA1", "tA", alerts.Urgent, 0, "89 %"))

	_, _, err := s.AcknowledgeAlert(ctx, c.ID, "")
	wantCode(t, "AcknowledgeAlert without an actor", err, errcode.Invalid)
	_, _, err = s.AcknowledgeAlert(doc, 999, "")
	wantCode(t, "AcknowledgeAlert(999)", err, errcode.NotFound)
	_, _, err = s.AcknowledgeAlert(doc, c.ID, strings.Repeat("x", alerts.MaxNote+1))
	wantCode(t, "AcknowledgeAlert with a long note", err, errcode.Invalid)

	a, ev, err := s.AcknowledgeAlert(doc, c.ID, "calling the patient")
	must(t, "AcknowledgeAlert", err)
	if a.State != alerts.Acknowledged || a.AcknowledgedBy != "user:doc" || a.AcknowledgeNote != "calling the patient" ||
		a.AcknowledgedAt.IsZero() || ev.Type != alerts.EventAcknowledged || ev.Actor != "user:doc" || ev.Notify ||
		ev.Alert.State != alerts.Acknowledged {
		t.Errorf("acknowledged = %+v, event %+v", a, ev)
	}
	_, _, err = s.AcknowledgeAlert(doc, c.ID, "")
	wantCode(t, "AcknowledgeAlert twice", err, errcode.Conflict)
	if err == nil || !strings.Contains(err.Error(), "is acknowledged") {
		t.Errorf("second acknowledgement = %v; want it to name the state", err)
	}

	// A rise in severity notifies again, and leaves it acknowledged.
	a, ev, notify := mustApply(t, s, clinicalFinding("spo2_low", "pA1", "tA", alerts.Critical, 5, "84 %"))
	if a.State != alerts.Acknowledged || !notify || ev.Type != alerts.EventSeverityRaised {
		t.Errorf("rise after acknowledgement = %s, %s, notify %v; want acknowledged, severity_raised, notify", a.State, ev.Type, notify)
	}

	_, _, err = s.ResolveAlert(doc, c.ID, "  ")
	wantCode(t, "ResolveAlert of a clinical alert without a note", err, errcode.Invalid)
	a, ev, err = s.ResolveAlert(doc, c.ID, "oxygen started at home")
	must(t, "ResolveAlert", err)
	if a.State != alerts.Resolved || a.ResolvedBy != "user:doc" || a.ResolutionNote != "oxygen started at home" ||
		ev.Type != alerts.EventResolved || a.AcknowledgedBy != "user:doc" {
		t.Errorf("resolved = %+v, event %+v", a, ev)
	}
	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"ResolveAlert twice", func() error { _, _, err := s.ResolveAlert(doc, c.ID, "again"); return err }},
		{"AcknowledgeAlert when resolved", func() error { _, _, err := s.AcknowledgeAlert(doc, c.ID, ""); return err }},
	} {
		err := step.do()
		wantCode(t, step.name, err, errcode.Conflict)
		if err == nil || !strings.Contains(err.Error(), "is resolved") {
			t.Errorf("%s = %v; want it to name the state", step.name, err)
		}
	}

	// A fault goes from open to resolved by a person, without a note.
	f, _, _ := mustApply(t, s, faultFinding("offline", "dA1", "sA", alerts.Warning, 0))
	fleet := audit.WithActor(ctx, "user:fleet")
	a, _, err = s.ResolveAlert(fleet, f.ID, "")
	must(t, "ResolveAlert of a fault", err)
	if a.State != alerts.Resolved || a.ResolvedBy != "user:fleet" {
		t.Errorf("resolved fault = %+v", a)
	}

	entries, err := s.AuditLog(ctx, audit.Filter{Subject: fmt.Sprintf("alert/%d", c.ID)})
	must(t, "AuditLog", err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" by "+e.Actor)
	}
	if want := []string{"alert.resolve by user:doc", "alert.acknowledge by user:doc"}; !slices.Equal(got, want) {
		t.Errorf("audit of alert %d = %v; want %v", c.ID, got, want)
	}
	hist, err := s.AlertHistory(ctx, c.ID)
	must(t, "AlertHistory", err)
	want := []alerts.EventType{alerts.EventRaised, alerts.EventAcknowledged, alerts.EventSeverityRaised, alerts.EventResolved}
	if !slices.Equal(eventTypes(hist), want) {
		t.Errorf("history = %v; want %v", eventTypes(hist), want)
	}
	_, err = s.AlertHistory(ctx, 999)
	wantCode(t, "AlertHistory(999)", err, errcode.NotFound)
	_, err = s.GetAlert(ctx, 999)
	wantCode(t, "GetAlert(999)", err, errcode.NotFound)
}

// Late and doubtful findings are recorded but never notify; a clean finding later notifies
// what they did not.
func testAlertLateAndDoubt(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	late := clinicalFinding("bp_high", "pA1", "tA", alerts.Urgent, 0, "165/100 mm[Hg]")
	late.Late = true
	a, ev, notify := mustApply(t, s, late)
	if notify || ev.Notify || !a.Late || a.Severity != alerts.Info || a.NotifiedSeverity != 0 {
		t.Errorf("late finding = %+v, notify %v; want a late info alert that notified nobody", a, notify)
	}
	a, ev, notify = mustApply(t, s, clinicalFinding("bp_high", "pA1", "tA", alerts.Urgent, 600, "166/101 mm[Hg]"))
	if !notify || a.Late || a.Severity != alerts.Urgent || ev.Type != alerts.EventSeverityRaised {
		t.Errorf("live finding after a late one = %+v, %s, notify %v; want urgent, no longer late, notifying", a, ev.Type, notify)
	}

	doubt := clinicalFinding("spo2_low", "pA2", "tA", alerts.Urgent, 0, "88 %")
	doubt.Doubt = "sensor_malfunction"
	for range 2 {
		a, ev, notify = mustApply(t, s, doubt)
		if notify || ev.Notify || a.Doubt != "sensor_malfunction" || a.Severity != alerts.Urgent {
			t.Errorf("doubtful finding = %+v, notify %v; want urgent, in doubt, not notifying", a, notify)
		}
	}
	clean := clinicalFinding("spo2_low", "pA2", "tA", alerts.Urgent, 5, "87 %")
	a, ev, notify = mustApply(t, s, clean)
	if !notify || a.Doubt != "" || ev.Type != alerts.EventUpdated || a.NotifiedSeverity != alerts.Urgent {
		t.Errorf("clean finding after doubtful ones = %+v, %s, notify %v; want updated, notifying, no doubt", a, ev.Type, notify)
	}
	if _, _, notify = mustApply(t, s, clean); notify {
		t.Error("a second clean finding at the same severity notified")
	}
}

// N identical findings recorded at once, through two stores ("instances") on one database,
// make one alert with count N, and exactly one of them notifies.
func testAlertConcurrentFindings(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	instances := []*Store{mustOpen(t, dsn), mustOpen(t, dsn)}
	const n = 16
	for round, f := range []alerts.Finding{
		clinicalFinding("glucose_very_low", "pA1", "tA", alerts.Urgent, 0, "2.8 mmol/L"),
		faultFinding("offline", "dA1", "sA", alerts.Warning, 0),
	} {
		type result struct {
			alert  alerts.Alert
			event  alerts.Event
			notify bool
			err    error
		}
		results := make(chan result, n)
		var start sync.WaitGroup
		start.Add(1)
		for i := range n {
			go func() {
				start.Wait()
				g := f // each finding a reading of its own: the same reading again counts once
				if len(g.Evidence) > 0 {
					g.Evidence = []alerts.Evidence{g.Evidence[0]}
					g.Evidence[0].Value = float64(i)
				}
				a, ev, notify, err := instances[i%2].ApplyFinding(ctx, g)
				results <- result{a, ev, notify, err}
			}()
		}
		start.Done()
		notified, ids, events := 0, map[int64]bool{}, map[int64]bool{}
		for range n {
			r := <-results
			if r.err != nil {
				t.Fatalf("round %d: ApplyFinding alongside others: %v", round, r.err)
			}
			ids[r.alert.ID] = true
			events[r.event.ID] = true
			if r.notify {
				notified++
			}
		}
		if len(ids) != 1 || notified != 1 || len(events) != n {
			t.Errorf("round %d: %d concurrent findings gave alerts %v, %d notifications, %d distinct events; want one alert, one notification, %d events",
				round, n, ids, notified, len(events), n)
		}
		list, err := instances[0].ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}, Rule: f.Rule})
		must(t, "ListAlerts", err)
		if len(list) != 1 || list[0].Count != n {
			t.Errorf("round %d: alerts of %s = %+v; want one with count %d", round, f.Rule, list, n)
			continue
		}
		hist, err := instances[1].AlertHistory(ctx, list[0].ID)
		must(t, "AlertHistory", err)
		types := eventTypes(hist)
		if len(types) != n || types[0] != alerts.EventRaised || slices.Contains(types[1:], alerts.EventRaised) {
			t.Errorf("round %d: history = %v; want raised then %d updated", round, types, n-1)
		}
	}
}

// The feed's events come in ID order after a given ID, scoped by the alert's routing, each
// with the alert as it was after that change.
func testAlertEventsFeed(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	last, err := s.LastAlertEventID(ctx)
	if err != nil || last != 0 {
		t.Fatalf("LastAlertEventID() of an empty store = %d, %v; want 0", last, err)
	}
	_, e1, _ := mustApply(t, s, clinicalFinding("fever", "pA1", "tA", alerts.Warning, 0, "38.4 Cel"))
	_, e2, _ := mustApply(t, s, clinicalFinding("fever", "pB1", "tB", alerts.Warning, 0, "38.6 Cel"))
	_, e3, _ := mustApply(t, s, faultFinding("battery_low", "dA1", "sA", alerts.Warning, 0))
	_, e4, _ := mustApply(t, s, faultFinding("battery_low", "dB1", "sB", alerts.Warning, 0))
	_, e5, err := s.AcknowledgeAlert(audit.WithActor(ctx, "user:doc"), e1.AlertID, "")
	must(t, "AcknowledgeAlert", err)
	_, e6, _ := mustApply(t, s, clinicalFinding("fever", "pA1", "tA", alerts.Urgent, 30, "39.4 Cel"))

	if last, err = s.LastAlertEventID(ctx); err != nil || last != e6.ID {
		t.Errorf("LastAlertEventID() = %d, %v; want %d", last, err, e6.ID)
	}
	ids := func(evs []alerts.Event) []int64 {
		out := []int64{}
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		after int64
		scope alerts.Scope
		limit int
		want  []int64
	}{
		{"all", 0, alerts.Scope{All: true}, 0, []int64{e1.ID, e2.ID, e3.ID, e4.ID, e5.ID, e6.ID}},
		{"after the second", e2.ID, alerts.Scope{All: true}, 0, []int64{e3.ID, e4.ID, e5.ID, e6.ID}},
		{"limit", 0, alerts.Scope{All: true}, 2, []int64{e1.ID, e2.ID}},
		{"team tA", 0, alerts.Scope{Teams: []string{"tA"}}, 0, []int64{e1.ID, e5.ID, e6.ID}},
		{"site sA", 0, alerts.Scope{Sites: []string{"sA"}}, 0, []int64{e3.ID}},
		{"team tB and site sB", e1.ID, alerts.Scope{Teams: []string{"tB"}, Sites: []string{"sB"}}, 0, []int64{e2.ID, e4.ID}},
		{"clinical site is not a fault site", 0, alerts.Scope{Sites: []string{"s-tA"}}, 0, []int64{}},
		{"nothing", 0, alerts.Scope{}, 0, []int64{}},
	} {
		evs, err := s.AlertEvents(ctx, tt.after, tt.scope, tt.limit)
		if err != nil || !slices.Equal(ids(evs), tt.want) {
			t.Errorf("%s: AlertEvents(%d, %+v) = %v, %v; want %v", tt.name, tt.after, tt.scope, ids(evs), err, tt.want)
		}
	}
	evs, err := s.AlertEvents(ctx, 0, alerts.Scope{Teams: []string{"tA"}}, 0)
	must(t, "AlertEvents", err)
	var states []string
	for _, ev := range evs {
		states = append(states, fmt.Sprintf("%s %s %v", ev.Type, ev.Alert.State, ev.Alert.Severity))
	}
	if want := []string{"raised open warning", "acknowledged acknowledged warning", "severity_raised acknowledged urgent"}; !slices.Equal(states, want) {
		t.Errorf("tA's events with their alerts = %v; want %v", states, want)
	}
}

// Lists filter, scope and page alerts, newest first, without their evidence.
func testListAlerts(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	a1, _, _ := mustApply(t, s, clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 0, "3.5"))
	a2, _, _ := mustApply(t, s, clinicalFinding("glucose_very_low", "pA2", "tA", alerts.Urgent, 60, "2.8"))
	a3, _, _ := mustApply(t, s, clinicalFinding("glucose_low", "pB1", "tB", alerts.Warning, 120, "3.6"))
	a4, _, _ := mustApply(t, s, faultFinding("offline", "dA1", "sA", alerts.Warning, 180))
	a5, _, _ := mustApply(t, s, faultFinding("battery_low", "dB1", "sB", alerts.Critical, 240))
	_, _, err := s.ResolveAlert(audit.WithActor(ctx, "user:doc"), a1.ID, "eating now")
	must(t, "ResolveAlert", err)
	all := alerts.Scope{All: true}
	for _, tt := range []struct {
		name string
		f    alerts.Filter
		want []int64
	}{
		{"all", alerts.Filter{Scope: all}, []int64{a5.ID, a4.ID, a3.ID, a2.ID, a1.ID}},
		{"no scope", alerts.Filter{}, []int64{}},
		{"open", alerts.Filter{Scope: all, State: alerts.Open}, []int64{a5.ID, a4.ID, a3.ID, a2.ID}},
		{"resolved", alerts.Filter{Scope: all, State: alerts.Resolved}, []int64{a1.ID}},
		{"urgent or worse", alerts.Filter{Scope: all, MinSeverity: alerts.Urgent}, []int64{a5.ID, a2.ID}},
		{"rule", alerts.Filter{Scope: all, Rule: "glucose_low"}, []int64{a3.ID, a1.ID}},
		{"faults", alerts.Filter{Scope: all, Category: alerts.Fault}, []int64{a5.ID, a4.ID}},
		{"patient", alerts.Filter{Scope: all, Patient: "pA2"}, []int64{a2.ID}},
		{"device", alerts.Filter{Scope: all, Device: "dB1"}, []int64{a5.ID}},
		{"team", alerts.Filter{Scope: all, Team: "tB"}, []int64{a3.ID}},
		{"site", alerts.Filter{Scope: all, Site: "sA"}, []int64{a4.ID}},
		{"since", alerts.Filter{Scope: all, Since: alertBase.Add(time.Hour)}, []int64{a5.ID, a4.ID, a3.ID, a2.ID}},
		{"until", alerts.Filter{Scope: all, Until: alertBase.Add(time.Hour)}, []int64{a1.ID}},
		{"page", alerts.Filter{Scope: all, Limit: 2}, []int64{a5.ID, a4.ID}},
		{"next page", alerts.Filter{Scope: all, Limit: 2, Before: a4.ID}, []int64{a3.ID, a2.ID}},
		{"doctor of tA", alerts.Filter{Scope: alerts.Scope{Teams: []string{"tA"}}}, []int64{a2.ID, a1.ID}},
		{"fleet of sB", alerts.Filter{Scope: alerts.Scope{Sites: []string{"sB"}}}, []int64{a5.ID}},
		{"fleet of sA asks for sB", alerts.Filter{Scope: alerts.Scope{Sites: []string{"sA"}}, Site: "sB"}, []int64{}},
	} {
		got, err := s.ListAlerts(ctx, tt.f)
		if err != nil {
			t.Errorf("%s: ListAlerts: %v", tt.name, err)
			continue
		}
		ids := []int64{}
		for _, a := range got {
			ids = append(ids, a.ID)
			if a.Evidence != nil {
				t.Errorf("%s: alert %d in a list has evidence", tt.name, a.ID)
			}
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: ListAlerts(%+v) = %v; want %v", tt.name, tt.f, ids, tt.want)
		}
	}
}

// A finding that cannot be stored is Invalid and writes nothing.
func testApplyFindingRefusesBadFindings(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	good := faultFinding("offline", "dA1", "sA", alerts.Warning, 0)
	for _, tt := range []struct {
		name   string
		change func(f *alerts.Finding)
	}{
		{"no rule", func(f *alerts.Finding) { f.Rule = " " }},
		{"no category", func(f *alerts.Finding) { f.Category = "" }},
		{"subject kind", func(f *alerts.Finding) { f.Subject.Kind = "site" }},
		{"no subject", func(f *alerts.Finding) { f.Subject.ID = "" }},
		{"no severity", func(f *alerts.Finding) { f.Severity = 0 }},
		{"severity out of range", func(f *alerts.Finding) { f.Severity = 9 }},
		{"long note", func(f *alerts.Finding) { f.Note = strings.Repeat("é", alerts.MaxNote+1) }},
	} {
		f := good
		tt.change(&f)
		_, _, _, err := s.ApplyFinding(ctx, f)
		wantCode(t, "ApplyFinding with "+tt.name, err, errcode.Invalid)
	}
	if last, _ := s.LastAlertEventID(ctx); last != 0 {
		t.Errorf("refused findings wrote events up to %d", last)
	}
}

// A reader that follows the events by "after the last ID I saw", as the hub does, misses none
// while many transactions write at once: IDs become visible in order.
func testAlertEventsVisibleInIDOrder(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	writers := []*Store{mustOpen(t, dsn), mustOpen(t, dsn)}
	reader := mustOpen(t, dsn)
	const goroutines, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				f := faultFinding("offline", fmt.Sprintf("d-%d-%d", g, i%5), "sA", alerts.Warning, i)
				if _, _, _, err := writers[g%2].ApplyFinding(ctx, f); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[int64]bool{}
	var last int64
	follow := func() {
		evs, err := reader.AlertEvents(ctx, last, alerts.Scope{All: true}, 1000)
		must(t, "AlertEvents", err)
		for _, ev := range evs {
			seen[ev.ID] = true
			last = ev.ID
		}
	}
	for following := true; following; {
		select {
		case <-done:
			following = false
		default:
		}
		follow()
	}
	follow()
	close(errs)
	for err := range errs {
		t.Fatalf("ApplyFinding alongside others: %v", err)
	}
	all, err := reader.AlertEvents(ctx, 0, alerts.Scope{All: true}, 1000)
	must(t, "AlertEvents", err)
	var missed []int64
	for _, ev := range all {
		if !seen[ev.ID] {
			missed = append(missed, ev.ID)
		}
	}
	if len(all) != goroutines*each || len(missed) > 0 {
		t.Errorf("%d events written, %d in the store; following them missed %v", goroutines*each, len(all), missed)
	}
}
