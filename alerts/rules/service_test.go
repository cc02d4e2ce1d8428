package rules_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/store"
)

// serviceFixture is the alert service of one instance over a seeded SQLite store: team tA at
// site sA with patients pA1 and pA2, team tB at sB; glucose meters gA1 and gA2 at sA, and gA3
// under maintenance.
type serviceFixture struct {
	t     *testing.T
	store *store.Store
	view  *devices.View
	svc   *rules.Service
}

var asSeed = audit.WithActor(context.Background(), "test:seed")

func newServiceFixture(t *testing.T) *serviceFixture {
	t.Helper()
	st := openStore(t, filepath.Join(t.TempDir(), "vw.db"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateSites(asSeed, []devices.Site{{ID: "sA", Name: "Riverside CHC"}, {ID: "sB", Name: "Hilltop CHC"}}))
	must(st.CreateTeams(asSeed, []devices.Team{{ID: "tA", SiteID: "sA", Name: "Team A"}, {ID: "tB", SiteID: "sB", Name: "Team B"}}))
	must(st.CreatePatients(asSeed, []devices.Patient{{ID: "pA1", TeamID: "tA"}, {ID: "pA2", TeamID: "tA"}}))
	meter := func(id string, status devices.Status) devices.Device {
		return devices.Device{ID: id, Kind: devices.GlucoseMeter, SiteID: "sA", Mode: devices.Home, Status: status,
			SecretHash: devices.HashSecret("secret of " + id)}
	}
	must(st.CreateDevices(asSeed, []devices.Device{meter("gA1", devices.Active), meter("gA2", devices.Active), meter("gA3", devices.Maintenance)}))
	log := slog.New(slog.DiscardHandler)
	f := &serviceFixture{t: t, store: st, view: devices.NewView(devices.NewDirectory(-1, nil, nil, nil))}
	f.refresh()
	f.svc = rules.NewService(rules.NewEngine(rules.DefaultRules(), time.Now), alerts.NewLifecycle(st, nil, log), f.view, log)
	f.svc.UseSettings(st)
	return f
}

// refresh loads the registry into the view, as serve does every refresh interval.
func (f *serviceFixture) refresh() {
	f.t.Helper()
	if err := devices.Refresh(context.Background(), f.view, f.store); err != nil {
		f.t.Fatal(err)
	}
}

// glucose observes a glucose reading of device for patient, measured and received at.
func (f *serviceFixture) glucose(device, patient string, v float64, at time.Time) {
	f.t.Helper()
	d, ok := f.view.Load().Device(device)
	if !ok {
		f.t.Fatalf("no device %s", device)
	}
	m := reading.Message{Device: device, Patient: patient, Readings: []reading.Reading{{Type: reading.Glucose, Time: at, Value: v}}}
	if err := f.svc.Observe(context.Background(), []alerts.Observation{{Device: d, Message: &m, Patient: patient, Received: at}}); err != nil {
		f.t.Fatal(err)
	}
}

// open returns the open alerts of rule, by subject id.
func (f *serviceFixture) open(rule string) map[string]alerts.Alert {
	f.t.Helper()
	as, err := f.store.ListAlerts(context.Background(), alerts.Filter{Scope: alerts.Scope{All: true}, Rule: rule, State: alerts.Open})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]alerts.Alert{}
	for _, a := range as {
		out[a.Subject.ID] = a
	}
	return out
}

