package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/ingest"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
)

// subscribeDropper closes the ingest client's connection when the broker receives its
// SUBSCRIBE packets numbered in at (1-based, counted over all its connections): the
// connection is lost in the middle of subscribing. It can also refuse its next connections.
type subscribeDropper struct {
	mochi.HookBase
	client   string
	mu       sync.Mutex
	at       []int
	n        int
	refuse   int // connections still to refuse
	dropped  atomic.Int32
	refused  atomic.Int32
	attempts atomic.Int32
}

func (h *subscribeDropper) ID() string { return "test-subscribe-dropper" }

func (h *subscribeDropper) Provides(b byte) bool {
	return b == mochi.OnSubscribe || b == mochi.OnConnect
}

func (h *subscribeDropper) OnConnect(cl *mochi.Client, _ packets.Packet) error {
	if cl.ID != h.client {
		return nil
	}
	h.attempts.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refuse > 0 {
		h.refuse--
		h.refused.Add(1)
		return errors.New("test: connection refused") // closed without a CONNACK
	}
	return nil
}

// refuseNext makes the broker close the client's next n connections before answering them.
func (h *subscribeDropper) refuseNext(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refuse = n
}

func (h *subscribeDropper) OnSubscribe(cl *mochi.Client, pk packets.Packet) packets.Packet {
	if cl.ID != h.client {
		return pk
	}
	h.mu.Lock()
	h.n++
	drop := slices.Contains(h.at, h.n)
	h.mu.Unlock()
	if drop {
		h.dropped.Add(1)
		cl.Stop(errors.New("test: connection dropped on SUBSCRIBE"))
	}
	return pk
}

// dropAt makes the next SUBSCRIBE packets numbered in at, counted from now, drop the connection.
func (h *subscribeDropper) dropAt(at ...int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at = nil
	for _, n := range at {
		h.at = append(h.at, h.n+n)
	}
}

// The pipeline's stores, in memory: these tests are about the connection.
type memPoints struct{}

func (memPoints) Write(context.Context, []byte) error { return nil }

type memDeadLetters struct{}

func (memDeadLetters) AddDeadLetters(context.Context, []deadletter.DeadLetter, int) error { return nil }

type emptySpool struct{}

func (emptySpool) Append([]byte) error         { return errors.New("test: no spool") }
func (emptySpool) Peek() ([]byte, bool, error) { return nil, false, nil }
func (emptySpool) Consume() error              { return nil }
func (emptySpool) Len() int                    { return 0 }
func (emptySpool) Bytes() int64                { return 0 }

// reconnectRig is a mochi broker with the dropper and a subscriber connected to it.
type reconnectRig struct {
	srv     *mochi.Server
	dropper *subscribeDropper
	sub     *ingest.Subscriber
	reg     *prometheus.Registry
}

func startReconnectRig(t *testing.T, watchdog time.Duration, dropAt ...int) *reconnectRig {
	t.Helper()
	const clientID = "ingest-reconnect"
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), InlineClient: true})
	d := &subscribeDropper{client: clientID}
	d.dropAt(dropAt...)
	for _, h := range []mochi.Hook{new(auth.AllowHook), d} {
		if err := srv.AddHook(h, nil); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	r := &reconnectRig{srv: srv, dropper: d, reg: prometheus.NewRegistry()}
	p := ingest.NewPipeline(ingest.Config{RetryInterval: 100 * time.Millisecond, MaxRetryInterval: time.Second},
		ingest.Deps{Points: memPoints{}, DeadLetters: memDeadLetters{}, Spool: emptySpool{},
			Metrics: ingest.NewMetrics(r.reg), Log: log, Now: time.Now})
	stopPipeline := running(p.Run)
	r.sub = ingest.NewSubscriber(ingest.SubscriberConfig{BrokerURL: "tcp://" + ln.Addr().String(), ClientID: clientID,
		WatchdogInterval: watchdog}, p, r.reg, log, time.Now)
	stopSub := running(r.sub.Run)
	t.Cleanup(func() {
		stopPipeline()
		stopSub()
		srv.Close()
	})
	return r
}

