package testsrv

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const influxInstall = "run `make tools` (installs it with go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10 into .tools/bin)"

// Influx is a running InfluxDB 1.8 server. Besides the 1.x API it serves the 2.x write
// (/api/v2/write) and Flux query (/api/v2/query) endpoints that influxdb-client-go/v2 uses, with
// Bucket naming "database/retention-policy" and any token accepted (authentication is off).
type Influx struct {
	URL      string // http://127.0.0.1:PORT
	Database string
	Bucket   string // Database + "/autogen", for the 2.x API

	proc *process
	http *http.Client
}

// InfluxOptions configures StartInflux.
type InfluxOptions struct {
	// Database is created at start; default "vitalwatch".
	Database string
	// Port is the HTTP port; 0 picks a free one. Start after Stop always keeps the port.
	Port int
}

// StartInflux starts influxd in a temporary directory, creates the database and stops the server
// when the test ends.
//
// The binary is taken from $VITALWATCH_INFLUXD, else <repo root>/.tools/bin/influxd, else PATH.
func StartInflux(tb testing.TB, opts InfluxOptions) *Influx {
	tb.Helper()
	skipShort(tb, "influxd")
	bin := findInfluxd(tb)
	if opts.Database == "" {
		opts.Database = "vitalwatch"
	}
	return startInflux(tb, bin, opts, FreePort)
}

// startInflux is StartInflux with the ports picked by pick. A port that pick found free may be
// taken by another test's server before influxd binds it; then influxd exits at once, and is
// started again on other ports.
func startInflux(tb testing.TB, bin string, opts InfluxOptions, pick func(testing.TB) int) *Influx {
	tb.Helper()
	var i *Influx
	startOnFreePort(tb, opts.Port != 0, func() (*process, error) {
		i = newInflux(tb, bin, opts, pick)
		return i.proc, i.start()
	})
	tb.Cleanup(i.Stop)
	return i
}

// newInflux writes the configuration of an influxd in a new temporary directory, on opts.Port
// or a port from pick, and returns it not started.
func newInflux(tb testing.TB, bin string, opts InfluxOptions, pick func(testing.TB) int) *Influx {
	tb.Helper()
	port := opts.Port
	if port == 0 {
		port = pick(tb)
	}
	rpcPort := pick(tb)
	for rpcPort == port {
		rpcPort = pick(tb)
	}
	dir := tb.TempDir()
	confPath := filepath.Join(dir, "influxd.toml")
	if err := os.WriteFile(confPath, []byte(influxConfig(dir, port, rpcPort)), 0o644); err != nil {
		tb.Fatalf("testsrv: write influxd config: %v", err)
	}
	return &Influx{
		URL:      "http://127.0.0.1:" + strconv.Itoa(port),
		Database: opts.Database,
		Bucket:   opts.Database + "/autogen",
		proc: &process{
			name:    "influxd",
			path:    bin,
			args:    []string{"run", "-config", confPath},
			env:     influxEnv(),
			logPath: filepath.Join(dir, "influxd.log"),
		},
		http: &http.Client{Timeout: 30 * time.Second},
	}
}

func findInfluxd(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("VITALWATCH_INFLUXD"); p != "" {
		if !isExecutable(p) {
			tb.Fatalf("testsrv: VITALWATCH_INFLUXD=%s is not an executable file; unset it or %s", p, influxInstall)
		}
		return p
	}
	var candidates []string
	if root, err := repoRoot(); err == nil {
		candidates = append(candidates, filepath.Join(root, ".tools", "bin", "influxd"))
	}
	p, ok := findExecutable("influxd", candidates...)
	if !ok {
		tb.Fatalf("testsrv: influxd not found: %s", influxInstall)
	}
	return p
}

// influxEnv is the inherited environment without INFLUXDB_* variables, which influxd 1.x reads as
// overrides of its configuration file (INFLUXDB_HTTP_BIND_ADDRESS and the like).
func influxEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INFLUXDB_") {
			env = append(env, kv)
		}
	}
	return env
}

