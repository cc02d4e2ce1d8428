package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/broker"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/simulators"
)

// connections counts what the embedded broker reports of each device's connections.
type connections struct {
	mu     sync.Mutex
	events map[string]map[status.Event]int
}

func (c *connections) Connection(device string, ev status.Event, _ time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events[device] == nil {
		c.events[device] = map[status.Event]int{}
	}
	c.events[device][ev]++
}

// sessionBroker starts the embedded broker with device sign-in against the registry exported
// to dir, and a principal "reader" that may read every device's topics. ingest, when not
// empty, is the client id the broker waits for before it takes devices (as in serve).
func sessionBroker(t *testing.T, dir, ingest string) (*broker.Broker, *connections) {
	t.Helper()
	e := readExport(t, dir)
	var devs []devices.Device
	for _, id := range e.order["devices"] {
		d := e.devices[id]
		devs = append(devs, devices.Device{ID: id, Kind: devices.Kind(d["kind"]), SiteID: d["site"], Mode: devices.Mode(d["mode"]),
			Status: devices.Active, SecretHash: devices.HashSecret(d["secret"])})
	}
	conns := &connections{events: map[string]map[status.Event]int{}}
	reader := broker.Principal{Username: "reader", Password: "reader-password", ClientID: ingest,
		Subscribe: []string{"devices/+/telemetry", "devices/+/status"}}
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Devices: devices.NewView(devices.NewDirectory(1, devs, nil, nil)),
		Principals: []broker.Principal{reader}, Ingest: ingest, Presence: conns}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, conns
}

// read subscribes as the broker's reader (with client id, if not empty) and counts the
// messages delivered.
func read(t *testing.T, url, clientID string) (telemetry, status *atomic.Int64) {
	t.Helper()
	telemetry, status = new(atomic.Int64), new(atomic.Int64)
	if clientID == "" {
		clientID = "reader"
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetUsername("reader").
		SetPassword("reader-password").SetCleanSession(false).SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("reader connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.SubscribeMultiple(map[string]byte{"devices/+/telemetry": 1, "devices/+/status": 1}, func(_ mqtt.Client, m mqtt.Message) {
		if strings.HasSuffix(m.Topic(), "/telemetry") {
			telemetry.Add(1)
		} else {
			status.Add(1)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("reader subscribe: %v", tok.Error())
	}
	return telemetry, status
}

func TestSessionsEachDeviceSignsInAsItselfStaysOrLeaves(t *testing.T) {
	dir := t.TempDir()
	const n, seed, count, perVisit = 60, 7, 900, 5
	runOK(t, context.Background(), "--export-registry", dir, "--devices", fmt.Sprint(n), "--seed", fmt.Sprint(seed))
	b, conns := sessionBroker(t, dir, "")
	telemetry, statuses := read(t, b.URL(), "")

	out := filepath.Join(t.TempDir(), "summary.json")
	runOK(t, context.Background(), "--broker", b.URL(), "--auth", "--registry", dir, "--sessions", "--devices", fmt.Sprint(n),
		"--seed", fmt.Sprint(seed), "--rate", "0", "--count", fmt.Sprint(count), "--session-messages", fmt.Sprint(perVisit),
		"--parallel", "8", "--out", out, "--quiet")
	sum := readSummary(t, out)
	ses := sum.Sessions
	if sum.Mode != "sessions" || sum.Sent != count || sum.Errors != 0 || sum.Conns != n || ses == nil {
		t.Fatalf("summary mode %q, sent %d, errors %d, conns %d, sessions %+v; want sessions, %d, 0, %d, with sessions",
			sum.Mode, sum.Sent, sum.Errors, sum.Conns, ses, count, n)
	}
	staying := 0
	for _, d := range simulators.NewFleet(n, seed, simulators.DefaultMix()).Devices() {
		if stays(d.Kind) {
			staying++
		}
	}
	if staying == 0 || ses.Staying != staying || ses.PeakConnected < int64(staying) || ses.Parallel != 8 {
		t.Errorf("sessions %+v; want %d staying devices (more than none), all connected at once, 8 in parallel", ses, staying)
	}
	for deadline := time.Now().Add(10 * time.Second); telemetry.Load() < count && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if telemetry.Load() != count || statuses.Load() != sum.Status || sum.Status < n {
		t.Errorf("reader got %d telemetry and %d status messages; want %d and the %d acknowledged (one at least from each of %d devices)",
			telemetry.Load(), statuses.Load(), count, sum.Status, n)
	}

	// What the broker saw: a device that stays connected once and left once, cleanly; any
	// other connected and left cleanly once per visit.
	time.Sleep(200 * time.Millisecond) // the last disconnects
	conns.mu.Lock()
	defer conns.mu.Unlock()
	var connects int64
	for _, d := range simulators.NewFleet(n, seed, simulators.DefaultMix()).Devices() {
		ev := conns.events[d.ID]
		connects += int64(ev[status.Connect])
		switch {
		case ev[status.Connect] == 0:
			t.Errorf("%s (%s) never connected", d.ID, d.Kind)
		case ev[status.Connect] != ev[status.Disconnect] || ev[status.ConnectionLost]+ev[status.LastWill] != 0:
			t.Errorf("%s (%s): broker saw %v; want each connection ended by a DISCONNECT", d.ID, d.Kind, ev)
		case stays(d.Kind) && ev[status.Connect] != 1:
			t.Errorf("%s (%s) connected %d times; want once, staying connected", d.ID, d.Kind, ev[status.Connect])
		}
	}
	if connects != ses.Connects || ses.Connects <= int64(n) || ses.Refused != 0 {
		t.Errorf("broker saw %d connections, the summary %d made and %d refused; want the same, more than one per device, none refused",
			connects, ses.Connects, ses.Refused)
	}
}

// TestSessionsWaitForTheBroker: the embedded broker refuses devices as "server unavailable"
// until ingest subscribes; the devices try again until it does, and then send everything.
func TestSessionsWaitForTheBroker(t *testing.T) {
	dir := t.TempDir()
	const n, seed, count = 30, 3, 200
	runOK(t, context.Background(), "--export-registry", dir, "--devices", fmt.Sprint(n), "--seed", fmt.Sprint(seed))
	b, _ := sessionBroker(t, dir, "ingest-sessions")

	out := filepath.Join(t.TempDir(), "summary.json")
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"--broker", b.URL(), "--auth", "--sessions", "--devices", fmt.Sprint(n),
			"--seed", fmt.Sprint(seed), "--rate", "0", "--count", fmt.Sprint(count), "--out", out, "--quiet"}, io.Discard, io.Discard)
	}()
	time.Sleep(time.Second)
	telemetry, _ := read(t, b.URL(), "ingest-sessions")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("vitalsim did not finish within a minute of the broker taking devices")
	}
	sum := readSummary(t, out)
	if sum.Sent != count || sum.Errors != 0 || sum.Sessions.Refused == 0 || telemetry.Load() != count {
		t.Errorf("sent %d, errors %d, refused %d, reader got %d; want %d sent, no errors, some refused, all read",
			sum.Sent, sum.Errors, sum.Sessions.Refused, telemetry.Load(), count)
	}
}
