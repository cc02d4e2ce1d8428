package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reading"
)

// recorder is an MQTT subscriber that keeps what landed on the broker.
type recorder struct {
	mu        sync.Mutex
	telemetry map[string][][]byte // by device id
	status    map[string][][]byte
}

func (r *recorder) count() (telemetry, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ps := range r.telemetry {
		telemetry += len(ps)
	}
	for _, ps := range r.status {
		status += len(ps)
	}
	return telemetry, status
}

// subscribe records every message under prefix/+/telemetry and prefix/+/status.
func subscribe(t *testing.T, brokerURL, prefix string) *recorder {
	t.Helper()
	rec := &recorder{telemetry: map[string][][]byte{}, status: map[string][][]byte{}}
	opts := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID("vitalsim-test-" + t.Name()).
		SetCleanSession(true).SetOrderMatters(false)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect to %s: %v", brokerURL, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	handler := func(_ mqtt.Client, m mqtt.Message) {
		parts := strings.Split(m.Topic(), "/")
		if len(parts) != 3 {
			t.Errorf("message on topic %q; want %s/{id}/telemetry or status", m.Topic(), prefix)
			return
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		switch parts[2] {
		case "telemetry":
			rec.telemetry[parts[1]] = append(rec.telemetry[parts[1]], m.Payload())
		case "status":
			rec.status[parts[1]] = append(rec.status[parts[1]], m.Payload())
		}
	}
	tok := c.SubscribeMultiple(map[string]byte{prefix + "/+/telemetry": 1, prefix + "/+/status": 1}, handler)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return rec
}

// waitFor polls until the recorder holds telemetry and status messages, then waits a little
// longer to catch any beyond them.
func (r *recorder) waitFor(t *testing.T, telemetry, status int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		gotT, gotS := r.count()
		if gotT >= telemetry && gotS >= status || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if gotT, gotS := r.count(); gotT != telemetry || gotS != status {
		t.Fatalf("broker delivered %d telemetry and %d status messages; want %d and %d", gotT, gotS, telemetry, status)
	}
}

func runOK(t *testing.T, ctx context.Context, args ...string) (stdout string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run(%q) = %v\nstderr:\n%s", args, err, errOut.String())
	}
	return out.String()
}

func readSummary(t *testing.T, path string) summary {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("--out file %s: %v", b, err)
	}
	return s
}

func TestLoadPublishesCountWithBadShare(t *testing.T) {
	broker := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	rec := subscribe(t, broker.URL, "devices")
	out := filepath.Join(t.TempDir(), "summary.json")
	const count, devices, badShare = 4000, 60, 0.1

	stdout := runOK(t, context.Background(), "--broker", broker.URL, "--devices", fmt.Sprint(devices),
		"--seed", "3", "--rate", "0", "--count", fmt.Sprint(count), "--bad", fmt.Sprint(badShare),
		"--conns", "3", "--window", "200", "--out", out, "--quiet")
	sum := readSummary(t, out)
	if sum.Sent != count || sum.Errors != 0 || sum.Status != devices {
		t.Fatalf("summary sent %d, errors %d, status %d; want %d, 0, %d\n%s", sum.Sent, sum.Errors, sum.Status, count, devices, stdout)
	}
	// The bad share is a coin per message: within 5 standard deviations of count x share.
	sd := math.Sqrt(count * badShare * (1 - badShare))
	if math.Abs(float64(sum.Bad)-count*badShare) > 5*sd {
		t.Errorf("summary bad %d of %d; want about %.0f (--bad %v)", sum.Bad, count, count*badShare, badShare)
	}
	rec.waitFor(t, count, devices)

	// What landed, decoded by ingest's own decoder, matches the summary exactly: the good
	// messages by reading type, the bad ones by reason.
	gotTypes, gotReasons := map[string]int64{}, map[string]int64{}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for device, payloads := range rec.telemetry {
		for _, p := range payloads {
			msg, rejections := reading.Decode(device, p, time.Now())
			switch {
			case len(rejections) == 0:
				for _, r := range msg.Readings {
					gotTypes[string(r.Type)]++
				}
			case len(rejections) == 1:
				gotReasons[string(rejections[0].Reason)]++
			default:
				t.Errorf("payload %s from %s: %d rejections; want at most one", p, device, len(rejections))
			}
		}
	}
	if fmt.Sprint(gotTypes) != fmt.Sprint(sum.ReadingsByType) {
		t.Errorf("readings landed by type %v; summary says %v", gotTypes, sum.ReadingsByType)
	}
	if fmt.Sprint(gotReasons) != fmt.Sprint(sum.BadByReason) {
		t.Errorf("bad payloads landed by reason %v; summary says %v", gotReasons, sum.BadByReason)
	}
	if !strings.Contains(stdout, fmt.Sprintf("sent %d telemetry messages", count)) {
		t.Errorf("stdout summary:\n%s\nwant the count sent", stdout)
	}
}