// influxConfig is the configuration for influxd 1.8 (see `influxd config` for every key).
func influxConfig(dir string, httpPort, rpcPort int) string {
	q := quoteTOML
	return fmt.Sprintf(`reporting-disabled = true
bind-address = %s

[meta]
  dir = %s

[data]
  dir = %s
  wal-dir = %s
  wal-fsync-delay = "0s"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = %s
  auth-enabled = false
  flux-enabled = true
  log-enabled = false
  pprof-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`,
		q(fmt.Sprintf("127.0.0.1:%d", rpcPort)),
		q(filepath.Join(dir, "meta")),
		q(filepath.Join(dir, "data")),
		q(filepath.Join(dir, "wal")),
		q(fmt.Sprintf("127.0.0.1:%d", httpPort)),
	)
}

// PID is the process id of the running influxd, such as to read its CPU time in /proc; 0 when
// it is not running.
func (i *Influx) PID() int { return i.proc.pid() }

// Stop stops influxd with SIGTERM and waits for it to exit. Written points are on disk (the WAL is
// synced on every write). Stopping a stopped server does nothing.
func (i *Influx) Stop() { i.proc.stop() }

// Start starts influxd again after Stop, on the same port and with the same data, to end a
// simulated outage.
func (i *Influx) Start(tb testing.TB) {
	tb.Helper()
	if err := i.start(); err != nil {
		i.proc.fatalf(tb, "testsrv: %v", err)
	}
}

// start starts influxd, waits until it answers and creates the database.
func (i *Influx) start() error {
	r, err := i.proc.start()
	if err != nil {
		return fmt.Errorf("start influxd: %w", err)
	}
	err = r.waitReady(60*time.Second, func() error {
		resp, err := i.http.Get(i.URL + "/ping")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("GET /ping: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("influxd on %s: %w", i.URL, err)
	}
	// CREATE DATABASE is a no-op for an existing database, so a restart may repeat it.
	stmt := "CREATE DATABASE " + quoteInfluxQLIdent(i.Database)
	resp, err := i.http.PostForm(i.URL+"/query", url.Values{"q": {stmt}})
	if err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// InfluxQL reports a failed statement with 200 and an "error" in the JSON body.
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"error"`) {
		return fmt.Errorf("%s: %s: %s", stmt, resp.Status, body)
	}
	return nil
}

func quoteInfluxQLIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Query runs a Flux query through POST /api/v2/query and returns every row of every table in the
// result, each as column name -> value as written in the CSV (empty cells take the column's
// #default annotation, so "result" holds the yield name). Rows keep the "table" column, which
// numbers the tables within one result. An HTTP error or an error in the result fails the test.
func (i *Influx) Query(tb testing.TB, flux string) []map[string]string {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, i.URL+"/api/v2/query", strings.NewReader(flux))
	if err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
	req.Header.Set("Content-Type", "application/vnd.flux")
	req.Header.Set("Accept", "application/csv")
	resp, err := i.http.Do(req)
	if err != nil {
		tb.Fatalf("testsrv: Flux query: %v\n%s", err, flux)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("testsrv: Flux query: read response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("testsrv: Flux query: %s: %s\n%s", resp.Status, strings.TrimSpace(string(body)), flux)
	}
	rows, err := parseAnnotatedCSV(body)
	if err != nil {
		tb.Fatalf("testsrv: Flux query: %v\n%s", err, flux)
	}
	return rows
}

// Count returns the number of points in measurement in the database's autogen retention policy,
// at any time up to the year 2262 (points in the future included). A point is one (series, time):
// the fields of one point count once, and a point that lacks some of the measurement's fields still
// counts, because the query pivots the fields of each series into one row per timestamp.
func (i *Influx) Count(tb testing.TB, measurement string) int {
	tb.Helper()
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: 0, stop: 2262-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == %s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> count(column: "_measurement")`, quoteFlux(i.Bucket), quoteFlux(measurement))
	rows := i.Query(tb, flux)
	switch len(rows) {
	case 0:
		return 0 // no table at all when nothing matched
	case 1:
		n, err := strconv.Atoi(rows[0]["_measurement"])
		if err != nil {
			tb.Fatalf("testsrv: Count(%q): %v", measurement, err)
		}
		return n
	default:
		tb.Fatalf("testsrv: Count(%q): %d rows, want 1: %v", measurement, len(rows), rows)
		return 0
	}
}

// quoteFlux writes s as a Flux string literal. Flux interpolates "${...}" in strings and has no
// escape for "$", so "${" is split into two concatenated literals.
func quoteFlux(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
	return `"` + strings.ReplaceAll(s, "${", `$" + "{`) + `"`
}
