package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// ingestUsersFile makes a mosquitto_passwd file with one ingest user per name, as an operator
// would, and returns it with each user's password.
func ingestUsersFile(t testing.TB, users ...string) (string, map[string]string) {
	t.Helper()
	passwd, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Fatal("mosquitto_passwd not found: install it with `apt-get install mosquitto` (Debian/Ubuntu package mosquitto)")
	}
	file := filepath.Join(t.TempDir(), "ingest-users")
	passwords := map[string]string{}
	for i, u := range users {
		passwords[u] = "password-of-" + u
		args := []string{"-b", file, u, passwords[u]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(passwd, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %v: %v\n%s", args, err, out)
		}
	}
	return file, passwords
}

// cluster is the documented deployment of several instances, alerts and all: one PostgreSQL
// store, one InfluxDB, one Mosquitto configured by broker-config with an ingest user per
// instance, a team whose centre is closed (so an urgent alert escalates to the on-call doctor
// at the escalator's next tick, rather than after the lead's quarter of an hour), oximeters
// lent to the team's patients, and the team's webhook, whose receiver counts what arrives.
type cluster struct {
	t         *testing.T
	mq        *testsrv.Mosquitto
	ix        *testsrv.Influx
	dsn       string
	passwords map[string]string
	secrets   map[string]string // device -> MQTT secret
	hooks     *hookReceiver
	onCall    string // the user id an escalation pages
}

func startCluster(t *testing.T, nDevices int, users ...string) *cluster {
	t.Helper()
	pg := testsrv.StartPostgres(t)
	c := &cluster{t: t, ix: testsrv.StartInflux(t, testsrv.InfluxOptions{}), dsn: pg.NewDatabase(t),
		secrets: map[string]string{}, hooks: newHookReceiver(t)}

	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const zone = "Asia/Shanghai"
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	// Open one minute a week, two days from now: closed for the whole test.
	closed := time.Now().In(loc).AddDate(0, 0, 2).Weekday().String()[:3] + " 00:00-00:01"
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("site", st.CreateSite(ctx, devices.Site{ID: "c1", Name: "Centre One", TimeZone: zone, OpeningHours: closed}))
	must("team", st.CreateTeam(ctx, devices.Team{ID: "team-1", SiteID: "c1", Name: "Team 1"}))
	lead, err := st.CreateUser(ctx, access.User{ID: "usr_lead", Username: "dr.lead", Role: access.Doctor, Teams: []string{"team-1"}})
	must("lead", err)
	onCall, err := st.CreateUser(ctx, access.User{ID: "usr_oncall", Username: "dr.oncall", Role: access.Doctor, Teams: []string{"team-1"}})
	must("on call", err)
	c.onCall = onCall.ID
	must("roster", st.UpdateTeam(ctx, devices.Team{ID: "team-1", SiteID: "c1", Name: "Team 1", Lead: lead.ID, OnCall: []string{onCall.ID}}))
	var devs []devices.Device
	for i := range nDevices {
		id := fmt.Sprintf("fo-%02d", i)
		c.secrets[id] = "provisioned-secret-of-" + id
		devs = append(devs, devices.Device{ID: id, Kind: devices.Oximeter, SiteID: "c1", Mode: devices.Home,
			Status: devices.Active, SecretHash: devices.HashSecret(c.secrets[id])})
	}
	must("devices", st.CreateDevices(ctx, devs))
	for _, d := range devs {
		must("patient", st.CreatePatient(ctx, devices.Patient{ID: "P-" + d.ID, TeamID: "team-1"}))
		must("loan", st.AssignDevice(ctx, d.ID, "P-"+d.ID, time.Now().Add(-time.Hour)))
	}
	_, err = st.CreateWebhook(ctx, notify.Webhook{Team: "team-1", URL: c.hooks.URL, Secret: "hook-secret", Enabled: true})
	must("webhook", err)

	usersFile, passwords := ingestUsersFile(t, users...)
	c.passwords = passwords
	var stdout, stderr strings.Builder
	env := []string{"VITALWATCH_STORE_DSN=" + c.dsn, "VITALWATCH_DATA_DIR=" + t.TempDir()}
	if err := run(context.Background(), []string{"broker-config", "--ingest-users", usersFile, t.TempDir()}, env, &stdout, &stderr); err != nil {
		t.Fatalf("broker-config --ingest-users: %v\n%s", err, stderr.String())
	}
	c.mq = testsrv.StartMosquitto(t, testsrv.MosquittoOptions{ExtraConfig: mosquittoConfLines(t, stdout.String())})
	return c
}

