package alerts

import (
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Escalation (docs/design.md "Alerts"): an urgent or critical clinical alert that nobody
// acknowledges in time is paged again, further up the team's chain.
//   - Which alerts: open (not acknowledged, not resolved), clinical, urgent or critical, neither
//     late nor in doubt. Fault alerts never escalate: they go to the fleet managers of a site,
//     who have no lead or on-call rota, and a device fault is not a patient waiting for care.
//   - The chain: level 1 is the team lead, level 2 the first person of the on-call roster,
//     level 3 the second, and so on. EscalationLevel is the level reached. A level without a
//     person (no lead) is skipped; a team with no one at all records one escalation (level 1)
//     with no target, and the escalator logs a warning. After the last person, it stops.
//   - When: the team's AckWithin (else the default, alerts.escalate_after) after people were
//     first notified of the alert at urgent or above (for an alert raised urgent: when it was
//     raised; for a warning that rose to urgent: when it rose), and again AckWithin after each
//     escalation. So with 15 minutes: the lead at 15:00, the on-call person at 30:00.
//   - Out of the centre's opening hours (notify.OpeningHours, in the site's time zone), an alert not
//     yet escalated goes to the first on-call person at once (level 2), without waiting and
//     without the lead. This holds for critical alerts as for urgent ones. A team with no
//     roster waits for its lead as in the day. Empty or unparseable opening hours count as
//     always open, so that a bad value never bypasses the lead during the day.
//   - The escalated event is written with the alert in one transaction; its Actor is
//     SystemActor, its Note the user id escalated to (empty: no one), it notifies, and the
//     alert snapshot carries the new level. Each step is claimed by a conditional update of
//     the level the escalator read, so that several instances escalate each step once.

// Unacknowledged is an alert that may be due to escalate, as the store reports it: only what
// escalating needs, which the store reads without reading the alert.
type Unacknowledged struct {
	ID         int64
	Team, Site string
	// Level is the alert's EscalationLevel.
	Level int
	// PagedAt is when people were first notified of the alert at urgent or above.
	PagedAt time.Time
	// EscalatedAt and EscalatedTo are when and to whom it last escalated; zero and "" if never.
	EscalatedAt time.Time
	EscalatedTo string
}

// Escalation is one step of an alert up its team's chain.
type Escalation struct {
	AlertID int64
	From    int // the level the escalator read: the step is taken only if the alert is still there
	To      int
	Target  string // the user id paged; "" when the team has no one
	At      time.Time
	Reason  string // why, for the log: "not acknowledged within 15m0s" or "out of opening hours"
}

// Escalated is what the store did with one Escalation: whether it took the step (false when
// the alert was no longer open at that level), and if so the alert and its escalated event.
type Escalated struct {
	Alert Alert
	Event Event
	Took  bool
	Err   error
}

// EscalationTarget is who level escalates to in team's chain: the lead at 1, the on-call
// roster from 2; "" if nobody.
func EscalationTarget(team devices.Team, level int) string {
	switch {
	case level == 1:
		return team.Lead
	case level >= 2 && level-2 < len(team.OnCall):
		return team.OnCall[level-2]
	}
	return ""
}

// NextEscalation says whether u escalates at now, and to whom, for its team, whether the
// centre is open at now, and the acknowledgement time that applies (see the top of the file).
func NextEscalation(u Unacknowledged, team devices.Team, open bool, ackWithin time.Duration, now time.Time) (Escalation, bool) {
	level := u.Level
	step := Escalation{AlertID: u.ID, From: level, At: now}
	if u.PagedAt.IsZero() {
		return step, false
	}
	if level == 0 && !open && len(team.OnCall) > 0 {
		step.To, step.Target, step.Reason = 2, team.OnCall[0], "out of the centre's opening hours"
		return step, true
	}
	since := u.PagedAt
	if u.EscalatedAt.After(since) {
		since = u.EscalatedAt
	}
	if now.Sub(since) < ackWithin {
		return step, false
	}
	step.Reason = fmt.Sprintf("not acknowledged within %v", ackWithin)
	for l := level + 1; l <= 1+len(team.OnCall); l++ {
		if t := EscalationTarget(team, l); t != "" && t != u.EscalatedTo {
			step.To, step.Target = l, t
			return step, true
		}
	}
	if level == 0 {
		step.To = 1 // nobody to page: recorded, once
		return step, true
	}
	return step, false
}

// Escalate moves the alert to step's level and returns its escalated event.
func (a *Alert) Escalate(step Escalation) Event {
	a.EscalationLevel, a.UpdatedAt = step.To, step.At
	return Event{Type: EventEscalated, At: step.At, Actor: SystemActor, Note: step.Target, Severity: a.Severity, Notify: true}
}
