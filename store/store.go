// Package store keeps VitalWatch's durable records in a SQL database: the device registry, its
// audit log and the dead letters. It speaks two dialects through database/sql: a SQLite file in
// the data directory by default (pure Go, no cgo), or PostgreSQL so that several instances share
// one state. The schema of each is created and upgraded by embedded, numbered migrations.
//
// Both dialects run the same query text: parameters are written $1, $2, ... (SQLite reads $NNN
// as parameter number NNN), times are BIGINT Unix milliseconds, and ids compare byte by byte
// (SQLite's BINARY collation, COLLATE "C" in PostgreSQL), so that lists and cursors agree.
//
// Each aggregate has its own service over one shared DB: Registry, Moves, Audit, Alerts,
// Silences, Thresholds, Webhooks, Users, Usage, DeadLetters and DeviceStatus. Store bundles
// them all.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// dialect names a database kind; it is also the folder of its migrations.
type dialect string

const (
	sqlite   dialect = "sqlite"
	postgres dialect = "postgres"
)

// values returns the VALUES list of rows rows of cols parameters each. SQLite gets anonymous
// "?" parameters: modernc looks up the name of every numbered parameter by a linear search,
// which makes a long statement with $n parameters cost in the square of its length.
// PostgreSQL gets $1, $2, ...
func (d dialect) values(rows, cols int) string {
	var b strings.Builder
	b.Grow(rows * (cols*7 + 4))
	n := 1
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			if d == sqlite {
				b.WriteByte('?')
			} else {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(n))
			}
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// DB is a handle on the database, which every service shares. It is safe for concurrent use.
type DB struct {
	db *sql.DB
	// readers is for the reads made outside a transaction: the long reads of reports (the
	// usage's day counts and months, the alert burden, whose parts run side by side), what the
	// API reads on every request (the session or token and its user, lists and single records),
	// the registry's snapshots (its version, the directory, the periods) and the escalator's
	// ticks. The reads that the deliveries of events and webhooks make beside their claims and
	// cursors stay on db. In SQLite readers is a pool of read-only
	// connections to the same file, which WAL lets read while db writes, so that neither a
	// report nor a request waits for ingest's writes or holds them up; in PostgreSQL db itself.
	// A read there sees every write committed before it began.
	readers *sql.DB
	dialect dialect
	now     func() time.Time // the audit log's clock
	// statements are those prepared on db for the transactions of batches of findings.
	statements statements
}

// Store is every service over one DB, for a caller that needs several of them; each service is
// also a field, for a caller that needs one. Its methods are the services' methods.
type Store struct {
	*DB
	*Registry
	*Moves
	*Audit
	*Alerts
	*Silences
	*Thresholds
	*Webhooks
	*Users
	*Usage
	*DeadLetters
	*DeviceStatus
}

// Open opens the database named by dsn (see OpenDB) with every service over it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := OpenDB(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return New(db), nil
}

// New returns every service over db.
func New(db *DB) *Store {
	return &Store{DB: db, Registry: NewRegistry(db), Moves: NewMoves(db), Audit: NewAudit(db),
		Alerts: NewAlerts(db), Silences: NewSilences(db), Thresholds: NewThresholds(db),
		Webhooks: NewWebhooks(db), Users: NewUsers(db), Usage: NewUsage(db), DeadLetters: NewDeadLetters(db),
		DeviceStatus: NewDeviceStatus(db)}
}

