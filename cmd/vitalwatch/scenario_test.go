package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/simulators"
	"github.com/vitalwatch/vitalwatch/store"
)

// The scenario tests play every script under simulators/scenarios through the whole pipeline:
// each device signs in to serve's embedded broker as itself and publishes what the script says,
// ingest writes it to a real influxd, the alert engine sees it, and the alerts land in the store
// (SQLite, and PostgreSQL). The alerts the API then lists must be exactly the ones the script
// expects: none missing, none extra.
//
// Scripts span hours or days, so serve runs on a virtual clock (withClock) that the test moves
// to each message's time before publishing it. Time-driven rules (offline, missed
// measurements, fall confirmation, the daily home average) run on serve's own tick, every
// alerts.tick of real time, at whatever time the virtual clock shows: before a message that
// comes tickEvery (30 s) or more after the rules last ran, and at the end of the script, the
// test waits for them to run at the new time.

const scenarioDir = "../../simulators/scenarios"

// scenarioParallel is how many scenario runs play at once. A run mostly waits (for ingest to
// acknowledge a message, for the engine's tick), so more runs than cores keep the machine busy.
const scenarioParallel = 4

// TestScenarios plays every scenario file on SQLite and on PostgreSQL, sharing one influxd
// (a database each) and one PostgreSQL server (a database each).
func TestScenarios(t *testing.T) {
	scripts := loadScenarios(t)
	// The longest first, so that the last runs to start are short ones.
	slices.SortStableFunc(scripts, func(a, b *simulators.Script) int {
		return cmp.Compare(len(b.Play(time.Time{}, "")), len(a.Play(time.Time{}, "")))
	})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	pg := testsrv.StartPostgres(t)
	sem := make(chan struct{}, scenarioParallel)
	var wg sync.WaitGroup
	for _, s := range scripts {
		for _, backend := range []string{"sqlite", "postgres"} {
			// t.Run may be called from several goroutines at once; the semaphore, unlike
			// t.Parallel, is not bound by -parallel (GOMAXPROCS), which a run that mostly waits
			// need not be. Taken here, it starts the runs in order.
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				t.Run(s.Name+"/"+backend, func(t *testing.T) {
					dsn := ""
					if backend == "postgres" {
						dsn = pg.NewDatabase(t)
					}
					r := newScenarioRun(t, s, ix, dsn)
					r.play(nil)
					r.check()
				})
			})
		}
	}
	wg.Wait()
}

// TestScenarioRestartMidEpisode stops and starts serve in the middle of an episode: a CGM low
// while its lows add up to 15 minutes and again once it is raised and still going on, and a
// blood-pressure crisis between the crisis reading and its retest. The restarted engine takes
// the episode back from InfluxDB, and the alerts are still exactly the script's: the episode is
// raised once, the retest confirms or resolves the crisis.
func TestScenarioRestartMidEpisode(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	for _, tt := range []struct {
		file     string
		restarts []time.Duration
	}{
		// After the lows at 01:30, 01:35 and 01:40, before the one at 01:45 that makes 15
		// minutes; then at 01:52, with the episode raised and going on until 01:55.
		{"cgm-low-episode.yaml", []time.Duration{42 * time.Minute, 52 * time.Minute}},
		// After both crisis readings, before their retests.
		{"blood-pressure.yaml", []time.Duration{3 * time.Minute}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			s, err := simulators.LoadScript(filepath.Join(scenarioDir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			r := newScenarioRun(t, s, ix, "")
			r.play(tt.restarts)
			if r.restarted != len(tt.restarts) {
				t.Fatalf("serve restarted %d times; want %d", r.restarted, len(tt.restarts))
			}
			r.check()
		})
	}
}

func loadScenarios(t *testing.T) []*simulators.Script {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(scenarioDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files in %s: %v", scenarioDir, err)
	}
	var out []*simulators.Script
	for _, f := range files {
		s, err := simulators.LoadScript(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// virtualClock is the clock serve reads in a scenario run. It stands still until the test
// moves it, never backwards, and counts the reads of the alert engine's Tick, so that the test
// can wait for the time-driven rules to run at the time it set.
type virtualClock struct {
	mu    sync.Mutex
	now   time.Time
	ticks int
}

// Now is the clock serve runs on.
func (c *virtualClock) Now() time.Time {
	tick := readByEngineTick()
	c.mu.Lock()
	defer c.mu.Unlock()
	if tick {
		c.ticks++
	}
	return c.now
}

func (c *virtualClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

func (c *virtualClock) tickReads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ticks
}

// engineTick is the function whose reads of the clock are the time-driven rules running.
const engineTick = "github.com/vitalwatch/vitalwatch/alerts/rules.(*Engine).Tick"

// readByEngineTick reports whether the clock is being read by the alert engine's Tick.
func readByEngineTick() bool {
	var pcs [12]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])])
	for {
		f, more := frames.Next()
		if f.Function == engineTick {
			return true
		}
		if !more {
			return false
		}
	}
}

