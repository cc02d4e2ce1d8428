package store

import (
	"context"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Silences are kept with who made them, listed within a scope, newest first, found by the time
// they end, and deleted; each change audited on the silenced subject.
func testSilences(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	pat := alerts.Subject{Kind: "patient", ID: "p1"}
	dev := alerts.Subject{Kind: "device", ID: "cuff-1"}
	other := alerts.Subject{Kind: "patient", ID: "p3"} // team t2

	v0, _ := s.RegistryVersion(ctx)
	inHospital, err := s.CreateSilence(asAdmin, alerts.Silence{Subject: pat, From: t0, Until: t0.Add(3 * day), Reason: "in hospital"})
	must(t, "CreateSilence(p1)", err)
	if inHospital.ID == 0 || inHospital.CreatedBy != "admin:test" || inHospital.CreatedAt.IsZero() {
		t.Errorf("CreateSilence(p1) = %+v; want an id, who and when", inHospital)
	}
	repair, err := s.CreateSilence(asAdmin, alerts.Silence{Subject: dev, From: t0.Add(day), Until: t0.Add(2 * day), Reason: "sent for repair"})
	must(t, "CreateSilence(cuff-1)", err)
	away, err := s.CreateSilence(asAdmin, alerts.Silence{Subject: other, From: t0, Until: t0.Add(day), Reason: "travelling"})
	must(t, "CreateSilence(p3)", err)
	if v, _ := s.RegistryVersion(ctx); v != v0+3 {
		t.Errorf("RegistryVersion after three silences = %d; want %d", v, v0+3)
	}
	if log, _ := s.AuditLog(ctx, audit.Filter{Subject: "patient/p1", Action: "silence.create"}); len(log) != 1 {
		t.Errorf("audit of p1's silence = %+v; want one silence.create", log)
	}
	if got, err := s.GetSilence(ctx, inHospital.ID); err != nil || got != inHospital {
		t.Errorf("GetSilence(%d) = %+v, %v; want %+v", inHospital.ID, got, err, inHospital)
	}

	ids := func(ss []alerts.Silence) []int64 {
		out := []int64{}
		for _, si := range ss {
			out = append(out, si.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    alerts.SilenceFilter
		want []int64
	}{
		{"all", alerts.SilenceFilter{Scope: alerts.Scope{All: true}}, []int64{away.ID, repair.ID, inHospital.ID}},
		{"team t1", alerts.SilenceFilter{Scope: alerts.Scope{Teams: []string{"t1"}}}, []int64{inHospital.ID}},
		{"site s1", alerts.SilenceFilter{Scope: alerts.Scope{Sites: []string{"s1"}}}, []int64{repair.ID}},
		{"site s2", alerts.SilenceFilter{Scope: alerts.Scope{Sites: []string{"s2"}}}, []int64{}},
		{"team t1 and site s1", alerts.SilenceFilter{Scope: alerts.Scope{Teams: []string{"t1"}, Sites: []string{"s1"}}}, []int64{repair.ID, inHospital.ID}},
		{"nothing in scope", alerts.SilenceFilter{}, []int64{}},
		{"subject p3", alerts.SilenceFilter{Scope: alerts.Scope{All: true}, Subject: other}, []int64{away.ID}},
		{"ending after t0+1d", alerts.SilenceFilter{Scope: alerts.Scope{All: true}, EndsAfter: t0.Add(day)}, []int64{repair.ID, inHospital.ID}},
		{"before", alerts.SilenceFilter{Scope: alerts.Scope{All: true}, Before: away.ID, Limit: 1}, []int64{repair.ID}},
	} {
		got, err := s.ListSilences(ctx, tt.f)
		if err != nil || !equalIDs(ids(got), tt.want) {
			t.Errorf("ListSilences(%s) = %v, %v; want %v", tt.name, ids(got), err, tt.want)
		}
	}

	// The boundaries: in force from From, inclusive, until Until, exclusive; a silence that
	// ends exactly at t is not among those ending after t.
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(-time.Millisecond), false}, {t0, true}, {t0.Add(3*day - time.Millisecond), true}, {t0.Add(3 * day), false},
	} {
		if got := inHospital.Covers(pat, tt.at); got != tt.want {
			t.Errorf("the silence of p1 covers %s = %v; want %v", tt.at, got, tt.want)
		}
	}
	if got, err := s.SilencesEndingAfter(ctx, t0.Add(2*day)); err != nil || !equalIDs(ids(got), []int64{inHospital.ID}) {
		t.Errorf("SilencesEndingAfter(t0+2d) = %v, %v; want p1's only (cuff-1's ends at t0+2d)", ids(got), err)
	}
	if got, _ := s.SilencesEndingAfter(ctx, t0.Add(2*day-time.Millisecond)); len(got) != 2 {
		t.Errorf("SilencesEndingAfter(t0+2d-1ms) = %v; want p1's and cuff-1's", ids(got))
	}

	// Delete: audited, gone; again: not found.
	must(t, "DeleteSilence", s.DeleteSilence(asAdmin, repair.ID))
	wantCode(t, "DeleteSilence again", s.DeleteSilence(asAdmin, repair.ID), errcode.NotFound)
	_, err = s.GetSilence(ctx, repair.ID)
	wantCode(t, "GetSilence after delete", err, errcode.NotFound)
	if log, _ := s.AuditLog(ctx, audit.Filter{Subject: "device/cuff-1", Action: "silence.delete"}); len(log) != 1 {
		t.Errorf("audit of deleting cuff-1's silence = %+v; want one silence.delete", log)
	}

	// Refusals.
	for _, tt := range []struct {
		name string
		si   alerts.Silence
	}{
		{"no reason", alerts.Silence{Subject: pat, From: t0, Until: t0.Add(day)}},
		{"until before from", alerts.Silence{Subject: pat, From: t0, Until: t0, Reason: "x"}},
		{"too long", alerts.Silence{Subject: pat, From: t0, Until: t0.Add(alerts.MaxSilence + time.Second), Reason: "x"}},
		{"a team", alerts.Silence{Subject: alerts.Subject{Kind: "team", ID: "t1"}, From: t0, Until: t0.Add(day), Reason: "x"}},
		{"no such patient", alerts.Silence{Subject: alerts.Subject{Kind: "patient", ID: "p9"}, From: t0, Until: t0.Add(day), Reason: "x"}},
	} {
		_, err := s.CreateSilence(asAdmin, tt.si)
		wantCode(t, "CreateSilence("+tt.name+")", err, errcode.Invalid)
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A silenced finding is recorded, with the reason on the alert and its event, and notifies
// nobody; once the silence is over, the next finding notifies what it did not.
func testAlertSilencedFinding(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	for i := range 2 {
		silenced := clinicalFinding("glucose_very_low", "pA1", "tA", alerts.Urgent, i, "2.8 mmol/L")
		silenced.Silenced = "in hospital"
		a, ev, notify := mustApply(t, s, silenced)
		if notify || ev.Notify || a.Silenced != "in hospital" || a.NotifiedSeverity != 0 || a.Count != i+1 {
			t.Errorf("silenced finding %d = %+v, notify %v; want recorded, silenced, notifying nobody", i+1, a, notify)
		}
		if ev.Alert.Silenced != "in hospital" {
			t.Errorf("event of silenced finding %d: alert %+v; want it silenced", i+1, ev.Alert)
		}
	}
	stored, err := s.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}})
	if err != nil || len(stored) != 1 || stored[0].Silenced != "in hospital" || stored[0].Severity != alerts.Urgent {
		t.Fatalf("ListAlerts = %+v, %v; want the one urgent alert, silenced", stored, err)
	}
	history, err := s.AlertHistory(ctx, stored[0].ID)
	if err != nil || len(history) != 2 || history[0].Notify || history[1].Notify {
		t.Errorf("AlertHistory = %+v, %v; want two events that notified nobody", history, err)
	}
	a, _, notify := mustApply(t, s, clinicalFinding("glucose_very_low", "pA1", "tA", alerts.Urgent, 5, "2.9 mmol/L"))
	if !notify || a.Silenced != "" || a.NotifiedSeverity != alerts.Urgent {
		t.Errorf("finding after the silence = %+v, notify %v; want it to notify, no longer silenced", a, notify)
	}
}
