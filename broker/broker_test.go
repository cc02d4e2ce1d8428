package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestBusyAddressNamesTheKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(Config{Listen: ln.Addr().String()}, quiet)
	if err == nil || !strings.Contains(err.Error(), "broker.listen") {
		t.Fatalf("Start on a busy address: %v; want an error naming broker.listen", err)
	}
}

func TestPublishSubscribeQoS1(t *testing.T) {
	b, err := Start(Config{Listen: "127.0.0.1:0"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	connect := func(id string) mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(id))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		return c
	}
	sub := connect("sub")
	got := make(chan string, 1)
	if tok := sub.Subscribe("devices/+/telemetry", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() + " " + string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub := connect("dev-1")
	if tok := pub.Publish("devices/dev-1/telemetry", 1, false, "{}"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case m := <-got:
		if m != "devices/dev-1/telemetry {}" {
			t.Fatalf("received %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
}

// startWithIngest starts a broker that holds device publishes for the ingest client id
// "ingest", with at most maxHeld held (0: the default).
func startWithIngest(t *testing.T, maxHeld int) *Broker {
	t.Helper()
	b, err := Start(Config{Listen: "127.0.0.1:0", Ingest: "ingest", MaxHeld: maxHeld}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// ingestClient connects as ingest (persistent session, manual acknowledgement) and subscribes
// to device telemetry; deliveries go to the returned channel, unacknowledged.
func ingestClient(t *testing.T, url string) (mqtt.Client, chan mqtt.Message) {
	t.Helper()
	got := make(chan mqtt.Message, 1000)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("ingest").SetCleanSession(false).
		SetAutoAckDisabled(true).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m }))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("ingest connect: %v", tok.Error())
	}
	if tok := c.Subscribe("devices/+/telemetry", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("ingest subscribe: %v", tok.Error())
	}
	return c, got
}

// device connects a device that keeps its unacknowledged publishes and resends them when it
// reconnects, as the device contract asks.
func device(t *testing.T, url, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond).
		SetMaxReconnectInterval(200 * time.Millisecond))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("%s connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func receive(t *testing.T, got <-chan mqtt.Message) mqtt.Message {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("ingest received nothing")
		return nil
	}
}

// roundTrip makes the device exchange a packet with the broker and wait for the answer. The
// broker answers a connection's packets in order, so any acknowledgement it wrote to the
// device before has reached the device's tokens by the time this returns.
func roundTrip(t *testing.T, dev mqtt.Client, id string) {
	t.Helper()
	if tok := dev.Subscribe("devices/"+id+"/commands", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("%s subscribe: %v", id, tok.Error())
	}
}

// A device is told "server unavailable" until ingest has subscribed: a message taken before
// would have no one to go to.
func TestDeviceRefusedUntilIngestSubscribed(t *testing.T) {
	b := startWithIngest(t, 0)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("dev-early").SetAutoReconnect(false))
	tok := c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() == nil {
		c.Disconnect(0)
		t.Fatalf("a device connected before ingest subscribed (err %v)", tok.Error())
	}
	if rc := tok.(*mqtt.ConnectToken).ReturnCode(); rc != 3 {
		t.Fatalf("CONNACK return code %d; want 3 (server unavailable)", rc)
	}
	ingestClient(t, b.URL())
	device(t, b.URL(), "dev-later") // fails the test unless it connects
}

// The broker acknowledges a device's publish only once ingest has acknowledged its copy: a
// crash in between leaves the message with the device, which sends it again.
func TestPubackWaitsForIngest(t *testing.T) {
	b := startWithIngest(t, 0)
	_, got := ingestClient(t, b.URL())
	dev := device(t, b.URL(), "dev-1")
	pub := dev.Publish("devices/dev-1/telemetry", 1, false, "one")
	m := receive(t, got)
	roundTrip(t, dev, "dev-1")
	if pub.WaitTimeout(0) {
		t.Fatalf("the device got its PUBACK (err %v) before ingest acknowledged the message", pub.Error())
	}
	m.Ack()
	if !pub.WaitTimeout(10*time.Second) || pub.Error() != nil {
		t.Fatalf("no PUBACK after ingest acknowledged: %v", pub.Error())
	}

	// QoS 2 the same way: PUBREC once ingest has acknowledged, then the PUBREL/PUBCOMP.
	pub2 := dev.Publish("devices/dev-1/telemetry", 2, false, "two")
	m = receive(t, got)
	roundTrip(t, dev, "dev-1")
	if pub2.WaitTimeout(0) {
		t.Fatalf("the QoS 2 publish completed (err %v) before ingest acknowledged it", pub2.Error())
	}
	m.Ack()
	if !pub2.WaitTimeout(10*time.Second) || pub2.Error() != nil {
		t.Fatalf("QoS 2 publish not completed after ingest acknowledged: %v", pub2.Error())
	}
}

// While ingest is away, a device's publish is neither acknowledged nor dropped: the device is
// disconnected, kept out until ingest is back, and then sends it again.
func TestIngestAwayDeviceKeepsAndResends(t *testing.T) {
	b := startWithIngest(t, 0)
	in, _ := ingestClient(t, b.URL())
	dev := device(t, b.URL(), "dev-1")
	in.Disconnect(100)
	waitFor(t, "ingest gone", func() bool {
		cl, ok := b.srv.Clients.Get("ingest")
		return ok && cl.Closed()
	})

	pub := dev.Publish("devices/dev-1/telemetry", 1, false, "while away")
	waitFor(t, "the device to be disconnected", func() bool { return !dev.IsConnectionOpen() })
	if pub.WaitTimeout(0) {
		t.Fatalf("the device got a PUBACK (err %v) while ingest was away", pub.Error())
	}

	_, got := ingestClient(t, b.URL())
	m := receive(t, got)
	if string(m.Payload()) != "while away" {
		t.Fatalf("ingest received %q", m.Payload())
	}
	m.Ack()
	if !pub.WaitTimeout(10*time.Second) || pub.Error() != nil {
		t.Fatalf("no PUBACK after ingest came back: %v", pub.Error())
	}
}

