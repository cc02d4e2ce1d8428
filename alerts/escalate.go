package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Escalation (DESIGN.md "Alerts"): an urgent or critical clinical alert that nobody
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
//   - Out of the centre's opening hours (OpeningHours, in the site's time zone), an alert not
//     yet escalated goes to the first on-call person at once (level 2), without waiting and
//     without the lead. This holds for critical alerts as for urgent ones. A team with no
//     roster waits for its lead as in the day. Empty or unparseable opening hours count as
//     always open, so that a bad value never bypasses the lead during the day.
//   - The escalated event is written with the alert in one transaction; its Actor is
//     SystemActor, its Note the user id escalated to (empty: no one), it notifies, and the
//     alert snapshot carries the new level. Each step is claimed by a conditional update of
//     the level the escalator read, so that several instances escalate each step once.

// Unacknowledged is an alert that may be due to escalate, as the store reports it.
type Unacknowledged struct {
	Alert Alert
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

// EscalationStore is what the escalator needs of the store (store.Store).
type EscalationStore interface {
	// UnacknowledgedAlerts returns the open, urgent or critical clinical alerts that are
	// neither late nor in doubt and were notified at urgent or above.
	UnacknowledgedAlerts(ctx context.Context) ([]Unacknowledged, error)
	// Escalate takes the step if the alert is still open at level e.From, writing the
	// escalated event with it, and reports whether it did.
	Escalate(ctx context.Context, e Escalation) (Alert, Event, bool, error)
	GetTeam(ctx context.Context, id string) (devices.Team, error)
	GetSite(ctx context.Context, id string) (devices.Site, error)
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
	level := u.Alert.EscalationLevel
	step := Escalation{AlertID: u.Alert.ID, From: level, At: now}
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

// Escalator escalates unacknowledged urgent alerts (see the top of the file) and publishes the
// escalated events to the hub.
type Escalator struct {
	store     EscalationStore
	hub       *Hub
	ackWithin time.Duration
	now       func() time.Time
	log       *slog.Logger

	mu    sync.Mutex
	hours map[[2]string]siteHours // by opening hours text and zone
}

type siteHours struct {
	h   OpeningHours
	loc *time.Location
}

// NewEscalator returns an escalator over store that publishes to hub (none if nil), with
// ackWithin for teams that set none, on the clock now.
func NewEscalator(store EscalationStore, hub *Hub, ackWithin time.Duration, now func() time.Time, log *slog.Logger) *Escalator {
	return &Escalator{store: store, hub: hub, ackWithin: ackWithin, now: now, log: log.With("component", "escalation"),
		hours: map[[2]string]siteHours{}}
}

// Run escalates what is due every interval until ctx ends, then returns nil; a failed step is
// tried again at the next interval.
func (e *Escalator) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("escalating alerts; trying again at the next tick", "err", err)
		}
	}
}

// Tick takes every escalation step due now and returns the events written. An alert that
// cannot be escalated does not stop the others; the error joins every failure.
func (e *Escalator) Tick(ctx context.Context) ([]Event, error) {
	pending, err := e.store.UnacknowledgedAlerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("unacknowledged alerts: %w", err)
	}
	now := e.now()
	teams := map[string]devices.Team{}
	opens := map[string]bool{} // by site
	var events []Event
	var errs []error
	for _, u := range pending {
		team, ok := teams[u.Alert.Team]
		if !ok {
			if team, err = e.team(ctx, u.Alert.Team); err != nil {
				errs = append(errs, err)
				continue
			}
			teams[u.Alert.Team] = team
		}
		siteID := team.SiteID
		if siteID == "" {
			siteID = u.Alert.Site
		}
		open, ok := opens[siteID]
		if !ok {
			if open, err = e.open(ctx, siteID, now); err != nil {
				errs = append(errs, err)
				continue
			}
			opens[siteID] = open
		}
		ack := team.AckWithin
		if ack <= 0 {
			ack = e.ackWithin
		}
		step, due := NextEscalation(u, team, open, ack, now)
		if !due {
			continue
		}
		a, ev, took, err := e.store.Escalate(ctx, step)
		if err != nil {
			errs = append(errs, fmt.Errorf("escalating %s: %w", u.Alert, err))
			continue
		}
		if !took {
			continue // another instance took this step, or the alert was acknowledged meanwhile
		}
		events = append(events, ev)
		if step.Target == "" {
			e.log.Warn("alert escalated to no one: the team has no lead and no on-call roster", "alert", a.ID,
				"team", a.Team, "rule", a.Rule, "reason", step.Reason)
		} else {
			e.log.Info("alert escalated", "alert", a.ID, "team", a.Team, "rule", a.Rule, "level", step.To,
				"to", step.Target, "reason", step.Reason)
		}
	}
	if e.hub != nil && len(events) > 0 {
		e.hub.Publish(events...)
	}
	return events, errors.Join(errs...)
}

// team returns the team an alert is routed to; a team that no longer exists has no one to page.
func (e *Escalator) team(ctx context.Context, id string) (devices.Team, error) {
	if id == "" {
		return devices.Team{}, nil
	}
	t, err := e.store.GetTeam(ctx, id)
	var de *devices.Error
	if errors.As(err, &de) && de.Code == devices.NotFound {
		return devices.Team{ID: id}, nil
	}
	if err != nil {
		return t, fmt.Errorf("team %s: %w", id, err)
	}
	return t, nil
}

// open reports whether the site is open at now; an unknown site is.
func (e *Escalator) open(ctx context.Context, siteID string, now time.Time) (bool, error) {
	if siteID == "" {
		return true, nil
	}
	site, err := e.store.GetSite(ctx, siteID)
	var de *devices.Error
	if errors.As(err, &de) && de.Code == devices.NotFound {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("site %s: %w", siteID, err)
	}
	key := [2]string{site.OpeningHours, site.TimeZone}
	e.mu.Lock()
	sh, ok := e.hours[key]
	if !ok {
		h, loc, err := SiteHours(site.OpeningHours, site.TimeZone)
		if err != nil {
			e.log.Warn("site opening hours not understood; counted as always open", "site", site.ID, "err", err)
		}
		sh = siteHours{h, loc}
		e.hours[key] = sh
	}
	e.mu.Unlock()
	return sh.h.Open(now.In(sh.loc)), nil
}
