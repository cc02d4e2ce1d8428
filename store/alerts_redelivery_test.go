package store

import (
	"context"
	"testing"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// testAlertRedeliveredFinding: a finding recorded again with the same reading, as when the
// broker delivers a message again to a standby after the instance that recorded it died before
// acknowledging it, changes nothing: the alert counts the reading once, no event is written
// and nobody is notified. A new reading still counts, and the first one again, after it, still
// does not.
func testAlertRedeliveredFinding(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	s, standby := mustOpen(t, dsn), mustOpen(t, dsn)
	first := clinicalFinding("spo2_low", "pR1", "tA", alerts.Urgent, 0, "88 %")
	raised, ev, notify := mustApply(t, s, first)
	if ev.Type != alerts.EventRaised || !notify || raised.Count != 1 {
		t.Fatalf("raise: %s, notify %v, count %d; want raised, notifying, count 1", ev.Type, notify, raised.Count)
	}
	check := func(step string, f alerts.Finding, wantCount int, wantEvent alerts.EventType) {
		t.Helper()
		a, ev, notify, err := standby.ApplyFinding(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if a.ID != raised.ID || a.Count != wantCount || ev.Type != wantEvent || (wantEvent == "") != (ev.ID == 0) || notify {
			t.Errorf("%s: alert %d count %d, event %q (id %d), notify %v; want alert %d count %d, event %q, no notification",
				step, a.ID, a.Count, ev.Type, ev.ID, notify, raised.ID, wantCount, wantEvent)
		}
	}
	check("the same reading again", first, 1, "")
	check("a new reading", clinicalFinding("spo2_low", "pR1", "tA", alerts.Urgent, 1, "87 %"), 2, alerts.EventUpdated)
	check("the first reading once more", first, 2, "")

	history, err := s.AlertHistory(ctx, raised.ID)
	must(t, "AlertHistory", err)
	if len(history) != 2 || history[0].Type != alerts.EventRaised || history[1].Type != alerts.EventUpdated {
		t.Errorf("history %v; want raised, updated", history)
	}
	stored, err := s.GetAlert(ctx, raised.ID)
	must(t, "GetAlert", err)
	if stored.Count != 2 || len(stored.Evidence) != 2 {
		t.Errorf("stored alert: count %d, %d readings of evidence; want 2 and 2", stored.Count, len(stored.Evidence))
	}
}
