// Package store keeps VitalWatch's durable records in a SQL database: a SQLite file in the data
// directory by default (pure Go, no cgo). The schema is created and upgraded by embedded,
// numbered migrations.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a handle on the database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// Open opens (creating if needed) the SQLite database at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	// WAL lets readers (the API) work while ingest writes; FULL sync because what is written
	// here has already been acknowledged to a device.
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(ON)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One writer at a time is what SQLite does anyway; a single connection avoids busy errors.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migrate applies the embedded migrations that have not been applied yet, in order, each in its
// own transaction. It returns the versions it applied.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.MigrateVersions(ctx)
	return err
}

// MigrateVersions is Migrate that also says which versions it applied.
func (s *Store) MigrateVersions(ctx context.Context) ([]int, error) {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	type migration struct {
		version int
		name    string
	}
	var all []migration
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migrate: file %s is not named NNNN_name.sql", name)
		}
		all = append(all, migration{v, name})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].version < all[j].version })
	var applied []int
	for _, m := range all {
		var one int
		err := s.db.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = ?`, m.version).Scan(&one)
		if err == nil {
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return applied, fmt.Errorf("migrate: %w", err)
		}
		body, err := migrations.ReadFile("migrations/" + m.name)
		if err != nil {
			return applied, err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return applied, err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migrate %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.version, m.name); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migrate %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return applied, fmt.Errorf("migrate %s: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}
