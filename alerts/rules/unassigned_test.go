package rules_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// An SOS or a fall from a device that has no patient at its time (lent to nobody, or measured
// before the loan) still reaches people: it goes to the fleet managers of the device's site,
// critical, about the device, with where it happened.

func unassigned(d devices.Device, t time.Time, r reading.Reading) rules.Input {
	in := input(d, t, r)
	in.Patient = devices.Patient{}
	return in
}

func TestUnassignedSOS(t *testing.T) {
	e, _ := newEngine(t)
	sos := event(reading.SOS)
	sos.Lat, sos.Lon, sos.HasLocation = 31.2304, 121.4737, true
	fs := e.Reading(unassigned(watch, t0, sos))
	check(t, "Reading(sos) of a device lent to nobody", fs, "sos_unassigned critical")
	if len(fs) != 1 {
		return
	}
	f := fs[0]
	if f.Category != alerts.Fault || f.Subject != (alerts.Subject{Kind: "device", ID: watch.ID}) || f.Device != watch.ID ||
		f.Site != "centre-1" || f.Team != "" || f.Patient != "" || f.Late || f.Doubt != "" ||
		!reflect.DeepEqual(f.Location, &alerts.Location{Lat: 31.2304, Lon: 121.4737}) || len(f.Evidence) != 1 {
		t.Errorf("finding = %+v; want a critical alert about %s, routed to site centre-1, with its location and evidence", f, watch.ID)
	}
	for _, s := range []string{"SOS", "31.2304,121.4737", watch.ID, "centre-1", "no patient"} {
		if !strings.Contains(f.Value, s) {
			t.Errorf("Value = %q; want it to name %q", f.Value, s)
		}
	}

	// An SOS long over, from a backlog, is recorded late like any other.
	e, _ = newEngine(t)
	in := unassigned(watch, t0.Add(3*time.Hour), at(event(reading.SOS), t0))
	check(t, "Reading(sos 3 h old)", e.Reading(in), "sos_unassigned info late")
}

func TestUnassignedFall(t *testing.T) {
	e, _ := newEngine(t)
	check(t, "Reading(fall) of a device lent to nobody", e.Reading(unassigned(watch, t0, event(reading.Fall))))
	check(t, "Tick within the confirm window", e.Tick(t0.Add(30*time.Second)))
	fs := e.Tick(t0.Add(31 * time.Second))
	check(t, "Tick after the confirm window", fs, "fall_unassigned critical")
	if len(fs) == 1 && (fs[0].Category != alerts.Fault || fs[0].Site != "centre-1" || fs[0].Subject.ID != watch.ID) {
		t.Errorf("finding = %+v; want about %s, to site centre-1", fs[0], watch.ID)
	}

	// The wearer cancels within the window: nothing.
	e, _ = newEngine(t)
	e.Reading(unassigned(watch, t0, event(reading.Fall)))
	check(t, "Reading(cancel) 10 s later", e.Reading(unassigned(watch, t0.Add(10*time.Second), event(reading.Cancel))))
	check(t, "Tick after the window", e.Tick(t0.Add(time.Minute)))

	// The rule is its own: off, it raises nothing, and the patient's fall rule is untouched.
	rs, err := rules.ParseRules([]byte("version: 2\nrules:\n  fall_unassigned:\n    enabled: false\n  sos_unassigned:\n    enabled: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	e = rules.NewEngine(rs, func() time.Time { return t0 })
	e.Reading(unassigned(watch, t0, event(reading.Fall)))
	check(t, "unassigned sos with the rule off", e.Reading(unassigned(watch, t0, event(reading.SOS))))
	check(t, "Tick after an unassigned fall with the rule off", e.Tick(t0.Add(time.Minute)))
	check(t, "a patient's sos", e.Reading(input(watch, t0.Add(2*time.Minute), event(reading.SOS))), "sos critical")
}

// Through the service: a wearable at site sA that is lent to nobody sends an SOS. The alert is
// in the store, routed to sA, critical, notified, visible to sA's fleet managers and not to
// another site's; a silence or maintenance of the device does not hold it back.
func TestServiceUnassignedSOSGoesToTheSite(t *testing.T) {
	f := newServiceFixture(t)
	ctx := context.Background()
	band := devices.Device{ID: "wA1", Kind: devices.Wearable, SiteID: "sA", Mode: devices.Home, Status: devices.Maintenance,
		SecretHash: devices.HashSecret("secret of wA1")}
	if err := f.store.CreateDevices(asSeed, []devices.Device{band}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := f.store.CreateSilence(asSeed, alerts.Silence{Subject: alerts.Subject{Kind: "device", ID: "wA1"},
		From: now.Add(-time.Hour), Until: now.Add(time.Hour), Reason: "sent for repair"}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	d, ok := f.view.Load().Device("wA1")
	if !ok {
		t.Fatal("no device wA1 in the view")
	}
	if p := f.view.Load().PatientAt("wA1", now); p != "" {
		t.Fatalf("wA1 is lent to %s; want nobody", p)
	}
	m := reading.Message{Device: "wA1", Readings: []reading.Reading{{Type: reading.SOS, Time: now, Lat: 31.2304, Lon: 121.4737, HasLocation: true}}}
	if err := f.svc.Observe(ctx, []alerts.Observation{{Device: d, Message: &m, Received: now}}); err != nil {
		t.Fatal(err)
	}
	as, err := f.store.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{Sites: []string{"sA"}}, Rule: alerts.RuleSOSUnassigned})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 {
		t.Fatalf("sos_unassigned alerts that sA's fleet managers see = %d; want 1", len(as))
	}
	a := as[0]
	if a.Category != alerts.Fault || a.Site != "sA" || a.Device != "wA1" || a.Severity != alerts.Critical ||
		a.NotifiedSeverity != alerts.Critical || a.Silenced != "" || a.State != alerts.Open ||
		!strings.Contains(a.LastValue, "31.2304,121.4737") || !strings.Contains(a.LastValue, "Riverside CHC") {
		t.Errorf("alert = %+v; want open, critical and notified, for site sA, about wA1, with its location and site", a)
	}
	other, err := f.store.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{Sites: []string{"sB"}}, Rule: alerts.RuleSOSUnassigned})
	if err != nil || len(other) != 0 {
		t.Errorf("sos_unassigned alerts that sB sees = %d, %v; want none", len(other), err)
	}
}
