package alerts

import (
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

func TestNextEscalation(t *testing.T) {
	paged := time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	after := func(m float64) time.Time { return paged.Add(time.Duration(m * float64(time.Minute))) }
	full := devices.Team{ID: "t1", Lead: "lead", OnCall: []string{"oc1", "oc2"}}
	noLead := devices.Team{ID: "t1", OnCall: []string{"oc1"}}
	nobody := devices.Team{ID: "t1"}
	leadOnCall := devices.Team{ID: "t1", Lead: "lead", OnCall: []string{"lead", "oc2"}}
	at := func(level int, escalatedMin float64, to string) Unacknowledged {
		u := Unacknowledged{ID: 7, Level: level, PagedAt: paged, EscalatedTo: to}
		if level > 0 {
			u.EscalatedAt = after(escalatedMin)
		}
		return u
	}
	for _, tt := range []struct {
		name   string
		u      Unacknowledged
		team   devices.Team
		closed bool
		now    time.Time
		due    bool
		to     int
		target string
	}{
		{"not yet at 14:59", at(0, 0, ""), full, false, after(14 + 59.0/60), false, 0, ""},
		{"the lead at 15:00", at(0, 0, ""), full, false, after(15), true, 1, "lead"},
		{"the lead when late", at(0, 0, ""), full, false, after(40), true, 1, "lead"},
		{"on-call not before 15 more minutes", at(1, 15, "lead"), full, false, after(29.9), false, 0, ""},
		{"on-call at 30:00", at(1, 15, "lead"), full, false, after(30), true, 2, "oc1"},
		{"down the roster", at(2, 30, "oc1"), full, false, after(45), true, 3, "oc2"},
		{"stops after the roster", at(3, 45, "oc2"), full, false, after(120), false, 0, ""},
		{"no lead skips to on-call", at(0, 0, ""), noLead, false, after(15), true, 2, "oc1"},
		{"no one: recorded once", at(0, 0, ""), nobody, false, after(15), true, 1, ""},
		{"no one: only once", at(1, 15, ""), nobody, false, after(60), false, 0, ""},
		{"a lead on call is not paged twice running", at(1, 15, "lead"), leadOnCall, false, after(30), true, 3, "oc2"},
		{"out of hours: on-call at once", at(0, 0, ""), full, true, after(0), true, 2, "oc1"},
		{"out of hours without a lead", at(0, 0, ""), noLead, true, after(1), true, 2, "oc1"},
		{"out of hours without a roster waits for the lead", at(0, 0, ""), devices.Team{Lead: "lead"}, true, after(1), false, 0, ""},
		{"out of hours after the lead: the usual wait", at(1, 15, "lead"), full, true, after(20), false, 0, ""},
		{"never paged", Unacknowledged{ID: 7}, full, true, after(60), false, 0, ""},
	} {
		step, due := NextEscalation(tt.u, tt.team, !tt.closed, 15*time.Minute, tt.now)
		if due != tt.due || due && (step.To != tt.to || step.Target != tt.target || step.From != tt.u.Level ||
			step.AlertID != 7 || !step.At.Equal(tt.now)) {
			t.Errorf("%s: NextEscalation = %+v, %v; want due %v to level %d, %q", tt.name, step, due, tt.due, tt.to, tt.target)
		}
	}
}

// The team's own acknowledgement time is what NextEscalation is given: 5 minutes escalates at 5.
func TestNextEscalationAckWithin(t *testing.T) {
	paged := time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	u := Unacknowledged{ID: 1, PagedAt: paged}
	team := devices.Team{Lead: "lead"}
	if _, due := NextEscalation(u, team, true, 5*time.Minute, paged.Add(5*time.Minute-time.Second)); due {
		t.Errorf("due before 5 minutes")
	}
	if s, due := NextEscalation(u, team, true, 5*time.Minute, paged.Add(5*time.Minute)); !due || s.Target != "lead" {
		t.Errorf("NextEscalation at 5 minutes = %+v, %v; want the lead", s, due)
	}
}

func TestAlertEscalate(t *testing.T) {
	now := time.Date(2026, 11, 3, 2, 15, 0, 0, time.UTC)
	a := Alert{ID: 3, Severity: Urgent, State: Open}
	ev := a.Escalate(Escalation{AlertID: 3, From: 0, To: 2, Target: "oc1", At: now})
	if a.EscalationLevel != 2 || !a.UpdatedAt.Equal(now) {
		t.Errorf("escalated alert = %+v; want level 2, updated at %v", a, now)
	}
	if ev.Type != EventEscalated || ev.Note != "oc1" || ev.Actor != SystemActor || !ev.Notify || ev.Severity != Urgent {
		t.Errorf("event = %+v; want escalated, noting oc1, by the system, notifying, urgent", ev)
	}
}