// scenarioRun is one script played through serve.
type scenarioRun struct {
	t         *testing.T
	script    *simulators.Script
	start     time.Time
	clock     *virtualClock
	env       []string
	token     string
	secrets   map[string]string
	srv       *server
	clients   map[string]mqtt.Client
	published int       // messages published to this serve, which it acknowledges once stored and seen
	lastTick  time.Time // the virtual time the rules last ran at
	restarted int
}

// newScenarioRun registers the script's sites, teams, patients and devices in a new store
// (SQLite in a temporary directory, or the PostgreSQL database dsn), gives it a database of
// its own in ix, and starts serve on a virtual clock at the script's start: a day or more
// before now, at the script's time of day.
func newScenarioRun(t *testing.T, s *simulators.Script, ix *testsrv.Influx, dsn string) *scenarioRun {
	t.Helper()
	dataDir := t.TempDir()
	database := strings.NewReplacer("-", "_", "/", "_").Replace("scenario_" + t.Name())
	createInfluxDatabase(t, ix, database)
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL,
		"VITALWATCH_INFLUX_BUCKET=" + database + "/autogen", "VITALWATCH_ALERTS_TICK=100ms",
		// The watchdog would take the virtual clock's jumps for a silent subscription.
		"VITALWATCH_INGEST_WATCHDOG_INTERVAL=0"}
	storeAt := filepath.Join(dataDir, dbFile)
	if dsn != "" {
		env = append(env, "VITALWATCH_STORE_DSN="+dsn)
		storeAt = dsn
	}
	r := &scenarioRun{t: t, script: s, start: s.StartAt(time.Now()), env: env, clients: map[string]mqtt.Client{}}
	reg := s.Registry(r.start, 1)
	r.secrets = reg.Secrets
	r.token = registerScenario(t, storeAt, reg)
	r.clock = &virtualClock{now: r.start}
	r.srv = startServe(t, env, withClock(r.clock.Now))
	t.Cleanup(r.disconnect)
	return r
}

