package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// EscalationStore is what the escalator needs of the store (store.Store).
type EscalationStore interface {
	// UnacknowledgedAlerts returns the open, urgent or critical clinical alerts that are
	// neither late nor in doubt and were notified at urgent or above.
	UnacknowledgedAlerts(ctx context.Context) ([]alerts.Unacknowledged, error)
	// EscalateAll takes each step whose alert is still open at level e.From, writing the
	// escalated event with it, and says for each what it did.
	EscalateAll(ctx context.Context, steps []alerts.Escalation) []alerts.Escalated
	GetTeam(ctx context.Context, id string) (devices.Team, error)
	GetSite(ctx context.Context, id string) (devices.Site, error)
}

// Escalator escalates unacknowledged urgent alerts (the policy of alerts.NextEscalation) and publishes the
// escalated events to the hub.
type Escalator struct {
	store     EscalationStore
	hub       alerts.Publisher
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

// NewEscalator returns an escalator over store that publishes to hub (the Hub, through
// Metrics.Counting in serve; none if nil), with ackWithin for teams that set none, on the
// clock now.
func NewEscalator(store EscalationStore, hub alerts.Publisher, ackWithin time.Duration, now func() time.Time, log *slog.Logger) *Escalator {
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
func (e *Escalator) Tick(ctx context.Context) ([]alerts.Event, error) {
	pending, err := e.store.UnacknowledgedAlerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("unacknowledged alerts: %w", err)
	}
	now := e.now()
	teams := map[string]devices.Team{}
	opens := map[string]bool{} // by site
	var steps []alerts.Escalation
	var events []alerts.Event
	var errs []error
	for _, u := range pending {
		team, ok := teams[u.Team]
		if !ok {
			if team, err = e.team(ctx, u.Team); err != nil {
				errs = append(errs, err)
				continue
			}
			teams[u.Team] = team
		}
		siteID := team.SiteID
		if siteID == "" {
			siteID = u.Site
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
		if step, due := alerts.NextEscalation(u, team, open, ack, now); due {
			steps = append(steps, step)
		}
	}
	for i, done := range e.store.EscalateAll(ctx, steps) {
		step, a := steps[i], done.Alert
		switch {
		case done.Err != nil:
			errs = append(errs, fmt.Errorf("escalating alert %d: %w", step.AlertID, done.Err))
			continue
		case !done.Took:
			continue // another instance took this step, or the alert was acknowledged meanwhile
		}
		events = append(events, done.Event)
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
	var de *errcode.Error
	if errors.As(err, &de) && de.Code == errcode.NotFound {
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
	var de *errcode.Error
	if errors.As(err, &de) && de.Code == errcode.NotFound {
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
