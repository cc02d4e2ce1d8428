package testsrv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

const postgresInstall = "install it with `apt-get install postgresql` (Debian/Ubuntu package postgresql)"

// Postgres is a running PostgreSQL server listening on 127.0.0.1 only, with trust
// authentication for the superuser "postgres" and no Unix socket.
//
// One server can serve many tests: NewDatabase gives each test its own empty database, so a
// test binary may start one server in a parent test and share it between parallel subtests.
// The databases live until the server stops.
//
// Those databases sort text the way a production database in an English locale does (ICU
// en-US, where "a" < "b" < "B"), not byte by byte, so that code which needs byte order must
// ask for it (COLLATE "C"). That needs PostgreSQL 15 or later built with ICU, as Debian's is;
// elsewhere they sort byte by byte.
type Postgres struct {
	// DSN connects to the maintenance database "postgres" as the superuser.
	DSN  string
	Port int

	dir   string              // everything of this server: data directory and log
	cred  *syscall.Credential // whom the server runs as; nil: the test's own user
	proc  *process            // the server of the last start, on Port
	admin *sql.DB
	icu   bool         // CREATE DATABASE takes LOCALE_PROVIDER icu
	n     atomic.Int64 // databases created
}

// StartPostgres runs initdb in a fresh directory, starts postgres on a free loopback port, waits
// until it answers queries, and stops it and removes the directory when the test ends.
//
// PostgreSQL refuses to run as root. When the test runs as root, initdb and postgres run as
// the operating-system user "postgres" (made by the Debian package) in a directory under
// os.TempDir() that it owns, since tb.TempDir() is private to root.
//
// Durability is off (fsync, synchronous_commit, full_page_writes): a crash of a test server
// loses nothing that matters, and it makes the server several times faster.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	skipShort(tb, "PostgreSQL")
	return startPostgres(tb, findPostgres(tb), FreePort)
}

// startPostgres is StartPostgres with the port picked by pick. A port that pick found free may
// be taken by another test's server before postgres binds it; then postgres exits at once, and
// is started again on another port.
func startPostgres(tb testing.TB, bins postgresBinaries, pick func(testing.TB) int) *Postgres {
	tb.Helper()
	pg := &Postgres{}

	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("testsrv: running as root, postgres must run as the user postgres, which does not exist (%v): %s", err, postgresInstall)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		if err := reachableByOthers(os.TempDir()); err != nil {
			tb.Fatalf("testsrv: the user postgres cannot reach the temporary directory: %v; set TMPDIR to a directory such as /tmp", err)
		}
		dir, err := os.MkdirTemp("", "vitalwatch-postgres-")
		if err != nil {
			tb.Fatalf("testsrv: %v", err)
		}
		pg.dir = dir
		tb.Cleanup(func() { os.RemoveAll(dir) }) // registered first, so it runs after Stop
		if err := os.Chown(dir, int(uid), int(gid)); err != nil {
			tb.Fatalf("testsrv: chown %s to postgres: %v", dir, err)
		}
	} else {
		pg.dir = tb.TempDir()
	}
	dataDir := filepath.Join(pg.dir, "data")

	initdb := exec.Command(bins.initdb, "-D", dataDir, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = pg.dir // postgres may not be allowed into the test's working directory
	initdb.Env = postgresEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("testsrv: %s: %v\n%s", strings.Join(initdb.Args, " "), err, out)
	}
	conf, err := os.OpenFile(filepath.Join(dataDir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = conf.WriteString(postgresConfig)
		if cerr := conf.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		tb.Fatalf("testsrv: write postgresql.conf: %v", err)
	}
	tb.Cleanup(pg.Stop)
	for attempt := 1; ; attempt++ {
		pg.Port = pick(tb)
		pg.DSN = pg.dsn("postgres")
		pg.proc = &process{
			name:    "postgres",
			path:    bins.postgres,
			args:    []string{"-D", dataDir, "-p", strconv.Itoa(pg.Port)},
			env:     postgresEnv(),
			logPath: filepath.Join(pg.dir, "postgres.log"),
			dir:     pg.dir,
			cred:    pg.cred,
			// A fast shutdown: open sessions are ended, not waited for.
			stopSignal: syscall.SIGINT,
		}
		from := logSize(pg.proc.logPath)
		err := pg.start(dataDir)
		if err == nil {
			break
		}
		if attempt < portAttempts && portTaken(logSince(pg.proc.logPath, from)) {
			pg.Stop()
			continue
		}
		pg.fatalf(tb, "testsrv: postgres on 127.0.0.1:%d: %v", pg.Port, err)
	}
	err = pg.admin.QueryRow(`SELECT current_setting('server_version_num')::int >= 150000
		AND EXISTS (SELECT 1 FROM pg_collation WHERE collprovider = 'i')`).Scan(&pg.icu)
	if err != nil {
		pg.fatalf(tb, "testsrv: postgres on 127.0.0.1:%d: %v", pg.Port, err)
	}
	return pg
}