// registerScenario stores reg as an operator's import would, each device with the hash of its
// secret, and an admin who reads the alerts with the API token it returns. The admin has no
// password (an integration's user), which spares an argon2id hash per run.
func registerScenario(t *testing.T, at string, reg *simulators.Registry) string {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, s := range reg.Sites {
		if err := st.CreateSite(ctx, s); err != nil {
			t.Fatalf("site %s: %v", s.ID, err)
		}
	}
	for _, tm := range reg.Teams {
		if err := st.CreateTeam(ctx, tm); err != nil {
			t.Fatalf("team %s: %v", tm.ID, err)
		}
	}
	for _, p := range reg.Patients {
		if err := st.CreatePatient(ctx, p); err != nil {
			t.Fatalf("patient %s: %v", p.ID, err)
		}
	}
	for _, d := range reg.Devices {
		d.SecretHash = devices.HashSecret(reg.Secrets[d.ID])
		if err := st.CreateDevice(ctx, d); err != nil {
			t.Fatalf("device %s: %v", d.ID, err)
		}
	}
	for _, a := range reg.Assignments {
		if err := st.AssignDevice(ctx, a.DeviceID, a.PatientID, a.From); err != nil {
			t.Fatalf("lend %s to %s: %v", a.DeviceID, a.PatientID, err)
		}
	}
	admin, err := st.CreateUser(ctx, access.User{Username: "scenario-admin", Role: access.Admin})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := st.CreateToken(ctx, admin.ID, "scenario test")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// createInfluxDatabase creates a database in ix for one run, so that runs sharing the server
// never replay each other's readings.
func createInfluxDatabase(t *testing.T, ix *testsrv.Influx, name string) {
	t.Helper()
	resp, err := http.PostForm(ix.URL+"/query", url.Values{"q": {`CREATE DATABASE "` + name + `"`}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"error"`) {
		t.Fatalf("CREATE DATABASE %s: %s %s", name, resp.Status, body)
	}
}

// tickEvery is how much virtual time may pass before the test lets the time-driven rules run
// again: the shortest of their windows, a fall's 30-second confirmation, so that a fall is
// raised, as by serve's own tick every few seconds, before a cancel that comes too late.
const tickEvery = 30 * time.Second

// play publishes the script's messages in order, each at its time on the virtual clock, and
// waits until serve has acknowledged it (stored, and seen by the alert engine). At each offset
// of restarts it stops serve and starts it again. At the end it moves the clock to the end of
// the script and lets the rules run.
func (r *scenarioRun) play(restarts []time.Duration) {
	r.t.Helper()
	for _, m := range r.script.Play(r.start, "devices") {
		for len(restarts) > 0 && !m.Send.Before(r.start.Add(restarts[0])) {
			r.advance(r.start.Add(restarts[0]))
			r.restart()
			restarts = restarts[1:]
		}
		r.advance(m.Send)
		r.publish(m)
	}
	r.clock.set(r.start.Add(r.script.Length))
	r.tick()
}

// advance moves the virtual clock to at, and lets the time-driven rules run there when a
// tickEvery or more has passed since they last did.
func (r *scenarioRun) advance(at time.Time) {
	r.t.Helper()
	r.clock.set(at)
	if r.lastTick.IsZero() || at.Sub(r.lastTick) >= tickEvery {
		r.tick()
	}
}

// tick waits until the engine's Tick has read the clock twice since it was set: the first run
// is at the new time, and the second starts only once the first has recorded its findings
// (the service runs them one after the other).
func (r *scenarioRun) tick() {
	r.t.Helper()
	from := r.clock.tickReads()
	deadline := time.Now().Add(20 * time.Second)
	for r.clock.tickReads() < from+2 {
		if time.Now().After(deadline) {
			r.t.Fatalf("the alert rules did not run within 20 s (is %s still what reads the clock?)", engineTick)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.lastTick = r.clock.Now()
}

// publish sends m as its device, signed in as itself, and waits until serve acknowledges it.
func (r *scenarioRun) publish(m simulators.ScriptMessage) {
	r.t.Helper()
	c := r.clients[m.Device]
	if c == nil {
		c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + r.srv.Broker).SetClientID(m.Device).
			SetUsername(m.Device).SetPassword(r.secrets[m.Device]).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			r.t.Fatalf("%s: connect as %s: %v", r.script.Name, m.Device, tok.Error())
		}
		r.clients[m.Device] = c
	}
	if tok := c.Publish(m.Topic, 1, false, m.Payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		r.t.Fatalf("%s: publish %s %s: %v", r.script.Name, m.Topic, m.Payload, tok.Error())
	}
	r.published++
	deadline := time.Now().Add(20 * time.Second)
	for acked(r.srv.HTTP) < float64(r.published) {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: serve acknowledged %v of %d messages within 20 s; the last: %s %s",
				r.script.Name, acked(r.srv.HTTP), r.published, m.Topic, m.Payload)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// restart stops serve gracefully and starts it again on the same store, InfluxDB and clock.
func (r *scenarioRun) restart() {
	r.t.Helper()
	r.disconnect()
	r.srv.stop(r.t)
	r.srv = startServe(r.t, r.env, withClock(r.clock.Now))
	r.published, r.lastTick = 0, time.Time{}
	r.restarted++
}

func (r *scenarioRun) disconnect() {
	for id, c := range r.clients {
		c.Disconnect(100)
		delete(r.clients, id)
	}
}

// alerts lists every alert, as the API reports them to an admin.
func (r *scenarioRun) alerts() []simulators.ObservedAlert {
	r.t.Helper()
	var page struct {
		Items []struct {
			ID       int64  `json:"id"`
			Rule     string `json:"rule"`
			Subject  string `json:"subject"`
			Severity string `json:"severity"`
			State    string `json:"state"`
			Count    int    `json:"count"`
			Late     bool   `json:"late"`
			Doubt    string `json:"doubt"`
		} `json:"items"`
		Next string `json:"next"`
	}
	getJSON(r.t, "http://"+r.srv.HTTP+"/api/v1/alerts?limit=1000", r.token, http.StatusOK, &page)
	if page.Next != "" {
		r.t.Fatalf("more than 1000 alerts")
	}
	got := make([]simulators.ObservedAlert, 0, len(page.Items))
	for _, a := range page.Items {
		got = append(got, simulators.ObservedAlert{ID: a.ID, Rule: a.Rule, Subject: a.Subject, Severity: a.Severity,
			State: a.State, Count: a.Count, Late: a.Late, Doubt: a.Doubt})
	}
	return got
}

// matches reports whether the alerts are exactly the expected ones.
func (r *scenarioRun) matches() bool {
	missing, extra := simulators.MatchAlerts(r.script.Expect, r.alerts())
	return len(missing) == 0 && len(extra) == 0
}

// check compares the alerts the API lists with the script's expectations.
func (r *scenarioRun) check() {
	r.t.Helper()
	got := r.alerts()
	missing, extra := simulators.MatchAlerts(r.script.Expect, got)
	if len(missing) == 0 && len(extra) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s: the alerts are not the ones it expects", r.script.Name)
	for _, e := range missing {
		fmt.Fprintf(&b, "\n  missing: %s", e)
	}
	for _, a := range extra {
		fmt.Fprintf(&b, "\n  not expected: %s", a)
	}
	b.WriteString("\n  all alerts:")
	for _, a := range got {
		fmt.Fprintf(&b, "\n    %s", a)
	}
	r.t.Error(b.String())
}

// quickScript is a scenario of a few seconds, for vitalsim to play on the wall clock.
const quickScript = `
name: quick
description: A few seconds at a centre, played on the wall clock.
sites: [{id: site-q, name: Quick centre, time_zone: Asia/Shanghai}]
teams: [{id: team-q, site: site-q, name: Quick team}]
patients: [{id: P-q-1, team: team-q}, {id: P-q-2, team: team-q}]
devices:
  - {id: cuff-q-1, kind: bp_cuff, site: site-q, patient: P-q-1}
  - {id: gm-q-1, kind: glucose_meter, site: site-q, patient: P-q-2, next_calibration: -1d}
  - {id: band-q-1, kind: wearable, site: site-q, patient: P-q-1}
steps:
  - {at: 0s, device: cuff-q-1, readings: [{type: bp, systolic: 188, diastolic: 110}]}
  - {at: 1s, device: gm-q-1, readings: [{type: glucose, value: 2.7}]}
  - {at: 2s, device: cuff-q-1, readings: [{type: bp, systolic: 191, diastolic: 112}]}
  - {at: 2s, device: band-q-1, readings: [{type: sos}]}
expect:
  - {rule: bp_crisis, patient: P-q-1, severity: critical, state: open, count: 2}
  - {rule: calibration_overdue, device: gm-q-1, severity: warning, state: open}
  - {rule: glucose_very_low, patient: P-q-2, severity: info, doubt: true}
  - {rule: sos, patient: P-q-1, severity: critical, state: open}
`

// TestScenarioWithVitalsim goes the operator's way, as make run does: vitalsim exports the
// script's registry (with its calibration date), vitalwatch imports it, and vitalsim plays the
// script on the wall clock against serve, each device signed in with its secret. The alerts are
// the script's.
func TestScenarioWithVitalsim(t *testing.T) {
	sim, err := vitalsim()
	if err != nil {
		t.Fatal(err)
	}
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dir, dataDir, exportDir := t.TempDir(), t.TempDir(), t.TempDir()
	file := filepath.Join(dir, "quick.yaml")
	writeFile(t, file, quickScript)
	s, err := simulators.LoadScript(file)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sim, "--export-registry", exportDir, "--devices", "0", "--scenario", file, "--seed", "3").CombinedOutput(); err != nil {
		t.Fatalf("vitalsim --export-registry: %v\n%s", err, out)
	}
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket}
	var importLog strings.Builder
	if err := run(context.Background(), []string{"registry", "import", exportDir}, env, io.Discard, &importLog); err != nil {
		t.Fatalf("registry import: %v\n%s", err, importLog.String())
	}
	token := adminTokenIn(t, env)
	srv := startServe(t, env)
	if out, err := exec.Command(sim, "--broker", "tcp://"+srv.Broker, "--auth", "--devices", "0", "--scenario", file, "--seed", "3").CombinedOutput(); err != nil {
		t.Fatalf("vitalsim --scenario: %v\n%s", err, out)
	}
	r := &scenarioRun{t: t, script: s, srv: srv, token: token}
	deadline := time.Now().Add(20 * time.Second)
	for !r.matches() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	r.check()
}
