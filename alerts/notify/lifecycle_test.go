package notify_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
)

// Apply records every finding, publishes the events they wrote, and says which notify: a new
// alert or a rise, never a late or doubtful finding. A plain repeat that a later finding of the
// same alert in the batch follows writes no event of its own (the store's batch).
func TestLifecycleApply(t *testing.T) {
	f := newFixture(t, notify.HubOptions{})
	sub := f.subscribe(alerts.Scope{All: true})

	late := clinical("bp_high", "pA1", "tA", alerts.Urgent)
	late.Late = true
	doubt := clinical("spo2_low", "pA2", "tA", alerts.Urgent)
	doubt.Doubt = "sensor_malfunction"
	clear := fault("offline", "dA1", "sA", 0)
	clear.Resolve = true
	nothingOpen := fault("battery_low", "dA1", "sA", 0)
	nothingOpen.Resolve = true
	changes, err := f.life.Apply(context.Background(), []alerts.Finding{
		clinical("glucose_low", "pA1", "tA", alerts.Warning), // raised: notifies
		clinical("glucose_low", "pA1", "tA", alerts.Warning), // repeat: the rise's event shows it
		clinical("glucose_low", "pA1", "tA", alerts.Urgent),  // rise: notifies
		late,
		doubt,
		fault("offline", "dA1", "sA", alerts.Warning), // raised: notifies
		nothingOpen, // changes nothing
		clear,       // resolves the fault
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		n := ""
		if c.Notify {
			n = " notify"
		}
		got = append(got, c.Alert.Rule+" "+string(c.Event.Type)+n)
	}
	want := []string{"glucose_low raised notify", "glucose_low severity_raised notify",
		"bp_high raised", "spo2_low raised", "offline raised notify", "offline resolved"}
	if !slices.Equal(got, want) {
		t.Errorf("changes = %q; want %q", got, want)
	}
	evs := receive(t, sub, len(want))
	for i, ev := range evs {
		if ev.ID != changes[i].Event.ID || ev.Notify != changes[i].Notify {
			t.Errorf("published event %d (notify %v); want %d (notify %v)", ev.ID, ev.Notify, changes[i].Event.ID, changes[i].Notify)
		}
	}
	quiet(t, sub)
	stored, err := f.store.GetAlert(context.Background(), changes[2].Alert.ID)
	if err != nil || !stored.Late || stored.Severity != alerts.Info {
		t.Errorf("the late alert as stored = %+v, %v; want late, info", stored, err)
	}
}

// A finding that cannot be recorded does not stop the others; Apply reports it.
func TestLifecycleApplyGoesOnAfterAnError(t *testing.T) {
	f := newFixture(t, notify.HubOptions{})
	bad := clinical("", "pA1", "tA", alerts.Warning)
	changes, err := f.life.Apply(context.Background(), []alerts.Finding{bad, clinical("fever", "pA1", "tA", alerts.Warning)})
	if err == nil || !strings.Contains(err.Error(), "no rule") {
		t.Errorf("Apply with a finding without a rule = %v; want an error saying so", err)
	}
	if len(changes) != 1 || changes[0].Alert.Rule != "fever" {
		t.Errorf("changes = %+v; want the fever alert", changes)
	}
}