// readyAgain waits for the subscriber to be ready. The limit is a few of its reconnect
// backoff intervals (at most 10 s each), not a speed requirement: without the fix, it never is.
func (r *reconnectRig) readyAgain(t *testing.T, what string) {
	t.Helper()
	waitFor(t, 45*time.Second, what, func() bool { return r.sub.Ready() == nil })
}

// flows checks that messages reach the pipeline and are acknowledged after a recovery.
func (r *reconnectRig) flows(t *testing.T, n int) {
	t.Helper()
	before := r.metric(t)
	for i := range n {
		payload := fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":97,"unit":"%%"}]}`,
			time.Now().Add(time.Duration(i)*time.Millisecond).UnixMilli())
		if err := r.srv.Publish("devices/rc-1/telemetry", []byte(payload), false, 1); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "the messages to be acknowledged", func() bool { return r.metric(t) >= before+float64(n) })
}

func (r *reconnectRig) metric(t *testing.T) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "vitalwatch_ingest_acked_total" {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return 0
}

// TestReconnectsAfterConnectionLostWhileSubscribing drops the ingest client's connection in
// the middle of subscribing, on its first connection and on several in a row: the subscriber
// must connect and subscribe again, however the loss falls on paho's own reconnecting.
func TestReconnectsAfterConnectionLostWhileSubscribing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dropAt []int
	}{
		{"telemetry subscribe", []int{1}},
		{"probe subscribe", []int{2}},
		{"three connections in a row", []int{1, 2, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startReconnectRig(t, time.Second, tc.dropAt...)
			r.readyAgain(t, "ready after the drops")
			if got := int(r.dropper.dropped.Load()); got != len(tc.dropAt) {
				t.Fatalf("broker dropped the connection %d times; want %d", got, len(tc.dropAt))
			}
			r.flows(t, 5)
		})
	}
}

// TestReconnectsAfterLossMidRun loses the connection while running, has the next connections
// refused and the one after lost while subscribing, and then loses it again while the watchdog
// subscribes after the subscription went silent: each time the subscriber comes back.
func TestReconnectsAfterLossMidRun(t *testing.T) {
	r := startReconnectRig(t, time.Second)
	r.readyAgain(t, "first ready")
	r.flows(t, 3)

	// Lost while running; the next two connections are refused, and the one after is lost
	// while subscribing.
	r.dropper.dropAt(1)
	r.dropper.refuseNext(2)
	cl, ok := r.srv.Clients.Get("ingest-reconnect")
	if !ok {
		t.Fatal("ingest client not in the broker")
	}
	cl.Stop(errors.New("test: connection dropped mid-run"))
	waitFor(t, 10*time.Second, "the subscriber to notice", func() bool { return r.sub.Ready() != nil })
	r.readyAgain(t, "ready after the mid-run loss")
	if r.dropper.refused.Load() != 2 || r.dropper.dropped.Load() != 1 {
		t.Fatalf("refused %d connections and dropped %d subscribes; want 2 and 1", r.dropper.refused.Load(), r.dropper.dropped.Load())
	}
	r.flows(t, 3)

	// The subscription goes silent (the broker forgot it) and the watchdog's subscribe loses
	// the connection.
	r.dropper.dropAt(1)
	for _, filter := range []string{"devices/+/telemetry", "devices/+/status", "vitalwatch/ingest/ingest-reconnect/probe"} {
		r.srv.Topics.Unsubscribe(filter, "ingest-reconnect")
	}
	waitFor(t, 20*time.Second, "the watchdog's subscribe to be dropped", func() bool { return r.dropper.dropped.Load() == 2 })
	r.readyAgain(t, "ready after the watchdog's subscribe was dropped")
	r.flows(t, 3)
}
