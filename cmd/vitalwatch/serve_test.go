package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// TestServeWithEmbeddedBrokerAndVitalsim runs vitalwatch serve with its embedded broker and
// vitalsim as the publisher: every good reading vitalsim reports is in InfluxDB, every bad
// payload is a dead letter with the reason vitalsim meant, and the HTTP API answers.
func TestServeWithEmbeddedBrokerAndVitalsim(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	sim, err := vitalsim()
	if err != nil {
		t.Fatal(err)
	}
	// The fleet's registry, as an operator would load it: vitalsim exports it, the CLI imports it.
	dataDir, exportDir := t.TempDir(), t.TempDir()
	if out, err := exec.Command(sim, "--export-registry", exportDir, "--devices", "80", "--seed", "7").CombinedOutput(); err != nil {
		t.Fatalf("vitalsim --export-registry: %v\n%s", err, out)
	}
	var importLog strings.Builder
	if err := run(context.Background(), []string{"registry", "import", exportDir}, []string{"VITALWATCH_DATA_DIR=" + dataDir},
		io.Discard, &importLog); err != nil {
		t.Fatalf("registry import: %v\n%s", err, importLog.String())
	}
	token := adminToken(t, dataDir)
	l := startServe(t, []string{
		"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL,
		"VITALWATCH_INFLUX_BUCKET=" + ix.Bucket, "VITALWATCH_INGEST_WATCHDOG_INTERVAL=1s",
	})
	base := "http://" + l.HTTP

	summaryFile := filepath.Join(t.TempDir(), "summary.json")
	out, err := exec.Command(sim, "--broker", "tcp://"+l.Broker, "--auth", "--devices", "80", "--seed", "7", "--rate", "0",
		"--count", "3000", "--bad", "0.05", "--status-every", "0", "--out", summaryFile, "--quiet").CombinedOutput()
	if err != nil {
		t.Fatalf("vitalsim: %v\n%s", err, out)
	}
	var sum struct {
		Sent, Good, Bad int64
		ReadingsByType  map[string]int64 `json:"readings_by_type"`
		BadByReason     map[string]int64 `json:"bad_by_reason"`
	}
	body, _ := os.ReadFile(summaryFile)
	if err := json.Unmarshal(body, &sum); err != nil {
		t.Fatalf("summary %s: %v", body, err)
	}
	if sum.Sent != 3000 || sum.Bad == 0 || len(sum.ReadingsByType) < 4 {
		t.Fatalf("vitalsim summary %s; want 3000 sent with bad ones and several reading types", body)
	}

	want := map[string]int{}
	for typ, n := range sum.ReadingsByType {
		m := typ
		if typ == "fall" || typ == "sos" {
			m = "event"
		}
		want[m] += int(n)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string]int{}
		for m := range want {
			got[m] = ix.Count(t, m)
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("points per measurement = %v; want vitalsim's %v", got, want)
		}
		time.Sleep(500 * time.Millisecond)
	}

	var page struct {
		Items []struct {
			Reason, Device, Payload string
			PayloadBase64           string `json:"payload_base64"`
		}
		Next string
	}
	// Dead letters are stored after a batch's points are durable, just before it is
	// acknowledged: they may trail the points by a moment.
	deadline = time.Now().Add(30 * time.Second)
	for {
		getJSON(t, base+"/api/v1/deadletters?limit=1000", token, http.StatusOK, &page)
		gotDead := map[string]int64{}
		for _, d := range page.Items {
			gotDead[d.Reason]++
			if d.Payload == "" && d.PayloadBase64 == "" || !strings.HasPrefix(d.Device, "sim-") {
				t.Fatalf("dead letter %+v; want the device and the raw payload", d)
			}
		}
		if fmt.Sprint(gotDead) == fmt.Sprint(sum.BadByReason) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters by reason = %v; want vitalsim's %v", gotDead, sum.BadByReason)
		}
		time.Sleep(200 * time.Millisecond)
	}

	var apiErr struct {
		Error struct{ Code, Message string }
	}
	getJSON(t, base+"/api/v1/deadletters?limit=0", token, http.StatusBadRequest, &apiErr)
	if apiErr.Error.Code != "invalid" || !strings.Contains(apiErr.Error.Message, "limit") {
		t.Errorf("limit=0 answered %+v; want an invalid error naming limit", apiErr)
	}
	getJSON(t, base+"/api/v1/deadletters?reason=bogus", token, http.StatusBadRequest, &apiErr)
	if !strings.Contains(apiErr.Error.Message, "reason") {
		t.Errorf("reason=bogus answered %+v; want an error naming reason", apiErr)
	}
	getJSON(t, base+"/api/v1/nothing", token, http.StatusNotFound, &apiErr)
	// Without credentials, loopback included, the API answers 401.
	getJSON(t, base+"/api/v1/deadletters", "", http.StatusUnauthorized, &apiErr)
	if apiErr.Error.Code != "unauthorized" {
		t.Errorf("/api/v1/deadletters without a token answered %+v; want unauthorized", apiErr)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `vitalwatch_ingest_readings_total{type="bp"}`) {
		t.Errorf("/metrics lacks the readings counter")
	}

	l.stop(t)
}