// OpenDB opens the database named by dsn and brings its schema up to date. A dsn that starts
// with postgres:// or postgresql:// is a PostgreSQL connection string (see pgx's
// ParseConfig); anything else is the path of a SQLite file, created if needed.
func OpenDB(ctx context.Context, dsn string) (*DB, error) {
	var s *DB
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err) // pgx leaves the password out
		}
		// Bounded so that many instances stay under the server's max_connections (100 by default).
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(4)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s = &DB{db: db, readers: db, dialect: postgres, now: time.Now}
	} else {
		q := url.Values{}
		// WAL lets readers (the API) work while ingest writes; FULL sync because what is written
		// here has already been acknowledged to a device.
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(ON)")
		// 32 MB of page cache instead of SQLite's 2 MB, which also bounds what a sort keeps in
		// memory: the alert burden's GROUP BY over a month of a city's alerts (some 80,000)
		// spilled to temporary files, and most of its time went there.
		q.Add("_pragma", "cache_size(-32000)")
		// A statement that may fail halfway (an insert with ON CONFLICT, into a table of a dozen
		// indexes) keeps a journal of the pages it changes; past 64 KB SQLite spilled it to a
		// temporary file, opened, written and closed for each new alert. In memory it costs a
		// new alert some 20% less. The readers keep the default: their sorts may be large.
		q.Add("_pragma", "temp_store(MEMORY)")
		// The path is percent-encoded so that # ? and % in a directory name stay part of it.
		file := "file:" + sqlitePathEscaper.Replace(dsn) + "?"
		db, err := sql.Open("sqlite", file+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", dsn, err)
		}
		// One writer at a time is what SQLite does anyway; a single connection avoids busy errors.
		db.SetMaxOpenConns(1)
		// The readers open the file once the migrations have made it (below); they only read.
		r := url.Values{}
		r.Add("_pragma", "busy_timeout(10000)")
		r.Add("_pragma", "query_only(1)")
		// The writer's page cache: a report reads the same months again and again.
		r.Add("_pragma", "cache_size(-32000)")
		readers, err := sql.Open("sqlite", file+r.Encode())
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s: %w", dsn, err)
		}
		readers.SetMaxOpenConns(readerConns)
		readers.SetMaxIdleConns(readerConns)
		// An idle reader's page cache is given back: a few minutes after the last report.
		readers.SetConnMaxIdleTime(5 * time.Minute)
		s = &DB{db: db, readers: readers, dialect: sqlite, now: time.Now}
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.dialect == sqlite {
		s.statements.add(ctx, s.db, lockStatements)
	}
	return s, nil
}

// readerConns bounds the SQLite read-only connections that read side by side.
const readerConns = 4

// Close closes the database.
func (s *DB) Close() error {
	err := errors.Join(s.statements.close(), s.db.Close())
	if s.readers != s.db {
		err = errors.Join(err, s.readers.Close())
	}
	return err
}

// Ping reports whether the database answers.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migrate applies the embedded migrations that have not been applied yet, in order, each in its
// own transaction.
func (s *DB) Migrate(ctx context.Context) error {
	_, err := s.MigrateVersions(ctx)
	return err
}

// migrationLock is the key of the PostgreSQL advisory lock taken by each migration.
const migrationLock = 0x76697461 // "vita"

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY, name TEXT NOT NULL)`

// MigrateVersions is Migrate that also says which versions it applied.
func (s *DB) MigrateVersions(ctx context.Context) ([]int, error) {
	type migration struct {
		version int
		name    string
	}
	dir := path.Join("migrations", string(s.dialect))
	files, err := fs.Glob(migrations, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	var all []migration
	for _, f := range files {
		name := path.Base(f)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migrate: file %s is not named NNNN_name.sql", f)
		}
		all = append(all, migration{v, name})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].version < all[j].version })

	if s.dialect == sqlite {
		// Outside a transaction, where SQLite waits for the write lock (busy_timeout); in
		// PostgreSQL it is made under the migration lock.
		if _, err := s.db.ExecContext(ctx, createSchemaMigrations); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	var applied []int
	for _, m := range all {
		body, err := migrations.ReadFile(path.Join(dir, m.name))
		if err != nil {
			return applied, err
		}
		ok, err := s.applyMigration(ctx, m.version, m.name, string(body))
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", m.name, err)
		}
		if ok {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// applyMigration runs one migration in a transaction unless schema_migrations says it ran. The
// transaction takes a lock before it reads (PostgreSQL: an advisory lock; SQLite: its write
// lock), so that stores opened together wait for each other instead of applying it twice.
func (s *DB) applyMigration(ctx context.Context, version int, name, body string) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if s.dialect == postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
			return false, err
		}
	} else {
		// A write that changes nothing, to take SQLite's write lock first: a transaction that
		// has read cannot wait for the lock later, it fails at once if another Open of the same
		// file holds it.
		if _, err := tx.ExecContext(ctx, `UPDATE schema_migrations SET name = name WHERE version < 0`); err != nil {
			return false, err
		}
	}
	done, err := exists(ctx, tx, `SELECT 1 FROM schema_migrations WHERE version = $1`, version)
	if err != nil || done {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, name); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// exists reports whether query returns a row.
func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := rows.Next()
	return found, rows.Err()
}

// sqlitePathEscaper percent-encodes the characters that end or escape the path part of a SQLite
// file: URI.
var sqlitePathEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
