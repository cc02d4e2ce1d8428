package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Registry keeps the registry: sites, teams, patients, devices, their loans and periods, and
// patient transfers. Every change bumps the registry version and writes audit rows.
type Registry struct{ *DB }

// NewRegistry returns a Registry over db.
func NewRegistry(db *DB) *Registry { return &Registry{db} }

// The registry's rules, which hold in both dialects:
//   - Every mutation runs in one transaction that first increments registry_version. That row
//     lock serialises registry writers (in PostgreSQL; SQLite has one writer anyway), so the
//     checks a mutation makes before it writes (does the site exist, is the device lent) stay
//     true until it commits.
//   - The same transaction writes one audit_log row, with the actor from the context.
//   - Errors the caller can act on are *errcode.Error: Invalid for bad input and for a
//     reference to a row that does not exist, NotFound for the row the call is about, Conflict
//     for a duplicate id. Anything else is a database failure.

// change runs fn as one registry mutation: in a transaction that increments the registry
// version and records action on subject in the audit log with the detail fn returns.
func (s *DB) change(ctx context.Context, action, subject string, fn func(tx *sql.Tx) (detail any, err error)) error {
	return s.mutate(ctx, action+" "+subject, func(tx *sql.Tx, actor string) error {
		detail, err := fn(tx)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, action, subject, detail)
	})
}