// A patient's override changes what fires for them and for nobody else, and stays theirs
// after a transfer.
func TestServiceAppliesOverrides(t *testing.T) {
	f := newServiceFixture(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := f.store.SetOverrides(asSeed, rules.PatientOverrides, "pA1", rules.Overrides{alerts.RuleGlucoseLow: {"below": 4.5}}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.glucose("gA1", "pA1", 4.2, now.Add(-2*time.Minute))
	f.glucose("gA2", "pA2", 4.2, now.Add(-2*time.Minute))
	got := f.open(alerts.RuleGlucoseLow)
	if len(got) != 1 || got["pA1"].Thresholds["below"] != 4.5 {
		t.Fatalf("open glucose_low alerts after 4.2 for both = %+v; want pA1's only, with below 4.5", got)
	}

	// A team's override reaches pA2; pA1's own still wins over it.
	if err := f.store.SetOverrides(asSeed, rules.TeamOverrides, "tA", rules.Overrides{alerts.RuleGlucoseLow: {"below": 4.3}}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.glucose("gA2", "pA2", 4.2, now.Add(-time.Minute))
	if got := f.open(alerts.RuleGlucoseLow); len(got) != 2 || got["pA2"].Thresholds["below"] != 4.3 {
		t.Errorf("open glucose_low alerts after the team's override = %+v; want pA2's too, with below 4.3", got)
	}

	// Transferred to tB, which has no override, pA1 keeps their own.
	if err := f.store.TransferPatient(asSeed, "pA1", "tB", devices.PolicyTravel, now.Add(-90*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.glucose("gA1", "pA1", 4.4, now.Add(-time.Minute))
	a := f.open(alerts.RuleGlucoseLow)["pA1"]
	if a.Count != 2 || a.Team != "tB" || a.Thresholds["below"] != 4.5 {
		t.Errorf("pA1's glucose_low after the transfer = %+v; want count 2, team tB, below 4.5", a)
	}
	// Deleted, pA1 is back on the rules file (3.9): 3.95 no longer counts.
	if err := f.store.DeleteOverrides(asSeed, rules.PatientOverrides, "pA1"); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.glucose("gA1", "pA1", 3.95, now)
	if a := f.open(alerts.RuleGlucoseLow)["pA1"]; a.Count != 2 {
		t.Errorf("pA1's glucose_low after deleting the override = count %d; want still 2", a.Count)
	}
}

// A finding about a silenced patient, or a fault of a device under maintenance, is recorded
// with the reason and notifies nobody; outside the silence it notifies.
func TestServiceSilences(t *testing.T) {
	f := newServiceFixture(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := f.store.CreateSilence(asSeed, alerts.Silence{Subject: alerts.Subject{Kind: "patient", ID: "pA2"},
		From: now.Add(-10 * time.Minute), Until: now.Add(-2 * time.Minute), Reason: "in hospital"}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.glucose("gA2", "pA2", 2.5, now.Add(-5*time.Minute))
	f.glucose("gA1", "pA1", 2.5, now.Add(-5*time.Minute))
	got := f.open(alerts.RuleGlucoseVeryLow)
	if a := got["pA2"]; a.Silenced != "in hospital" || a.NotifiedSeverity != 0 {
		t.Errorf("pA2's glucose_very_low in hospital = %+v; want recorded, silenced, notifying nobody", a)
	}
	if a := got["pA1"]; a.Silenced != "" || a.NotifiedSeverity != alerts.Urgent {
		t.Errorf("pA1's glucose_very_low = %+v; want it to notify", a)
	}
	// After the silence ends (exclusive), the next reading notifies.
	f.glucose("gA2", "pA2", 2.6, now.Add(-2*time.Minute))
	if a := f.open(alerts.RuleGlucoseVeryLow)["pA2"]; a.Silenced != "" || a.NotifiedSeverity != alerts.Urgent || a.Count != 2 {
		t.Errorf("pA2's glucose_very_low after the silence = %+v; want it to notify now", a)
	}

	// Maintenance: gA3's battery fault is silenced; gA1's is not.
	for _, id := range []string{"gA3", "gA1"} {
		d, _ := f.view.Load().Device(id)
		m := reading.Message{Device: id, Battery: 3, HasBattery: true}
		if err := f.svc.Observe(ctx, []alerts.Observation{{Device: d, Message: &m, Received: now}}); err != nil {
			t.Fatal(err)
		}
	}
	faults := f.open(alerts.RuleBatteryLow)
	if a := faults["gA3"]; a.Silenced != alerts.MaintenanceReason || a.NotifiedSeverity != 0 {
		t.Errorf("gA3's battery_low under maintenance = %+v; want silenced", a)
	}
	if a := faults["gA1"]; a.ID == 0 || a.Silenced != "" || a.NotifiedSeverity == 0 {
		t.Errorf("gA1's battery_low = %+v; want it to notify", a)
	}
}

func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
