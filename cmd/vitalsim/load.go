package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/simulators"
)

// runLoad publishes devs at cfg.rate with cfg.conns publishers. Each publisher is one
// goroutine that owns its share of the devices (device i goes to publisher i mod conns), sends
// round-robin over them, and keeps at most cfg.window publishes unacknowledged: when the window
// is full it waits for the oldest, so the broker's acknowledgements pace a --rate 0 run.
//
// Without --auth each publisher has one connection that its devices share. With --auth each
// device has its own connection, signed in as itself, since the broker lets a connection publish
// only under its own device's topics; a publisher's window then spans its devices' connections.
func runLoad(ctx context.Context, cfg config, devs []*simulators.Device, st *stats) error {
	workers, closeAll, err := newPublishers(ctx, cfg, devs, st)
	if err != nil || workers == nil {
		return err
	}
	defer closeAll()
	var wg sync.WaitGroup
	start := time.Now()
	st.begin(start)
	for _, w := range workers {
		w.start = start
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	return nil
}

// newPublishers connects the load mode's publishers for devs (see runLoad) and returns them
// with the function that disconnects them. It returns no publishers and no error when ctx ended
// while connecting.
func newPublishers(ctx context.Context, cfg config, devs []*simulators.Device, st *stats) ([]*loadWorker, func(), error) {
	cfg.conns = max(1, min(cfg.conns, len(devs))) // no idle publishers
	var open func(ctx context.Context, i int) (mqtt.Client, error)
	n := cfg.conns
	if cfg.auth {
		n = len(devs)
		open = func(ctx context.Context, i int) (mqtt.Client, error) {
			return connect(ctx, cfg, deviceLogin(cfg, devs[i]), nil, nil)
		}
	} else {
		open = func(ctx context.Context, i int) (mqtt.Client, error) {
			return connect(ctx, cfg, login{clientID: fmt.Sprintf("vitalsim-%d-%d", os.Getpid(), i), username: cfg.username, password: cfg.password}, nil, nil)
		}
	}
	clients, err := connectEach(ctx, n, open)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, nil, nil // stopped before it started
		}
		return nil, nil, err
	}
	clientOf := func(j int) mqtt.Client {
		if cfg.auth {
			return clients[j]
		}
		return clients[j%cfg.conns]
	}

	var claimed atomic.Int64
	workers := make([]*loadWorker, cfg.conns)
	for i := range workers {
		w := &loadWorker{
			cfg: cfg, st: st, claimed: &claimed, index: i,
			rng: rand.New(rand.NewPCG(uint64(cfg.seed), 1000+uint64(i))),
		}
		for j := i; j < len(devs); j += cfg.conns {
			d := devs[j]
			w.devices = append(w.devices, loadDevice{
				Device:    d,
				client:    clientOf(j),
				telemetry: cfg.prefix + "/" + d.ID + "/telemetry",
				status:    cfg.prefix + "/" + d.ID + "/status",
			})
		}
		workers[i] = w
	}
	return workers, func() { disconnectAll(clients, 250) }, nil
}

type loadDevice struct {
	*simulators.Device
	client            mqtt.Client // its publisher's, or with --auth its own
	telemetry, status string
	nextStatus        time.Time
	backlog           *simulators.Backlog // what it sends in a history (runHistory)
}

// loadWorker is one publisher.
type loadWorker struct {
	cfg     config
	st      *stats
	claimed *atomic.Int64 // telemetry messages started across all workers, for --count
	start   time.Time
	index   int
	rng     *rand.Rand // which messages are bad, and how
	devices []loadDevice

	// window is a ring of the unacknowledged publishes: n of them, the oldest at head.
	window  []inflight
	head, n int
}

type inflight struct {
	tok mqtt.Token
	outcome
}