func TestLoadPacesToRate(t *testing.T) {
	broker := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	rec := subscribe(t, broker.URL, "sim")
	out := filepath.Join(t.TempDir(), "summary.json")
	start := time.Now()
	runOK(t, context.Background(), "--broker", broker.URL, "--prefix", "sim", "--devices", "20",
		"--rate", "400", "--count", "400", "--status-every", "0", "--coalesce=false", "--out", out, "--quiet")
	// 400 messages at 400/s: the last is due 1 s after the first.
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("400 messages at --rate 400 took %v; want about 1 s", elapsed)
	}
	if sum := readSummary(t, out); sum.Sent != 400 || sum.Rate > 450 {
		t.Errorf("summary sent %d at %.0f msg/s; want 400 at no more than --rate 400", sum.Sent, sum.Rate)
	}
	rec.waitFor(t, 400, 0)
}

func TestLoadStopsGracefullyOnSignal(t *testing.T) {
	broker := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	rec := subscribe(t, broker.URL, "devices")
	out := filepath.Join(t.TempDir(), "summary.json")
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond) // as SIGINT would
	defer cancel()
	runOK(t, ctx, "--broker", broker.URL, "--devices", "30", "--rate", "0", "--status-every", "0", "--out", out, "--quiet")
	sum := readSummary(t, out)
	if sum.Sent == 0 || sum.Errors != 0 {
		t.Fatalf("after a stop: sent %d, errors %d; want some sent and every one acknowledged", sum.Sent, sum.Errors)
	}
	rec.waitFor(t, int(sum.Sent), 0)
}

func TestRealtimeOnlineAndOffline(t *testing.T) {
	broker := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	rec := subscribe(t, broker.URL, "devices")
	out := filepath.Join(t.TempDir(), "summary.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--broker", broker.URL, "--realtime", "--devices", "4",
		"--mix", "cgm=1,bp_cuff=1", "--duration", "1500ms", "--status-every", "0", "--out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run --realtime: %v\n%s", err, stderr.String())
	}
	// A CGM measures every 5 minutes, so one may or may not be due within the run.
	rec.waitFor(t, int(readSummary(t, out).Sent), 8)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for id, ps := range rec.status {
		if len(ps) != 2 || !bytes.Contains(ps[0], []byte(`"online":true`)) || string(ps[1]) != `{"online":false}` {
			t.Errorf("%s status messages %q; want online, then offline", id, ps)
		}
	}
	if len(rec.status) != 4 {
		t.Errorf("status from %d devices; want 4", len(rec.status))
	}
	if !strings.Contains(stdout.String(), "realtime mode, 4 devices over 4 connections") {
		t.Errorf("summary:\n%s\nwant realtime mode with a connection per device", stdout.String())
	}
}

