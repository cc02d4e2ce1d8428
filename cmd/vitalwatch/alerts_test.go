package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// sseEvent is one event of the alert stream.
type sseEvent struct {
	id, typ string
	alert   struct {
		ID       int64  `json:"id"`
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Patient  string `json:"patient"`
		Team     string `json:"team"`
		Count    int    `json:"count"`
		State    string `json:"state"`
	}
}

// streamAlerts follows GET /api/v1/alerts/stream and sends its events on the channel until the
// test ends.
func streamAlerts(t testing.TB, base, token, lastID string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /alerts/stream = %d", resp.StatusCode)
	}
	out := make(chan sseEvent, 16)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		var ev sseEvent
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.alert)
			case line == "" && ev.id != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out
}

// nextEvent waits for the stream's next event.
func nextEvent(t testing.TB, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the alert stream ended")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no alert event within 20s")
	}
	return sseEvent{}
}

// TestAlertsThroughThePipeline: a low SpO2 from a home oximeter lent to a patient becomes an
// urgent spo2_low alert of the patient's team, on the live feed and in the list; a repeat
// updates it without notifying; and after a restart the next repeat still updates the one open
// alert instead of raising a second.
func TestAlertsThroughThePipeline(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	secrets := seedDevices(t, dataDir, "ox-1")
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	lent := time.Now().Add(-time.Hour)
	for _, err := range []error{
		st.CreateTeam(ctx, devices.Team{ID: "team-1", SiteID: "test-site", Name: "Team 1"}),
		st.CreatePatient(ctx, devices.Patient{ID: "P-1", TeamID: "team-1"}),
		st.AssignDevice(ctx, "ox-1", "P-1", lent),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	token := adminToken(t, dataDir)
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket}
	srv := startServe(t, env)
	base := "http://" + srv.HTTP

	publish := func(srv *server, at time.Time, spo2 int) {
		t.Helper()
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Broker).SetClientID("ox-1").
			SetUsername("ox-1").SetPassword(secrets["ox-1"]).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		defer c.Disconnect(100)
		payload := fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":%d,"unit":"%%"}]}`, at.UnixMilli(), spo2)
		if tok := c.Publish("devices/ox-1/telemetry", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	type alertPage struct {
		Items []struct {
			ID       int64  `json:"id"`
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
			Count    int    `json:"count"`
			State    string `json:"state"`
			Team     string `json:"team"`
		} `json:"items"`
	}
	waitCount := func(srv *server, want int) alertPage {
		t.Helper()
		var page alertPage
		deadline := time.Now().Add(20 * time.Second)
		for {
			page = alertPage{}
			getJSON(t, "http://"+srv.HTTP+"/api/v1/alerts?patient=P-1", token, http.StatusOK, &page)
			if len(page.Items) > 0 && page.Items[0].Count >= want || time.Now().After(deadline) {
				return page
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	events := streamAlerts(t, base, token, "")
	publish(srv, time.Now().Add(-2*time.Minute), 97) // normal: nothing
	publish(srv, time.Now().Add(-time.Minute), 88)
	ev := nextEvent(t, events)
	if ev.typ != "raised" || ev.alert.Rule != "spo2_low" || ev.alert.Severity != "urgent" || ev.alert.Patient != "P-1" || ev.alert.Team != "team-1" {
		t.Fatalf("first event = %s %+v; want spo2_low raised, urgent, for P-1 of team-1", ev.typ, ev.alert)
	}
	publish(srv, time.Now(), 89)
	if ev2 := nextEvent(t, events); ev2.typ != "updated" || ev2.alert.ID != ev.alert.ID || ev2.alert.Count != 2 {
		t.Fatalf("second event = %s %+v; want an update of alert %d to count 2", ev2.typ, ev2.alert, ev.alert.ID)
	}
	srv.stop(t)

	srv = startServe(t, env)
	publish(srv, time.Now(), 90)
	page := waitCount(srv, 3)
	if len(page.Items) != 1 || page.Items[0].ID != ev.alert.ID || page.Items[0].Count != 3 || page.Items[0].State != "open" {
		t.Fatalf("alerts of P-1 after a restart = %+v; want the one open alert %d with count 3", page.Items, ev.alert.ID)
	}
	// The feed resumes where the client left off: the update made after the restart.
	resumed := streamAlerts(t, "http://"+srv.HTTP, token, ev.id)
	if got := nextEvent(t, resumed); got.typ != "updated" || got.alert.Count != 2 {
		t.Fatalf("resumed after %s: %s %+v; want the update to count 2 first", ev.id, got.typ, got.alert)
	}
	if got := nextEvent(t, resumed); got.typ != "updated" || got.alert.Count != 3 {
		t.Fatalf("resumed: then %s %+v; want the update to count 3", got.typ, got.alert)
	}

	// The detail's evidence is read back from InfluxDB: the three low readings, as ingest
	// stored them (with the registry's tags, which the recorded evidence does not have); the
	// normal one is before the alert's window.
	type evidence struct {
		Device     string            `json:"device"`
		Value      float64           `json:"value"`
		Recorded   bool              `json:"recorded"`
		InInfluxDB *bool             `json:"in_influxdb"`
		Tags       map[string]string `json:"tags"`
		Fields     map[string]any    `json:"fields"`
	}
	var detail struct {
		Evidence       []evidence `json:"evidence"`
		EvidenceSource string     `json:"evidence_source"`
	}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		detail.Evidence = nil
		getJSON(t, fmt.Sprintf("%s/api/v1/alerts/%d", "http://"+srv.HTTP, ev.alert.ID), token, http.StatusOK, &detail)
		got = nil
		for _, e := range detail.Evidence {
			got = append(got, fmt.Sprintf("%s %v recorded=%v stored=%v patient=%s site=%s field=%v", e.Device, e.Value, e.Recorded,
				e.InInfluxDB != nil && *e.InInfluxDB, e.Tags["patient"], e.Tags["site"], e.Fields["value"]))
		}
		if detail.EvidenceSource == "influxdb" && len(got) == 3 && !strings.Contains(strings.Join(got, ","), "stored=false") || time.Now().After(deadline) {
			break
		}
	}
	want := []string{"ox-1 88 recorded=true stored=true patient=P-1 site=test-site field=88", "ox-1 89 recorded=true stored=true patient=P-1 site=test-site field=89",
		"ox-1 90 recorded=true stored=true patient=P-1 site=test-site field=90"}
	if detail.EvidenceSource != "influxdb" || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("evidence of alert %d from %q = %q; want %q", ev.alert.ID, detail.EvidenceSource, got, want)
	}
}

// `vitalwatch alerts rules` prints the rules in force: the defaults changed by the rules file.
func TestAlertsRulesCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(file, []byte("version: 7\nrules:\n  glucose_low:\n    below: 4.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	env := []string{"VITALWATCH_DATA_DIR=" + dir, "VITALWATCH_ALERTS_RULES_FILE=" + file}
	if err := run(context.Background(), []string{"alerts", "rules"}, env, &out, &errOut); err != nil {
		t.Fatalf("alerts rules: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"version: 7", "below: 4\n", "glucose_very_low:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("alerts rules printed no %q:\n%s", want, out.String())
		}
	}
	// A bad rules file stops everything with the key named.
	os.WriteFile(file, []byte("version: 7\nrules:\n  glucose_low:\n    below: low\n"), 0o600)
	err := run(context.Background(), []string{"alerts", "rules"}, env, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "alerts.rules_file") || !strings.Contains(err.Error(), "glucose_low.below") {
		t.Errorf("alerts rules with a bad file = %v; want an error naming alerts.rules_file and glucose_low.below", err)
	}
}

// TestAlertRulesResumeAfterRestart: a blood-pressure crisis raises an urgent alert; serve
// restarts; a second crisis reading within the 15-minute retest window confirms it (critical).
// The second reading alone would be another unconfirmed crisis: the confirmation needs the
// first, which the restarted engine gets back from InfluxDB.
func TestAlertRulesResumeAfterRestart(t *testing.T) {
	// With the rules file's thresholds; and with the patient's own, which make readings below
	// the file's crisis level a crisis: the replay must judge the first reading by them too.
	t.Run("file thresholds", func(t *testing.T) { testResumeAfterRestart(t, nil, [2][2]int{{186, 100}, {192, 104}}) })
	t.Run("patient override", func(t *testing.T) {
		testResumeAfterRestart(t, rules.Overrides{"bp_crisis": {"systolic_at_or_above": 170}}, [2][2]int{{172, 95}, {175, 96}})
	})
}

// testResumeAfterRestart raises a BP crisis from the first reading of bp, restarts serve, and
// checks that the second confirms it; override, if any, is the patient's.
func testResumeAfterRestart(t *testing.T, override rules.Overrides, bp [2][2]int) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	secrets := seedDevices(t, dataDir, "cuff-1")
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		st.CreateTeam(ctx, devices.Team{ID: "team-1", SiteID: "test-site", Name: "Team 1"}),
		st.CreatePatient(ctx, devices.Patient{ID: "P-1", TeamID: "team-1"}),
		st.AssignDevice(ctx, "cuff-1", "P-1", time.Now().Add(-time.Hour)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if override != nil {
		if err := st.SetOverrides(ctx, rules.PatientOverrides, "P-1", override); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	token := adminToken(t, dataDir)
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket}
	publish := func(srv *server, at time.Time, sys, dia int) {
		t.Helper()
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Broker).SetClientID("cuff-1").
			SetUsername("cuff-1").SetPassword(secrets["cuff-1"]).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		defer c.Disconnect(100)
		payload := fmt.Sprintf(`{"ts":%d,"readings":[{"type":"bp","systolic":%d,"diastolic":%d,"unit":"mm[Hg]"}]}`, at.UnixMilli(), sys, dia)
		if tok := c.Publish("devices/cuff-1/telemetry", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}

	srv := startServe(t, env)
	events := streamAlerts(t, "http://"+srv.HTTP, token, "")
	first := time.Now().Add(-6 * time.Minute)
	publish(srv, first, bp[0][0], bp[0][1])
	ev := nextEvent(t, events)
	if ev.typ != "raised" || ev.alert.Rule != "bp_crisis" || ev.alert.Severity != "urgent" {
		t.Fatalf("first crisis: %s %+v; want bp_crisis raised, urgent", ev.typ, ev.alert)
	}
	srv.stop(t)

	srv = startServe(t, env)
	events = streamAlerts(t, "http://"+srv.HTTP, token, ev.id)
	publish(srv, first.Add(5*time.Minute), bp[1][0], bp[1][1])
	ev2 := nextEvent(t, events)
	if ev2.typ != "severity_raised" || ev2.alert.ID != ev.alert.ID || ev2.alert.Severity != "critical" {
		t.Fatalf("retest after a restart: %s %+v; want alert %d raised to critical", ev2.typ, ev2.alert, ev.alert.ID)
	}
}

// TestAlertsWithTwoInstances: two serve instances share a subscription on one Mosquitto and one
// PostgreSQL store; a device's low SpO2 readings are split between them, and still make exactly
// one open alert, raised once, counting every reading.
func TestAlertsWithTwoInstances(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	pg := testsrv.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		st.CreateSite(ctx, devices.Site{ID: "test-site", Name: "Test centre", TimeZone: "Asia/Shanghai"}),
		st.CreateTeam(ctx, devices.Team{ID: "team-1", SiteID: "test-site", Name: "Team 1"}),
		st.CreatePatient(ctx, devices.Patient{ID: "P-1", TeamID: "team-1"}),
		st.CreateDevice(ctx, devices.Device{ID: "ox-1", Kind: devices.Oximeter, SiteID: "test-site", Mode: devices.Home,
			Status: devices.Active, SecretHash: devices.HashSecret(devices.NewSecret())}),
		st.AssignDevice(ctx, "ox-1", "P-1", time.Now().Add(-time.Hour)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	common := []string{"VITALWATCH_STORE_DSN=" + dsn, "VITALWATCH_BROKER_EMBEDDED=false", "VITALWATCH_BROKER_URL=" + mq.URL,
		"VITALWATCH_INGEST_SHARED_GROUP=ingest", "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket,
		"VITALWATCH_INGEST_BATCH_SIZE=5"}
	var srvs []*server
	for _, name := range []string{"a", "b"} {
		env := append([]string{"VITALWATCH_DATA_DIR=" + t.TempDir(), "VITALWATCH_INGEST_CLIENT_ID=ingest-" + name}, common...)
		srvs = append(srvs, startServe(t, env))
	}
	token := adminTokenIn(t, []string{"VITALWATCH_STORE_DSN=" + dsn, "VITALWATCH_DATA_DIR=" + t.TempDir()})

	const n = 60
	var msgs []testsrv.Message
	base := time.Now().Add(-30 * time.Minute)
	for i := range n {
		msgs = append(msgs, testsrv.Message{Topic: "devices/ox-1/telemetry",
			Payload: fmt.Appendf(nil, `{"ts":%d,"readings":[{"type":"spo2","value":88,"unit":"%%"}]}`, base.Add(time.Duration(i)*10*time.Second).UnixMilli())})
	}
	testsrv.Publish(t, mq.URL, msgs)
	deadline := time.Now().Add(30 * time.Second)
	for acked(srvs[0].HTTP)+acked(srvs[1].HTTP) < n {
		if time.Now().After(deadline) {
			t.Fatalf("acknowledged %v + %v of %d", acked(srvs[0].HTTP), acked(srvs[1].HTTP), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if acked(srvs[0].HTTP) == 0 || acked(srvs[1].HTTP) == 0 {
		t.Fatalf("one instance took everything (%v and %v): the test needs both", acked(srvs[0].HTTP), acked(srvs[1].HTTP))
	}
	var page struct {
		Items []struct {
			ID    int64  `json:"id"`
			Rule  string `json:"rule"`
			Count int    `json:"count"`
			State string `json:"state"`
		} `json:"items"`
	}
	getJSON(t, "http://"+srvs[1].HTTP+"/api/v1/alerts?patient=P-1", token, http.StatusOK, &page)
	if len(page.Items) != 1 || page.Items[0].Rule != "spo2_low" || page.Items[0].Count != n || page.Items[0].State != "open" {
		t.Fatalf("alerts of P-1 = %+v; want one open spo2_low alert counting all %d readings", page.Items, n)
	}
	// Its history: raised once, then only updates.
	events := streamAlerts(t, "http://"+srvs[0].HTTP, token, "0")
	raised := 0
	for range n {
		if ev := nextEvent(t, events); ev.typ == "raised" || ev.typ == "severity_raised" {
			raised++
		}
	}
	if raised != 1 {
		t.Errorf("the alert was raised %d times; want once", raised)
	}
}

// adminTokenIn is adminToken for a store given by env.
func adminTokenIn(t testing.TB, env []string) string {
	t.Helper()
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"users", "add", "--username", "ops", "--role", "admin"}, env, &out, &errOut); err != nil {
		t.Fatalf("users add: %v\n%s", err, errOut.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"tokens", "create", "--user", "ops", "--name", "test"}, env, &out, &errOut); err != nil {
		t.Fatalf("tokens create: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[len(lines)-1]
}