// instance starts `vitalwatch serve` as a process signed in as the ingest user, in the shared
// group, with everything on (ingest, alerts, escalation, webhooks, usage, device status) and a
// data directory of its own, as on a machine of its own.
func (c *cluster) instance(user string) *proc {
	c.t.Helper()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(c.t))
	return startProc(c.t, writeConfig(c.t, fmt.Sprintf(`data_dir: %s
store:
  dsn: %s
http:
  listen: %s
broker:
  embedded: false
  url: %s
  username: %s
  password: %s
ingest:
  client_id: %s
  shared_group: vitalwatch
%salerts:
  tick: 100ms
  webhooks:
    allow_private: true
influx:
  url: %s
  bucket: %s
`, c.t.TempDir(), c.dsn, httpAddr, c.mq.URL, user, c.passwords[user], user, testTuning, c.ix.URL, c.ix.Bucket)), httpAddr)
}

// hookReceiver is a team's webhook receiver that keeps every request it gets.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []hookRequest
}

// hookRequest is one POST: its idempotency key and what its body says.
type hookRequest struct {
	key     string
	event   string
	alert   int64
	patient string
	level   int
	note    string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p notify.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		h.mu.Lock()
		h.got = append(h.got, hookRequest{key: r.Header.Get("X-VitalWatch-Delivery"), event: string(p.Event.Type),
			alert: p.Alert.ID, patient: p.Alert.Patient, level: p.Alert.EscalationLevel, note: p.Event.Note})
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// TestMultiInstanceFailover runs 2 and 3 instances, each a `vitalwatch serve` process, on one
// PostgreSQL, one InfluxDB and one Mosquitto, in a shared subscription, while 60 oximeters
// stream readings at QoS 1; some patients' SpO2 drops once, an urgent clinical event, before,
// just before, during and after the SIGKILL of one instance, whose standby (its ingest user
// on another machine) takes its session over, as docs/operations.md "When an instance dies"
// has it. The kill comes when the instance has written a second of readings to InfluxDB and
// committed their alerts, and acknowledged none of them, so that the broker delivers them
// again to the standby. Then:
//   - every reading the broker acknowledged to a device is in InfluxDB, one point per device
//     and time, and nothing else is (a reading delivered again is written again to the same
//     series and time, which InfluxDB overwrites: the same point, not a second one);
//   - each drop raised one alert in PostgreSQL, raised once, counting the one reading though
//     it may have been delivered twice, and no other patient has an alert;
//   - each alert escalated once to the on-call doctor, though every instance's escalator
//     runs every 100 ms;
//   - the webhook receiver got each raise and each escalation once, under one key, and
//     nothing else;
//   - the survivors went on storing while the instance was dead.
func TestMultiInstanceFailover(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d_instances", n), func(t *testing.T) { testFailover(t, n) })
	}
}