// TestRealtimeWill takes a device's connection over (a client with the same id connects, which
// makes the broker drop the device without a DISCONNECT): the broker publishes the device's will,
// and the device, once reconnected, says it is online again.
func TestRealtimeWill(t *testing.T) {
	broker := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	rec := subscribe(t, broker.URL, "devices")
	done := make(chan error, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(context.Background(), []string{"--broker", broker.URL, "--realtime", "--devices", "1",
			"--mix", "scale=1", "--duration", "3s", "--status-every", "0", "--quiet"}, &stdout, &stderr)
	}()
	waitStatus := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, got := rec.count(); got >= n {
				return
			}
		}
		t.Fatalf("no status message %d from the device", n)
	}
	waitStatus(1) // online
	// Let its acknowledgement arrive first: a publish in flight when the connection drops fails,
	// and counts as an error of the run.
	time.Sleep(200 * time.Millisecond)

	// No automatic reconnect: should the device come back first and take the id over in turn,
	// the thief must not take it once more.
	thief := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL).SetClientID("sim-scale-0001").
		SetAutoReconnect(false))
	if tok := thief.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("take over the device's client id: %v", tok.Error())
	}
	thief.Disconnect(0)
	waitStatus(3) // the will, then online again after the reconnect

	if err := <-done; err != nil {
		t.Fatalf("run --realtime: %v\n%s", err, stderr.String())
	}
	rec.waitFor(t, 0, 4)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var kinds []string
	for _, p := range rec.status["sim-scale-0001"] {
		kinds = append(kinds, map[bool]string{true: "online", false: "offline"}[bytes.Contains(p, []byte(`"online":true`))])
	}
	// The will comes from the broker and the second online from the device, so either may land
	// first.
	got := strings.Join(kinds, " ")
	if got != "online offline online offline" && got != "online online offline offline" {
		t.Errorf("status of the device: %s; want online, the will and online again after the takeover, offline at the end", got)
	}
}

func TestConnectionFailureExitsWithClearError(t *testing.T) {
	port := testsrv.FreePort(t) // nothing listens there
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--broker", fmt.Sprintf("tcp://127.0.0.1:%d", port), "--count", "10", "--quiet"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "cannot connect to MQTT broker") {
		t.Errorf("run against a closed port = %v; want a connection error", err)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{args: nil},
		{args: []string{"--devices", "0"}, wantErr: "--devices"},
		{args: []string{"--bad", "1.5"}, wantErr: "--bad"},
		{args: []string{"--qos", "3"}, wantErr: "--qos"},
		{args: []string{"--rate", "-1"}, wantErr: "--rate"},
		{args: []string{"--prefix", "devices/#"}, wantErr: "--prefix"},
		{args: []string{"--window", "70000"}, wantErr: "--window"},
		{args: []string{"--realtime", "--devices", "1001"}, wantErr: "at most 1000"},
		{args: []string{"--realtime", "--rate", "10"}, wantErr: "--rate is for the load mode"},
		{args: []string{"--mix", "toaster=1"}, wantErr: "unknown device kind"},
		{args: []string{"--auth", "--devices", "5000"}},
		{args: []string{"--auth", "--devices", "5001"}, wantErr: "at most 5000"},
		{args: []string{"--auth", "--realtime", "--devices", "1001"}, wantErr: "at most 1000"},
		{args: []string{"--auth", "--username", "sim"}, wantErr: "do not go with --auth"},
		{args: []string{"--export-registry", "x", "--auth", "--devices", "20000"}},
		{args: []string{"extra"}, wantErr: "unexpected arguments"},
		{args: []string{"--history", "130d"}},
		{args: []string{"--history", "1d12h", "--rate", "5", "--count", "10"}},
		{args: []string{"--history", "2d", "--realtime", "--duration", "1s"}},
		{args: []string{"--history", "2d", "--count", "10"}, wantErr: "--count is for the live run"},
		{args: []string{"--history", "2d", "--bad", "0.1"}, wantErr: "--bad is for the live run"},
		{args: []string{"--history", "soon"}, wantErr: "want a duration such as 130d"},
		{args: []string{"--history", "-1h"}, wantErr: "--history"},
		{args: []string{"--export-registry", "x", "--history", "130d", "--scenario", "reallocation", "--devices", "60"}},
		{args: []string{"--scenario", "reallocation", "--devices", "25"}, wantErr: "at least 26"},
		{args: []string{"--scenario", "nope"}, wantErr: "unknown scenario"},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, io.Discard)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parseFlags(%q) = %v; want no error", tt.args, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseFlags(%q) = %v; want an error about %s", tt.args, err, tt.wantErr)
		}
	}
	cfg, err := parseFlags([]string{"--devices", "2", "--conns", "4"}, io.Discard)
	if err != nil || cfg.conns != 2 {
		t.Errorf("parseFlags(--devices 2 --conns 4) conns = %d, %v; want 2 (no idle connections)", cfg.conns, err)
	}
}