// adminToken makes an admin in the store of dataDir, as an operator would before the first
// start, and returns an API token acting as them.
func adminToken(t *testing.T, dataDir string) string {
	t.Helper()
	var out, errOut strings.Builder
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir}
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

// server is vitalwatch serve running in the test process.
type server struct {
	listening
	cancel context.CancelFunc
	served chan error
	once   sync.Once
	err    error
}

// startServe runs serve with the VITALWATCH_* settings in env (HTTP and the embedded broker on
// free loopback ports unless env says otherwise) and opts, and waits until it is ready. It is
// stopped at the end of the test if the test has not stopped it.
func startServe(t *testing.T, env []string, opts ...serveOption) *server {
	t.Helper()
	cfg, err := LoadConfig("", append([]string{"VITALWATCH_HTTP_LISTEN=127.0.0.1:0", "VITALWATCH_BROKER_LISTEN=127.0.0.1:0"}, env...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &server{cancel: cancel, served: make(chan error, 1)}
	addrs := make(chan listening, 1)
	go func() {
		srv.served <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(l listening) { addrs <- l }, opts...)
	}()
	t.Cleanup(func() { srv.shutdown() })
	select {
	case srv.listening = <-addrs:
	case err := <-srv.served:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	waitReady(t, "http://"+srv.HTTP)
	return srv
}

// shutdown stops serve gracefully, once, and returns what it returned.
func (s *server) shutdown() error {
	s.once.Do(func() {
		s.cancel()
		select {
		case s.err = <-s.served:
		case <-time.After(60 * time.Second):
			s.err = errors.New("serve did not stop within a minute")
		}
	})
	return s.err
}

// stop stops serve and fails the test unless it shut down cleanly.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.shutdown(); err != nil {
		t.Fatalf("serve after shutdown: %v; want nil", err)
	}
}

func waitReady(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz = %d %s", resp.StatusCode, body)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("/readyz: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// getJSON GETs url, with the bearer token unless it is empty, and decodes the JSON answer.
func getJSON(t *testing.T, url, token string, wantStatus int, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s = %d %s %s; want %d JSON", url, resp.StatusCode, resp.Header.Get("Content-Type"), body, wantStatus)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
}

// TestGracefulStopWithEmbeddedBrokerLosesNothing stops serve while a device is publishing as
// fast as it can. The embedded broker keeps messages in memory, so every message it acknowledged
// to the device must be in InfluxDB by the time serve returns.
func TestGracefulStopWithEmbeddedBrokerLosesNothing(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	secret := seedDevices(t, dataDir, "dev-stop")["dev-stop"]
	l := startServe(t, []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket})

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + l.Broker).SetClientID("dev-stop").
		SetUsername("dev-stop").SetPassword(secret).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	type sent struct {
		at  int64
		tok mqtt.Token
	}
	var all []sent
	var mu sync.Mutex
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			at := base.Add(time.Duration(i) * time.Millisecond).UnixMilli()
			tok := c.Publish("devices/dev-stop/telemetry", 1, false,
				fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":97,"unit":"%%"}]}`, at))
			mu.Lock()
			all = append(all, sent{at, tok})
			mu.Unlock()
			if i%200 == 199 {
				time.Sleep(time.Millisecond) // a fast device, not a flood that starves the test
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	l.stop(t) // graceful stop while the device keeps publishing
	close(stop)
	<-pubDone

	// Every publish the broker acknowledged.
	acked := map[int64]bool{}
	mu.Lock()
	for _, s := range all {
		if s.tok.WaitTimeout(100*time.Millisecond) && s.tok.Error() == nil {
			acked[s.at] = true
		}
	}
	mu.Unlock()
	c.Disconnect(0)
	if len(acked) < 100 {
		t.Fatalf("only %d publishes acknowledged; the test proves nothing", len(acked))
	}
	rows := ix.Query(t, fmt.Sprintf(`from(bucket: %q) |> range(start: %s) |> filter(fn: (r) => r._measurement == "spo2")`,
		ix.Bucket, base.Add(-time.Minute).Format(time.RFC3339)))
	stored := map[int64]bool{}
	for _, r := range rows {
		at, _ := time.Parse(time.RFC3339Nano, r["_time"])
		stored[at.UnixMilli()] = true
	}
	var lost int
	for at := range acked {
		if !stored[at] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d messages the broker acknowledged are not in InfluxDB", lost, len(acked))
	}
	t.Logf("%d acknowledged publishes, all stored; %d sent in all", len(acked), len(all))
}