// start starts postgres and waits until it answers queries. An answer alone is not enough: if
// another server took the port, the answer would be that server's, so it must name this
// server's data directory.
func (pg *Postgres) start(dataDir string) error {
	r, err := pg.proc.start()
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	admin, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		return err
	}
	pg.admin = admin
	return r.waitReady(60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var dir string
		if err := admin.QueryRowContext(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
			return err
		}
		if dir != dataDir {
			return fmt.Errorf("the server on the port is another one, of %s", dir)
		}
		return nil
	})
}

// postgresConfig is appended to the postgresql.conf that initdb wrote; the last setting wins.
// The port is given on the command line.
const postgresConfig = `
# testsrv: loopback only, no Unix socket, no durability.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
max_connections = 200
`

// NewDatabase creates an empty database with a name no other test of this server has and
// returns its DSN.
func (pg *Postgres) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d", pg.n.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// template0 is never connected to, so parallel CREATE DATABASEs do not trip over a session
	// on the template.
	q := "CREATE DATABASE " + name + " TEMPLATE template0"
	if pg.icu {
		q += " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
	}
	if _, err := pg.admin.ExecContext(ctx, q); err != nil {
		pg.fatalf(tb, "testsrv: create database %s: %v", name, err)
	}
	return pg.dsn(name)
}

func (pg *Postgres) dsn(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.Port, database)
}

// Stop stops the server with a fast shutdown and waits for it to exit. Stopping a stopped
// server does nothing.
func (pg *Postgres) Stop() {
	if pg.admin != nil {
		pg.admin.Close()
	}
	pg.proc.stop()
}

// fatalf is process.fatalf with this server's own Stop.
func (pg *Postgres) fatalf(tb testing.TB, format string, args ...any) {
	tb.Helper()
	pg.Stop()
	tb.Fatalf("%s\n--- end of postgres (%s) ---\n%s", fmt.Sprintf(format, args...), pg.proc.logPath, logTail(pg.proc.logPath))
}

type postgresBinaries struct{ initdb, postgres string }

// findPostgres returns the binaries of the newest PostgreSQL under /usr/lib/postgresql, where
// Debian puts them (they are not in PATH), else of the one whose initdb is in PATH.
func findPostgres(tb testing.TB) postgresBinaries {
	tb.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // by major version, newest first
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		b := postgresBinaries{filepath.Join(d, "initdb"), filepath.Join(d, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		b := postgresBinaries{p, filepath.Join(filepath.Dir(p), "postgres")}
		if isExecutable(b.postgres) {
			return b
		}
	}
	tb.Fatalf("testsrv: initdb and postgres not found in /usr/lib/postgresql/*/bin or PATH: %s", postgresInstall)
	return postgresBinaries{}
}

// postgresEnv is the inherited environment without PG* variables, which initdb and postgres
// read as defaults (PGDATA, PGPORT, ...).
func postgresEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// reachableByOthers reports an error unless every directory from dir up to the root may be
// entered by any user.
func reachableByOthers(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s has mode %v", dir, fi.Mode().Perm())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}