func (w *loadWorker) run(ctx context.Context) {
	w.window = make([]inflight, w.cfg.window)
	defer w.drain()
	// Every device reports its status as it comes online, as real ones do after connecting,
	// whatever share of --count its worker ends up sending.
	if w.cfg.statusEvery > 0 {
		for i := range w.devices {
			d := &w.devices[i]
			now := time.Now()
			d.nextStatus = now.Add(w.cfg.statusEvery)
			if !w.publish(ctx, d.client, d.status, d.Status(now), outcome{status: true}) {
				return
			}
		}
	}
	for k := int64(0); ctx.Err() == nil; k++ {
		if w.cfg.count > 0 && w.claimed.Add(1) > w.cfg.count {
			return
		}
		if !w.pace(ctx, k) {
			return
		}
		d := &w.devices[k%int64(len(w.devices))]
		now := time.Now()
		if w.cfg.statusEvery > 0 && !now.Before(d.nextStatus) {
			d.nextStatus = now.Add(w.cfg.statusEvery)
			if !w.publish(ctx, d.client, d.status, d.Status(now), outcome{status: true}) {
				return
			}
		}
		var payload []byte
		o := outcome{kind: d.Kind}
		if w.cfg.bad > 0 && w.rng.Float64() < w.cfg.bad {
			payload, o.reason = d.Bad(w.rng, now)
		} else {
			m := d.Message(now)
			payload, o.readings = m.AppendJSON(make([]byte, 0, 256)), m.Readings
		}
		if !w.publish(ctx, d.client, d.telemetry, payload, o) {
			return
		}
	}
}

// pace sleeps until the k-th message of this worker is due under --rate; the workers' messages
// interleave on one schedule. It does not sleep for less than a millisecond: at high rates the
// worker sends in small bursts, and the average rate is still exact. It reports false when ctx
// ended while it slept.
func (w *loadWorker) pace(ctx context.Context, k int64) bool {
	if w.cfg.rate <= 0 {
		return true
	}
	n := float64(k*int64(w.cfg.conns) + int64(w.index))
	due := w.start.Add(time.Duration(n / w.cfg.rate * float64(time.Second)))
	wait := time.Until(due)
	if wait < time.Millisecond {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// publish sends one message, first counting the acknowledgements that have arrived and, if the
// window is still full, waiting for the oldest. It reports false when ctx ended while it waited.
func (w *loadWorker) publish(ctx context.Context, c mqtt.Client, topic string, payload []byte, o outcome) bool {
	for w.n > 0 && isDone(w.window[w.head].tok) {
		w.settle(w.pop())
	}
	if w.n == len(w.window) {
		select {
		case <-w.window[w.head].tok.Done():
		case <-ctx.Done():
			return false
		}
		w.settle(w.pop())
	}
	tok := c.Publish(topic, w.cfg.qos, false, payload)
	w.window[(w.head+w.n)%len(w.window)] = inflight{tok, o}
	w.n++
	w.st.inflight.Add(1)
	return true
}

// pop removes the oldest publish from the window.
func (w *loadWorker) pop() inflight {
	f := w.window[w.head]
	w.window[w.head] = inflight{}
	w.head = (w.head + 1) % len(w.window)
	w.n--
	return f
}

func isDone(tok mqtt.Token) bool {
	select {
	case <-tok.Done():
		return true
	default:
		return false
	}
}

// settle counts a completed publish.
func (w *loadWorker) settle(f inflight) {
	w.st.inflight.Add(-1)
	if err := f.tok.Error(); err != nil {
		w.st.failed(err)
		if errors.Is(err, mqtt.ErrNotConnected) {
			time.Sleep(10 * time.Millisecond) // reconnecting: do not spin through the count
		}
		return
	}
	w.st.acked(f.outcome, time.Now())
}

// drain waits, up to --drain-timeout in all, for the publishes still in the window; those not
// acknowledged by then count as errors.
func (w *loadWorker) drain() {
	deadline := time.Now().Add(w.cfg.drain)
	for w.n > 0 {
		f := w.pop()
		if !waitToken(f.tok, max(time.Until(deadline), 0)) {
			w.st.inflight.Add(-1)
			w.st.failed(fmt.Errorf("no acknowledgement within --drain-timeout %v", w.cfg.drain))
			continue
		}
		w.settle(f)
	}
}