func testFailover(t *testing.T, n int) {
	const nDevices = 60
	var users []string
	for i := range n {
		users = append(users, fmt.Sprintf("vitalwatch-ingest-%c", 'a'+i))
	}
	c := startCluster(t, nDevices, users...)
	var procs []*proc
	for _, u := range users {
		procs = append(procs, c.instance(u))
	}
	logs := func() string {
		var b strings.Builder
		for _, p := range procs {
			fmt.Fprintf(&b, "--- %s\n%s\n", p.http, p.logTail())
		}
		return b.String()
	}

	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range c.secrets {
			if !yield(id) {
				return
			}
		}
	})
	// Four groups of eight patients each have one low reading: a while before the kill, just
	// before it, while the instance is dead, and after its standby took over. The other 28
	// never do.
	groups := [][]string{ids[0:8], ids[8:16], ids[16:24], ids[24:32]}
	fleet := startFleet(t, c.mq.Addr, c.secrets, 100*time.Millisecond) // 60 devices x 10 a second
	fleet.waitSent(1500)
	fleet.lowNext(groups[0])
	fleet.waitSent(1200)

	// The kill, of the last instance, in the worst place: after it has written a second of
	// readings, the second group's low ones among them, and committed their alerts, and
	// before it acknowledged them. A lock on the store's use log holds every instance's
	// acknowledgements back meanwhile (a message is acknowledged once its uses are stored).
	victim := procs[n-1]
	ctx := context.Background()
	db, err := sql.Open("pgx", c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hold, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.ExecContext(ctx, `LOCK TABLE usage_log IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	victimAcked := metric(t, victim, "vitalwatch_ingest_acked_total")
	fleet.lowNext(groups[1])
	time.Sleep(time.Second)
	if got := metric(t, victim, "vitalwatch_ingest_acked_total"); got > victimAcked+300 {
		t.Fatalf("the instance acknowledged %v messages while the use log was locked; the test needs it to hold them", got-victimAcked)
	}
	// What the instances wrote and did not acknowledge: the victim's part of it is delivered
	// again, to its standby, and written again.
	var ackedAll float64
	for _, p := range procs {
		ackedAll += metric(t, p, "vitalwatch_ingest_acked_total")
	}
	held := c.ix.Count(t, "spo2") - int(ackedAll)
	if held <= 0 {
		t.Fatalf("InfluxDB holds no reading beyond the %v acknowledged: the kill would leave nothing written to deliver again", ackedAll)
	}
	killedAt := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.cmd.Wait()
	hold.Rollback()
	survivors := slices.Clone(procs[:n-1])
	t.Logf("instance %d of %d killed; the instances had written %d readings they had not acknowledged, about 1/%d of them the victim's", n, n, held, n)

	// The survivors carry on: of what is sent while the instance is dead, their share lands.
	fleet.lowNext(groups[2])
	sentAtKill := fleet.count()
	fleet.waitSent(1500)
	time.Sleep(2 * time.Second)
	sentDead := fleet.count() - sentAtKill
	landedDead := c.ix.Count(t, "spo2") // all of it, for the log
	after := len(c.ix.Query(t, fmt.Sprintf(`from(bucket: %q) |> range(start: %s) |> filter(fn: (r) => r._measurement == "spo2" and r._field == "value")`,
		c.ix.Bucket, killedAt.Add(time.Millisecond).UTC().Format(time.RFC3339Nano))))
	t.Logf("with instance %d dead: %d readings sent, %d of them stored by the survivors (%d in all)", n, sentDead, after, landedDead)
	if want := sentDead * (n - 1) / n / 2; after < want {
		t.Errorf("the survivors stored %d of the %d readings sent while an instance was dead; want at least %d (half their share)\n%s",
			after, sentDead, want, logs())
	}

	// The standby: another machine with the dead instance's ingest user.
	standby := c.instance(users[n-1])
	procs = append(survivors, standby)
	fleet.waitSent(600)
	fleet.lowNext(groups[3])
	fleet.waitSent(1200)
	acked, unacked, dropped := fleet.finish(60 * time.Second)
	if unacked+dropped > 0 {
		// The devices' connections are to Mosquitto, which no instance's death closes.
		t.Fatalf("%d publishes unacknowledged by the broker 60 s after the fleet stopped (%d of them as their connections closed)",
			unacked+dropped, dropped)
	}

	// Readings: each acknowledged one stored, once, and nothing else.
	want := map[string]bool{}
	for _, s := range acked {
		want[fmt.Sprintf("%s@%d", s.device, s.at)] = true
	}
	stored := map[string]int{}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		stored = map[string]int{}
		for _, r := range c.ix.Query(t, fmt.Sprintf(`from(bucket: %q) |> range(start: -1h) |> filter(fn: (r) => r._measurement == "spo2" and r._field == "value")`, c.ix.Bucket)) {
			at, err := time.Parse(time.RFC3339Nano, r["_time"])
			if err != nil {
				t.Fatalf("row %v: %v", r, err)
			}
			stored[fmt.Sprintf("%s@%d", r["device"], at.UnixMilli())]++
		}
		if len(stored) >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	var lost, extra, twice int
	for k := range want {
		if stored[k] == 0 {
			lost++
		}
	}
	for k, cnt := range stored {
		if !want[k] {
			extra++
		}
		if cnt > 1 {
			twice++
		}
	}
	if lost > 0 || extra > 0 || twice > 0 {
		t.Errorf("of %d acknowledged readings, %d are not in InfluxDB, %d points were never published, %d device-times hold more than one point\n%s",
			len(want), lost, extra, twice, logs())
	}
	t.Logf("%d readings acknowledged to devices, %d points stored", len(want), len(stored))

	// Alerts in PostgreSQL: one per low patient, raised once, escalated once to the on-call doctor.
	low := map[string]bool{}
	for _, g := range groups {
		for _, id := range g {
			low["P-"+id] = true
		}
	}
	st, err := store.Open(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	type history struct {
		alert               alerts.Alert
		raised, escalations int
		types               []alerts.EventType
	}
	var got map[string]history
	settled := func() bool {
		list, err := st.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]history{}
		ok := true
		for _, a := range list {
			evs, err := st.AlertHistory(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			h := got[a.Patient+"/"+a.Rule]
			h.alert = a
			for _, ev := range evs {
				h.types = append(h.types, ev.Type)
				switch ev.Type {
				case alerts.EventRaised:
					h.raised++
				case alerts.EventEscalated:
					h.escalations++
				}
			}
			got[a.Patient+"/"+a.Rule] = h
			ok = ok && h.escalations > 0
		}
		return ok && len(got) >= len(low)
	}
	for deadline := time.Now().Add(30 * time.Second); !settled() && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
	}
	time.Sleep(time.Second) // ten more escalator ticks of each instance: a second escalation would show
	settled()
	var counted []int
	for p := range low {
		h, ok := got[p+"/spo2_low"]
		switch {
		case !ok:
			t.Errorf("%s had a low SpO2 and has no spo2_low alert", p)
		case h.raised != 1 || h.escalations != 1:
			t.Errorf("%s's alert %d: raised %d times, escalated %d times (events %v); want once each", p, h.alert.ID, h.raised, h.escalations, h.types)
		case h.alert.EscalationLevel != 2 || h.alert.State != alerts.Open || h.alert.Severity != alerts.Urgent:
			t.Errorf("%s's alert: %s, %v, level %d; want open, urgent, at level 2 (the on-call doctor)", p, h.alert.State, h.alert.Severity, h.alert.EscalationLevel)
		}
		counted = append(counted, h.alert.Count)
		if ok && h.alert.Count != 1 {
			t.Errorf("%s's alert counts %d findings; want 1: one low reading, however often it was delivered", p, h.alert.Count)
		}
	}
	for k, h := range got {
		if !low[h.alert.Patient] || h.alert.Rule != "spo2_low" {
			t.Errorf("unexpected alert %s: %v", k, h.alert)
		}
	}
	t.Logf("alerts' counts of findings (one low reading each): %v", counted)

	// The webhook: each raise and each escalation once, under one key each.
	var reqs []hookRequest
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if reqs = c.hooks.requests(); len(reqs) >= 2*len(low) || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(2500 * time.Millisecond) // more than two of the deliverers' polls: a repeat would show
	reqs = c.hooks.requests()
	keys := map[string]int{}
	byAlert := map[string][]string{}
	for _, r := range reqs {
		keys[r.key]++
		byAlert[r.patient] = append(byAlert[r.patient], r.event)
		if r.event == string(alerts.EventEscalated) && (r.note != c.onCall || r.level != 2) {
			t.Errorf("escalation of %s's alert sent to %q at level %d; want %s at level 2", r.patient, r.note, r.level, c.onCall)
		}
	}
	for k, cnt := range keys {
		if cnt > 1 {
			t.Errorf("delivery %s was sent %d times", k, cnt)
		}
	}
	for p := range low {
		// Both may be claimed at once and sent in parallel: in either order.
		if evs := slices.Sorted(slices.Values(byAlert[p])); !slices.Equal(evs, []string{"escalated", "raised"}) {
			t.Errorf("webhook requests for %s's alert: %v; want one raised and one escalated", p, evs)
		}
	}
	for p, evs := range byAlert {
		if !low[p] {
			t.Errorf("webhook requests for %s, who had no low reading: %v", p, evs)
		}
	}
	if len(reqs) != 2*len(low) {
		t.Errorf("the receiver got %d requests; want %d (a raise and an escalation of each of %d alerts)", len(reqs), 2*len(low), len(low))
	}
	t.Logf("webhook: %d requests, %d keys", len(reqs), len(keys))
}
