package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// Silences keeps the silences of patients' and devices' alerts.
type Silences struct{ *DB }

// NewSilences returns a Silences over db.
func NewSilences(db *DB) *Silences { return &Silences{db} }

// Silences of alerts (alerts.Silence, migration 0012). Creating and deleting one are registry
// changes, like overrides: they bump the registry version, which tells every instance's alert
// service to read the silences again, and write an audit row (silence.create, silence.delete)
// on the silenced subject ("patient/<id>" or "device/<id>"), the silence in the detail.

const silenceColumns = `id, subject_kind, subject_id, from_ms, until_ms, reason, created_by, created_ms`

func scanSilence(sc scanner) (alerts.Silence, error) {
	var si alerts.Silence
	var from, until, created int64
	err := sc.Scan(&si.ID, &si.Subject.Kind, &si.Subject.ID, &from, &until, &si.Reason, &si.CreatedBy, &created)
	si.From, si.Until, si.CreatedAt = time.UnixMilli(from).UTC(), time.UnixMilli(until).UTC(), time.UnixMilli(created).UTC()
	return si, err
}

// silenceDetail is a silence as the audit log records it.
func silenceDetail(si alerts.Silence) any {
	return struct {
		ID     int64     `json:"id"`
		From   time.Time `json:"from"`
		Until  time.Time `json:"until"`
		Reason string    `json:"reason"`
	}{si.ID, si.From, si.Until, si.Reason}
}

// CreateSilence keeps a silence (see alerts.Silence.Check for what is refused, Invalid) of a
// patient or device that exists (Invalid if not), and returns it with its id, its times to
// the millisecond, and who made it when.
func (s *Silences) CreateSilence(ctx context.Context, si alerts.Silence) (alerts.Silence, error) {
	si.From, si.Until = time.UnixMilli(si.From.UnixMilli()).UTC(), time.UnixMilli(si.Until.UnixMilli()).UTC()
	if err := si.Check(); err != nil {
		return si, err
	}
	table := "patients"
	if si.Subject.Kind == "device" {
		table = "devices"
	}
	err := s.mutate(ctx, "silence "+si.Subject.String(), func(tx *sql.Tx, actor string) error {
		if err := mustExist(ctx, tx, si.Subject.Kind, si.Subject.ID, `SELECT 1 FROM `+table+` WHERE id = $1`); err != nil {
			return err
		}
		si.CreatedBy, si.CreatedAt = actor, time.UnixMilli(s.now().UnixMilli()).UTC()
		if err := tx.QueryRowContext(ctx, `INSERT INTO silences (subject_kind, subject_id, from_ms, until_ms, reason, created_by, created_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, si.Subject.Kind, si.Subject.ID, si.From.UnixMilli(),
			si.Until.UnixMilli(), si.Reason, actor, si.CreatedAt.UnixMilli()).Scan(&si.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "silence.create", si.Subject.String(), silenceDetail(si))
	})
	return si, err
}

// GetSilence returns the silence with the id; NotFound if there is none.
func (s *Silences) GetSilence(ctx context.Context, id int64) (alerts.Silence, error) {
	return getOne(ctx, s.readers, "silence", strconv.FormatInt(id, 10), `SELECT `+silenceColumns+` FROM silences WHERE id = $1`, scanSilence)
}

// DeleteSilence removes a silence, which ends it at once; NotFound if there is none.
func (s *Silences) DeleteSilence(ctx context.Context, id int64) error {
	what := strconv.FormatInt(id, 10)
	return s.mutate(ctx, "delete silence "+what, func(tx *sql.Tx, actor string) error {
		si, err := getOne(ctx, tx, "silence", what, `SELECT `+silenceColumns+` FROM silences WHERE id = $1`, scanSilence)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM silences WHERE id = $1`, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "silence.delete", si.Subject.String(), silenceDetail(si))
	})
}

// ListSilences returns the silences f selects, newest first.
func (s *Silences) ListSilences(ctx context.Context, f alerts.SilenceFilter) ([]alerts.Silence, error) {
	w := &where{}
	if !f.Scope.All {
		if len(f.Scope.Teams) == 0 && len(f.Scope.Sites) == 0 {
			return []alerts.Silence{}, nil
		}
		var or []string
		if len(f.Scope.Teams) > 0 {
			or = append(or, "(subject_kind = 'patient' AND subject_id IN (SELECT id FROM patients WHERE team_id IN ("+inList(w, f.Scope.Teams)+")))")
		}
		if len(f.Scope.Sites) > 0 {
			or = append(or, "(subject_kind = 'device' AND subject_id IN (SELECT id FROM devices WHERE site_id IN ("+inList(w, f.Scope.Sites)+")))")
		}
		w.conds = append(w.conds, "("+strings.Join(or, " OR ")+")")
	}
	if f.Subject.ID != "" {
		w.add("subject_kind = ?", f.Subject.Kind)
		w.add("subject_id = ?", f.Subject.ID)
	}
	if !f.EndsAfter.IsZero() {
		w.add("until_ms > ?", f.EndsAfter.UnixMilli())
	}
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	q := `SELECT ` + silenceColumns + ` FROM silences` + w.sql() + ` ORDER BY id DESC LIMIT ` + w.arg(pageSize(f.Limit))
	out, err := queryAll(ctx, s.readers, q, w.args, scanSilence)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	return out, nil
}

// SilencesEndingAfter returns every silence that ends after t, in force or to come
// (rules.Settings).
func (s *Silences) SilencesEndingAfter(ctx context.Context, t time.Time) ([]alerts.Silence, error) {
	out, err := queryAll(ctx, s.readers, `SELECT `+silenceColumns+` FROM silences WHERE until_ms > $1 ORDER BY id`,
		[]any{t.UnixMilli()}, scanSilence)
	if err != nil {
		return nil, fmt.Errorf("silences: %w", err)
	}
	return out, nil
}

// inList adds vs as parameters of w and returns their placeholders, separated by commas.
func inList(w *where, vs []string) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = w.arg(v)
	}
	return strings.Join(ps, ", ")
}
