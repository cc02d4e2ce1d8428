package testsrv

import (
	"context"
	"database/sql"
	"net"
	"strconv"
	"testing"
)

func mustQueryString(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var s string
	if err := db.QueryRowContext(context.Background(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func TestPostgresDatabasesAreSeparate(t *testing.T) {
	pg := StartPostgres(t)
	ctx := context.Background()

	a, b := pg.NewDatabase(t), pg.NewDatabase(t)
	if a == b {
		t.Fatalf("NewDatabase twice = %s both times; want two databases", a)
	}
	dbA, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer dbA.Close()
	dbB, err := sql.Open("pgx", b)
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	if _, err := dbA.ExecContext(ctx, "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatal(err)
	}
	if got := mustQueryString(t, dbB, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'only_in_a'"); got != "0" {
		t.Errorf("table made in database A is seen in database B (count %s)", got)
	}

	for setting, want := range map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(pg.Port),
		"unix_socket_directories": "",
		"fsync":                   "off",
	} {
		if got := mustQueryString(t, dbA, "SHOW "+setting); got != want {
			t.Errorf("SHOW %s = %q; want %q", setting, got, want)
		}
	}
	if got := mustQueryString(t, dbA, "SELECT current_user"); got != "postgres" {
		t.Errorf("current_user = %q; want postgres", got)
	}
	if pg.icu {
		got := mustQueryString(t, dbA, "SELECT string_agg(x, ' ' ORDER BY x) FROM (VALUES ('b'), ('B'), ('a')) AS v(x)")
		if got != "a b B" {
			t.Errorf("text sorts as %q; want %q, as in an en-US database", got, "a b B")
		}
	}
}

func TestPostgresStop(t *testing.T) {
	pg := StartPostgres(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.Port))
	if err := dial(addr); err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	// An open session must not hold up the stop (a smart shutdown would wait for it).
	db, err := sql.Open("pgx", pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	pg.Stop() // idempotent
	if err := dial(addr); err == nil {
		t.Errorf("dial %s after Stop succeeded; want refused", addr)
	}
}

// TestPostgresStartsAgainWhenItsPortIsTaken starts a second server whose first port is the
// first server's, as when another test's server binds a port picked as free first: the second
// exits, and starts again on another port, and the harness does not mistake the first
// server's answers for its own.
func TestPostgresStartsAgainWhenItsPortIsTaken(t *testing.T) {
	first := StartPostgres(t)
	pick, picks := busyFirst(first.Port)
	second := startPostgres(t, findPostgres(t), pick)
	if second.Port == first.Port {
		t.Fatalf("the second server is said to be on %d, the first's port", second.Port)
	}
	if *picks != 2 {
		t.Errorf("%d ports picked; want one for each start", *picks)
	}
	dirs := map[string]bool{}
	for _, pg := range []*Postgres{first, second} {
		db, err := sql.Open("pgx", pg.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dirs[mustQueryString(t, db, "SELECT current_setting('data_directory')")] = true
	}
	if len(dirs) != 2 {
		t.Errorf("both servers answer with the data directory %v; want two servers", dirs)
	}
}