// What the broker holds for ingest is bounded: a device beyond the bound waits (mochi stops
// reading from it) instead of having its messages dropped, and goes on once ingest catches up.
func TestHeldPublishesAreBounded(t *testing.T) {
	b := startWithIngest(t, 2)
	_, got := ingestClient(t, b.URL())
	dev := device(t, b.URL(), "dev-1")
	var toks []mqtt.Token
	for i := range 5 {
		toks = append(toks, dev.Publish("devices/dev-1/telemetry", 1, false, fmt.Sprint(i)))
	}
	first := []mqtt.Message{receive(t, got), receive(t, got)}
	waitFor(t, "two held", func() bool {
		b.intake.mu.Lock()
		defer b.intake.mu.Unlock()
		return len(b.intake.byIngest) == 2
	})
	select {
	case m := <-got:
		t.Fatalf("ingest received %q beyond the bound of 2", m.Payload())
	case <-time.After(300 * time.Millisecond):
	}
	for _, m := range first {
		m.Ack()
	}
	for range 3 {
		receive(t, got).Ack()
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
}

// A graceful stop leaves nothing acknowledged behind: when Run's context ends, the broker
// refuses new publishes, and Run returns once what ingest held is acknowledged, to ingest and
// to the device.
func TestDrainAcknowledgesWhatIngestHolds(t *testing.T) {
	b := startWithIngest(t, 0)
	_, got := ingestClient(t, b.URL())
	dev := device(t, b.URL(), "dev-1")
	pub := dev.Publish("devices/dev-1/telemetry", 1, false, "held")
	m := receive(t, got)
	ctx, cancel := context.WithCancel(context.Background())
	drained := make(chan error, 1)
	go func() { drained <- b.Run(ctx) }()
	cancel()
	select {
	case err := <-drained:
		t.Fatalf("Run returned (%v) while ingest held a message", err)
	case <-time.After(200 * time.Millisecond):
	}
	late := dev.Publish("devices/dev-1/telemetry", 1, false, "late")
	m.Ack()
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if !pub.WaitTimeout(10*time.Second) || pub.Error() != nil {
		t.Fatalf("the held message was not acknowledged to the device: %v", pub.Error())
	}
	roundTrip(t, dev, "dev-1")
	if late.WaitTimeout(0) {
		t.Fatal("a publish made while draining was acknowledged")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stallWrites holds up mochi's writes to ingest's connection before they take the
// connection's lock, while gate is locked: a writer that falls behind the devices.
type stallWrites struct {
	mochi.HookBase
	gate sync.RWMutex
}

func (h *stallWrites) ID() string           { return "stall-writes" }
func (h *stallWrites) Provides(b byte) bool { return b == mochi.OnPacketEncode }

func (h *stallWrites) OnPacketEncode(cl *mochi.Client, pk packets.Packet) packets.Packet {
	if cl.ID == "ingest" {
		h.gate.RLock()
		h.gate.RUnlock()
	}
	return pk
}

// While mochi's writer to ingest falls behind, the copies waiting in its queue are bounded:
// devices wait, where mochi would drop a copy and the device be refused, and all goes through
// once the writer catches up. Each connection's write queue is small (writesPending), so that
// a city of devices can afford one each.
func TestIngestWriteQueueIsBounded(t *testing.T) {
	b := startWithIngest(t, 0)
	stall := &stallWrites{}
	if err := b.srv.AddHook(stall, nil); err != nil { // before any client connects
		t.Fatal(err)
	}
	_, got := ingestClient(t, b.URL())
	stall.gate.Lock()

	var lost atomic.Int64
	const devices, each = 60, 10 // more than a write queue holds
	toks := make(chan mqtt.Token, devices*each)
	for d := range devices {
		id := fmt.Sprintf("dev-%d", d)
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetCleanSession(false).
			SetAutoReconnect(false).SetConnectionLostHandler(func(mqtt.Client, error) { lost.Add(1) }))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s connect: %v", id, tok.Error())
		}
		defer c.Disconnect(0)
		for i := range each {
			toks <- c.Publish("devices/"+id+"/telemetry", 1, false, fmt.Sprint(i))
		}
	}
	close(toks)
	waitFor(t, "the queue to ingest to fill", func() bool { return len(b.intake.queue) == maxQueued })
	time.Sleep(300 * time.Millisecond)
	if n := lost.Load(); n > 0 || len(b.intake.queue) != maxQueued {
		t.Fatalf("%d devices lost their connection, %d copies queued; want none lost, the queue full at %d", n, len(b.intake.queue), maxQueued)
	}

	stall.gate.Unlock()
	for range devices * each {
		receive(t, got).Ack()
	}
	for tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	if n := lost.Load(); n > 0 {
		t.Fatalf("%d devices lost their connection", n)
	}
	waitFor(t, "the queue to empty", func() bool { return len(b.intake.queue) == 0 && len(b.intake.slots) == 0 })
}
