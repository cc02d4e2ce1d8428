package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// Escalation of unacknowledged urgent alerts (alerts/escalate.go, migration 0011). The
// escalator reads the candidates without locks; each step is then claimed by an UPDATE that
// requires the level it read and the alert still open, so that of several instances one takes
// the step and the others change nothing, and an acknowledgement in between stops it.

// unacknowledgedPage is how many alerts one query of UnacknowledgedAlerts reads; it reads page
// after page until it has them all.
const unacknowledgedPage = 1000

// UnacknowledgedAlerts returns the open, urgent or critical clinical alerts that are neither
// late nor in doubt and were notified at urgent or above, oldest first, each with its team,
// site and level, when it was first notified at urgent or above and when and to whom it last
// escalated. It returns every one, a page at a time: alerts that have reached the end of their
// team's chain stay open until someone acknowledges them, and a single page of the oldest
// would fill up with them and hide every newer alert from the escalator. It reads indexes
// only (migration 0027), not the alerts' rows.
func (s *Alerts) UnacknowledgedAlerts(ctx context.Context) ([]alerts.Unacknowledged, error) {
	return s.unacknowledgedAlerts(ctx, unacknowledgedPage)
}

// unacknowledgedQuery reads a page of UnacknowledgedAlerts after the alert id $1, from the
// indexes alerts_unacknowledged and alert_events_paged.
func unacknowledgedQuery(page int) string {
	return `SELECT id, team, site, escalation_level, escalated_ms, escalated_to,
			(SELECT MIN(e.at_ms) FROM alert_events e WHERE e.alert_id = alerts.id AND e.notify = 1 AND e.severity >= 3)
		FROM alerts
		WHERE state = 'open' AND category = 'clinical' AND severity >= 3 AND late = 0 AND doubt = '' AND id > $1
		ORDER BY id LIMIT ` + fmt.Sprint(page)
}

func (s *Alerts) unacknowledgedAlerts(ctx context.Context, page int) ([]alerts.Unacknowledged, error) {
	q := unacknowledgedQuery(page)
	var kept []alerts.Unacknowledged
	for after := int64(0); ; {
		out, err := queryAll(ctx, s.readers, q, []any{after}, func(sc scanner) (alerts.Unacknowledged, error) {
			var u alerts.Unacknowledged
			var escalated, paged sql.NullInt64
			err := sc.Scan(&u.ID, &u.Team, &u.Site, &u.Level, &escalated, &u.EscalatedTo, &paged)
			u.EscalatedAt, u.PagedAt = fromMillis(escalated), fromMillis(paged)
			return u, err
		})
		if err != nil {
			return nil, fmt.Errorf("unacknowledged alerts: %w", err)
		}
		// An alert never notified at urgent or above (it rose while in doubt) has paged no one yet.
		for _, u := range out {
			if !u.PagedAt.IsZero() {
				kept = append(kept, u)
			}
		}
		if len(out) < page {
			return kept, nil
		}
		after = out[len(out)-1].ID
	}
}

// Escalate takes step e: if alert e.AlertID is still open at level e.From, it moves to level
// e.To, records when and to whom, and writes the escalated event in the same transaction. It
// reports false, changing nothing, when the alert is no longer there (another instance took the
// step, or someone acknowledged or resolved it).
func (s *Alerts) Escalate(ctx context.Context, e alerts.Escalation) (alerts.Alert, alerts.Event, bool, error) {
	a, ev, took, err := s.escalate(ctx, e)
	if err != nil {
		return alerts.Alert{}, alerts.Event{}, false, fmt.Errorf("escalate %s to level %d: %w", alertSubject(e.AlertID), e.To, err)
	}
	return a, ev, took, nil
}

// maxEscalationBatch is the most steps EscalateAll takes in one transaction.
const maxEscalationBatch = 256

// EscalateAll takes each step as Escalate would, one after the other, and says what each did.
// In SQLite up to maxEscalationBatch steps go in one transaction, with each statement prepared
// once: when many alerts fall due together (the first tick after a restart, or a closing time
// that sends every open alert to the on-call person) that is one commit instead of hundreds. If
// the transaction fails, it is rolled back and its steps are taken one at a time, each with its
// own error, so that one alert that cannot be escalated holds up no other. PostgreSQL takes them
// one at a time, as ApplyFindings does its findings, for the same reason.
func (s *Alerts) EscalateAll(ctx context.Context, steps []alerts.Escalation) []alerts.Escalated {
	out := make([]alerts.Escalated, len(steps))
	for start := 0; start < len(steps); start += maxEscalationBatch {
		end := min(start+maxEscalationBatch, len(steps))
		part, done := steps[start:end], out[start:end]
		if s.dialect == sqlite && s.escalateBatch(ctx, part, done) == nil {
			continue
		}
		for i, e := range part {
			done[i].Alert, done[i].Event, done[i].Took, done[i].Err = s.Escalate(ctx, e)
		}
	}
	return out
}

// escalateBatch takes steps in one transaction, filling out, and leaves out as it was unless it
// commits.
func (s *Alerts) escalateBatch(ctx context.Context, steps []alerts.Escalation, out []alerts.Escalated) error {
	done := make([]alerts.Escalated, len(steps))
	err := s.alertBatch(ctx, len(steps), func(q querier, i int) (bool, error) {
		a, ev, took, err := s.escalateIn(ctx, q, steps[i])
		done[i] = alerts.Escalated{Alert: a, Event: ev, Took: took}
		return took, err
	}, nil)
	if err != nil {
		return err
	}
	copy(out, done)
	return nil
}

func (s *Alerts) escalate(ctx context.Context, e alerts.Escalation) (alerts.Alert, alerts.Event, bool, error) {
	tx, err := s.beginAlertWrite(ctx)
	if err != nil {
		return alerts.Alert{}, alerts.Event{}, false, err
	}
	defer tx.Rollback()
	a, ev, took, err := s.escalateIn(ctx, tx, e)
	if err != nil || !took {
		return alerts.Alert{}, alerts.Event{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return alerts.Alert{}, alerts.Event{}, false, err
	}
	return a, ev, true, nil
}

// escalateIn takes step e in the transaction q: Escalate's work, without the commit.
func (s *Alerts) escalateIn(ctx context.Context, q querier, e alerts.Escalation) (alerts.Alert, alerts.Event, bool, error) {
	at := time.UnixMilli(e.At.UnixMilli()).UTC()
	e.At = at
	res, err := q.ExecContext(ctx, `UPDATE alerts SET escalation_level = $3, escalated_ms = $4, escalated_to = $5, updated_ms = $4
		WHERE id = $1 AND escalation_level = $2 AND state = 'open'`, e.AlertID, e.From, e.To, at.UnixMilli(), e.Target)
	if err != nil {
		return alerts.Alert{}, alerts.Event{}, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return alerts.Alert{}, alerts.Event{}, false, err
	}
	a, err := scanAlert(q.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, e.AlertID))
	if err != nil {
		return alerts.Alert{}, alerts.Event{}, false, err
	}
	ev := a.Escalate(e) // the row has the level already; this makes the event
	if err := s.addAlertEvent(ctx, q, a, &ev); err != nil {
		return alerts.Alert{}, alerts.Event{}, false, err
	}
	return a, ev, true, nil
}
