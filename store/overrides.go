package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Thresholds keeps the threshold overrides of teams and patients.
type Thresholds struct{ *DB }

// NewThresholds returns a Thresholds over db.
func NewThresholds(db *DB) *Thresholds { return &Thresholds{db} }

// Threshold overrides of a team or a patient (migration 0012). Setting and deleting them are
// registry changes: one transaction that bumps the registry version, so that every instance's
// alert service reads them again, and writes an audit row (overrides.set, overrides.delete on
// "team/<id>" or "patient/<id>", the overrides in the detail). A patient's are keyed by the
// patient's id, so a transfer keeps them. The store checks that the team or patient exists;
// whether the overrides fit the rules is the caller's to check (rules.Rules.ValidateOverrides),
// as the rules are configuration, not data.

// overridesTable returns the table that holds the ids of kind, or Invalid for an unknown kind.
func overridesTable(kind string) (string, error) {
	switch kind {
	case rules.TeamOverrides:
		return "teams", nil
	case rules.PatientOverrides:
		return "patients", nil
	}
	return "", errcode.Errorf(errcode.Invalid, "overrides of %q: not %s or %s", kind, rules.TeamOverrides, rules.PatientOverrides)
}

// SetOverrides replaces the overrides of a team or a patient (kind rules.TeamOverrides or
// rules.PatientOverrides); empty overrides delete them. NotFound if there is no such team or
// patient.
func (s *Thresholds) SetOverrides(ctx context.Context, kind, id string, o rules.Overrides) error {
	if len(o) == 0 {
		return s.DeleteOverrides(ctx, kind, id)
	}
	table, err := overridesTable(kind)
	if err != nil {
		return err
	}
	b, err := json.Marshal(o)
	if err != nil {
		return errcode.Errorf(errcode.Invalid, "overrides: %v", err)
	}
	return s.mutate(ctx, "set overrides of "+kind+"/"+id, func(tx *sql.Tx, actor string) error {
		if err := mustFind(ctx, tx, kind, id, `SELECT 1 FROM `+table+` WHERE id = $1`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO overrides (kind, id, overrides, updated_ms, updated_by) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (kind, id) DO UPDATE SET overrides = excluded.overrides, updated_ms = excluded.updated_ms, updated_by = excluded.updated_by`,
			kind, id, string(b), s.now().UnixMilli(), actor); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "overrides.set", kind+"/"+id, json.RawMessage(b))
	})
}

// DeleteOverrides removes the overrides of a team or a patient, so that the rules file's (or
// the team's) thresholds apply again. NotFound if there is no such team or patient; deleting
// overrides that are not there changes nothing and is not audited.
func (s *Thresholds) DeleteOverrides(ctx context.Context, kind, id string) error {
	table, err := overridesTable(kind)
	if err != nil {
		return err
	}
	errNothing := errors.New("no overrides")
	err = s.mutate(ctx, "delete overrides of "+kind+"/"+id, func(tx *sql.Tx, actor string) error {
		if err := mustFind(ctx, tx, kind, id, `SELECT 1 FROM `+table+` WHERE id = $1`); err != nil {
			return err
		}
		var old string
		err := tx.QueryRowContext(ctx, `DELETE FROM overrides WHERE kind = $1 AND id = $2 RETURNING overrides`, kind, id).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return errNothing // roll back: the version need not move
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "overrides.delete", kind+"/"+id, struct {
			Was json.RawMessage `json:"was"`
		}{json.RawMessage(old)})
	})
	if errors.Is(err, errNothing) {
		return nil
	}
	return err
}

// Overrides returns the overrides of a team or a patient: empty (not nil) if they have none.
// NotFound if there is no such team or patient.
func (s *Thresholds) Overrides(ctx context.Context, kind, id string) (rules.Overrides, error) {
	table, err := overridesTable(kind)
	if err != nil {
		return nil, err
	}
	var raw sql.NullString
	err = s.readers.QueryRowContext(ctx, `SELECT o.overrides FROM `+table+` t
		LEFT JOIN overrides o ON o.kind = $1 AND o.id = t.id WHERE t.id = $2`, kind, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(kind, id)
	}
	if err != nil {
		return nil, fmt.Errorf("overrides of %s/%s: %w", kind, id, err)
	}
	o := rules.Overrides{}
	if raw.Valid {
		if err := json.Unmarshal([]byte(raw.String), &o); err != nil {
			return nil, fmt.Errorf("overrides of %s/%s: %w", kind, id, err)
		}
	}
	return o, nil
}

// AllOverrides returns every team's and every patient's overrides, by id (rules.Settings).
func (s *Thresholds) AllOverrides(ctx context.Context) (teams, patients map[string]rules.Overrides, err error) {
	rows, err := s.readers.QueryContext(ctx, `SELECT kind, id, overrides FROM overrides`)
	if err != nil {
		return nil, nil, fmt.Errorf("all overrides: %w", err)
	}
	defer rows.Close()
	teams, patients = map[string]rules.Overrides{}, map[string]rules.Overrides{}
	for rows.Next() {
		var kind, id, raw string
		if err := rows.Scan(&kind, &id, &raw); err != nil {
			return nil, nil, fmt.Errorf("all overrides: %w", err)
		}
		var o rules.Overrides
		if err := json.Unmarshal([]byte(raw), &o); err != nil {
			return nil, nil, fmt.Errorf("overrides of %s/%s: %w", kind, id, err)
		}
		if kind == rules.TeamOverrides {
			teams[id] = o
		} else {
			patients[id] = o
		}
	}
	return teams, patients, rows.Err()
}