// mutate runs fn in a transaction that first increments the registry version, for the actor in
// ctx. fn writes its own audit rows: one per row it changes. Errors the caller can act on (any
// error that is or wraps an *errcode.Error) come back as fn returned them; others are prefixed
// with what.
func (s *DB) mutate(ctx context.Context, what string, fn func(tx *sql.Tx, actor string) error) error {
	actor := audit.Actor(ctx)
	if actor == "" {
		return errcode.Errorf(errcode.Invalid, "no actor: a registry change must say who makes it")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	// First, so that concurrent mutations queue here rather than interleave their checks.
	if _, err := tx.ExecContext(ctx, `UPDATE registry_version SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := fn(tx, actor); err != nil {
		var de *errcode.Error
		if errors.As(err, &de) {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// audit writes one audit row in tx.
func (s *DB) audit(ctx context.Context, tx *sql.Tx, actor, action, subject string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (at_ms, actor, action, subject, detail)
		VALUES ($1, $2, $3, $4, $5)`, s.now().UnixMilli(), actor, action, subject, string(b))
	return err
}

// RegistryVersion returns the registry's version, which every change increments. An instance
// that holds a Directory polls it to know when to load a new one.
func (s *Registry) RegistryVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.readers.QueryRowContext(ctx, `SELECT version FROM registry_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("registry version: %w", err)
	}
	return v, nil
}

// snapshot begins a read-only transaction that sees one consistent state of the registry, and
// reads the version it is at; the caller rolls it back.
func (s *Registry) snapshot(ctx context.Context) (*sql.Tx, int64, error) {
	var opts *sql.TxOptions
	if s.dialect == postgres {
		// Read committed would give each statement its own snapshot; a SQLite transaction
		// already sees one.
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := s.readers.BeginTx(ctx, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("load directory: %w", err)
	}
	var version int64
	if err := tx.QueryRowContext(ctx, `SELECT version FROM registry_version WHERE id = 1`).Scan(&version); err != nil {
		tx.Rollback()
		return nil, 0, fmt.Errorf("load directory: %w", err)
	}
	return tx, version, nil
}

// LoadDirectory reads every device, every assignment and every patient id, with the version
// they are at, from one consistent snapshot.
func (s *Registry) LoadDirectory(ctx context.Context) (*devices.Directory, error) {
	tx, version, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	devs, err := queryAll(ctx, tx, `SELECT `+deviceColumns+` FROM devices ORDER BY id`, nil, scanDevice)
	if err != nil {
		return nil, fmt.Errorf("load directory: %w", err)
	}
	assigns, err := queryAll(ctx, tx, `SELECT `+assignmentColumns+` FROM assignments ORDER BY device_id, from_ms`, nil, scanAssignment)
	if err != nil {
		return nil, fmt.Errorf("load directory: %w", err)
	}
	people, err := queryAll(ctx, tx, `SELECT `+patientColumns+` FROM patients p ORDER BY p.id`, nil, scanPatient)
	if err != nil {
		return nil, fmt.Errorf("load directory: %w", err)
	}
	sites, err := queryAll(ctx, tx, `SELECT `+siteColumns+` FROM sites ORDER BY id`, nil, scanSite)
	if err != nil {
		return nil, fmt.Errorf("load directory: %w", err)
	}
	return devices.NewDirectory(version, devs, assigns, nil).WithSites(sites).WithPatients(people), tx.Commit()
}

// only returns Invalid when a filter of o other than those allowed is set.
func only(o devices.ListOptions, list string, allowed ...string) error {
	for _, f := range []struct{ name, value string }{
		{"site", o.Site}, {"team", o.Team}, {"kind", o.Kind}, {"status", o.Status}, {"mode", o.Mode},
	} {
		if f.value != "" && !slices.Contains(allowed, f.name) {
			return errcode.Errorf(errcode.Invalid, "%s cannot be filtered by %s", list, f.name)
		}
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, q querier, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanString reads a row of one text column.
func scanString(sc scanner) (string, error) {
	var v string
	return v, sc.Scan(&v)
}

// list runs "SELECT columns FROM from" with the conditions in w, after the cursor, ordered by
// idColumn, one page.
func list[T any](ctx context.Context, s *DB, what, columns, from, idColumn string, w *where, o devices.ListOptions, scan func(scanner) (T, error)) ([]T, error) {
	if o.After != "" {
		w.add(idColumn+" > ?", o.After)
	}
	q := `SELECT ` + columns + ` FROM ` + from + w.sql() + ` ORDER BY ` + idColumn + ` LIMIT ` + w.arg(pageSize(o.Limit))
	out, err := queryAll(ctx, s.readers, q, w.args, scan)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}

// mustExist returns Invalid "<what> <id> does not exist" unless query finds a row: for rows that
// a change refers to.
func mustExist(ctx context.Context, tx *sql.Tx, what, id, query string) error {
	found, err := exists(ctx, tx, query, id)
	if err != nil {
		return err
	}
	if !found {
		return errcode.Errorf(errcode.Invalid, "%s %s does not exist", what, id)
	}
	return nil
}

// onField returns err naming field as the input at fault when err is an *errcode.Error that
// names none, so that a form can show it next to that field (a site that does not exist, an id
// that is taken); field is the name of the input in the API's bodies and the import files.
func onField(field string, err error) error {
	var de *errcode.Error
	if errors.As(err, &de) && de.Field == "" {
		named := *de
		named.Field = field
		return &named
	}
	return err
}

// mustFind returns NotFound "<what> <id> not found" unless query finds a row: for the row a
// change is about.
func mustFind(ctx context.Context, tx *sql.Tx, what, id, query string) error {
	found, err := exists(ctx, tx, query, id)
	if err != nil {
		return err
	}
	if !found {
		return notFound(what, id)
	}
	return nil
}

// mustBeNew returns Conflict "<what> <id> already exists" when query finds a row.
func mustBeNew(ctx context.Context, tx *sql.Tx, what, id, query string) error {
	found, err := exists(ctx, tx, query, id)
	if err != nil {
		return err
	}
	if found {
		return errcode.Errorf(errcode.Conflict, "%s %s already exists", what, id)
	}
	return nil
}

// updated returns NotFound "<what> <id> not found" when an UPDATE changed no row.
func updated(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(what, id)
	}
	return nil
}

func notFound(what, id string) error {
	return errcode.Errorf(errcode.NotFound, "%s %s not found", what, id)
}

// getOne runs a query for one row and returns NotFound when there is none.
func getOne[T any](ctx context.Context, q querier, what, id, query string, scan func(scanner) (T, error)) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return v, notFound(what, id)
	}
	if err != nil {
		return v, fmt.Errorf("get %s %s: %w", what, id, err)
	}
	return v, nil
}

// millis is t as stored: Unix milliseconds, NULL for the zero time.
func millis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMillis is the inverse of millis, in UTC.
func fromMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}
