package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vitalwatch/vitalwatch/simulators"
)

// The sessions mode (--sessions) is the load mode of a city: every device on its own connection,
// signed in as itself, and as many devices as the registry holds. Devices that are worn stay
// connected (stays); the others connect when they have something to send, send it and leave,
// as a glucose meter or a cuff uploads its readings. A device's turn is one such visit:
//
//   - a device that stays sends one reading on the connection it keeps (connecting again if it
//     was lost);
//   - any other connects, sends --session-messages readings in a row and disconnects.
//
// A turn starts with a status message when the device's last one is older than --status-every.
// --parallel turns run at once, each on its own goroutine; between turns a device that stays
// holds only its socket (deviceConn). The turns go round the fleet in a shuffled order and are
// paced so that telemetry goes out at --rate (0: as fast as the broker acknowledges). Devices
// that stay connect before the run starts, --parallel at a time, and disconnect after it;
// --duration counts from the end of that ramp, which it also bounds.

const (
	// sessionKeepalive is the MQTT keepalive of a device's connection; one that stays and has
	// sent nothing for half of it sends a PINGREQ.
	sessionKeepalive = 60 * time.Second
	// sessionTimeout bounds connecting and waiting for a turn's acknowledgements. The embedded
	// broker acknowledges once ingest has made a message durable, which under load can take
	// seconds.
	sessionTimeout = 30 * time.Second
	// pingEvery is how often the devices that stay are looked over for a PINGREQ.
	pingEvery = 5 * time.Second
)

// stays reports whether a device of kind k keeps its connection between turns: a worn sensor
// streams through its phone or hub all day, where a home meter, cuff, scale or thermometer,
// and a centre's station, connects for each upload.
func stays(k simulators.Kind) bool { return k == simulators.CGM || k == simulators.Wearable }

// sessionSummary is what the sessions mode did with connections, in the summary.
type sessionSummary struct {
	Staying       int     `json:"staying_devices"` // devices that keep their connection
	Parallel      int     `json:"parallel"`
	Turns         int64   `json:"turns"`
	Connects      int64   `json:"connects"`       // connections the broker accepted
	Refused       int64   `json:"refused"`        // refused as "server unavailable" and tried again later
	ConnectErrors int64   `json:"connect_errors"` // connections that could not be made
	Dropped       int64   `json:"dropped"`        // connections that failed in a turn
	Pings         int64   `json:"pings"`
	PeakConnected int64   `json:"peak_connected"`
	RampSeconds   float64 `json:"ramp_seconds"` // connecting the staying devices before the run
}

func (s *sessionSummary) write(w io.Writer) {
	fmt.Fprintf(w, "  sessions: %d turns, %d at a time; %d devices stay connected (connected in %.1fs), peak %d connected\n",
		s.Turns, s.Parallel, s.Staying, s.RampSeconds, s.PeakConnected)
	fmt.Fprintf(w, "  connections: %d made, %d refused as unavailable, %d failed to connect, %d dropped in a turn, %d pings\n",
		s.Connects, s.Refused, s.ConnectErrors, s.Dropped, s.Pings)
}

// sessDevice is one device of the sessions mode.
type sessDevice struct {
	*simulators.Device
	stays             bool
	login             login
	telemetry, status string
	// busy is held by whoever uses the device: the goroutine running its turn, or the pinger.
	busy       sync.Mutex
	conn       atomic.Pointer[deviceConn] // while connected; between turns only if it stays
	lastSent   atomic.Int64               // Unix ns of the last packet it sent, for the keepalive
	nextStatus time.Time                  // under busy
}

// sessions runs the sessions mode.
type sessions struct {
	cfg  config
	st   *stats
	addr string
	devs []*sessDevice // in the order of their turns

	claimed atomic.Int64 // telemetry messages claimed, for --count
	stopAt  atomic.Int64 // Unix ns by which turns in progress must end, once the run is stopping

	mu    sync.Mutex // the schedule of turns
	next  int
	due   float64 // telemetry messages scheduled before the next turn
	start time.Time

	fatalOnce sync.Once
	fatal     error
	cancel    context.CancelFunc

	sum           sessionSummary
	connected     atomic.Int64
	peakConnected atomic.Int64
	counters      struct{ turns, connects, refused, connectErrors, dropped, pings atomic.Int64 }
}

// runSessions runs the sessions mode over devs until --count, --duration or ctx ends it.
func runSessions(ctx context.Context, cfg config, devs []*simulators.Device, st *stats) (*sessionSummary, error) {
	addr, err := brokerAddr(cfg.broker)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &sessions{cfg: cfg, st: st, addr: addr, cancel: cancel}
	s.sum.Parallel = cfg.parallel
	order := rand.New(rand.NewPCG(uint64(cfg.seed), 4000)).Perm(len(devs))
	s.devs = make([]*sessDevice, len(devs))
	for i, j := range order {
		d := devs[j]
		s.devs[i] = &sessDevice{Device: d, stays: stays(d.Kind), login: deviceLogin(cfg, d),
			telemetry: cfg.prefix + "/" + d.ID + "/telemetry", status: cfg.prefix + "/" + d.ID + "/status"}
		if s.devs[i].stays {
			s.sum.Staying++
		}
	}

	ramp := time.Now()
	rampCtx := ctx
	if cfg.duration > 0 {
		var stop context.CancelFunc
		rampCtx, stop = context.WithTimeout(ctx, cfg.duration)
		defer stop()
	}
	s.connectStaying(rampCtx)
	if s.fatal != nil {
		return nil, s.fatal
	}
	if rampCtx.Err() != nil {
		s.disconnectAll()
		return s.summary(), nil // stopped while connecting
	}
	s.sum.RampSeconds = time.Since(ramp).Seconds()
	if cfg.duration > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, cfg.duration)
		defer stop()
	}

	var pinger sync.WaitGroup
	pinger.Go(func() { s.keepAlive(ctx) })
	stopping := context.AfterFunc(ctx, s.cutShort)
	s.start = time.Now()
	st.begin(s.start)
	var workers sync.WaitGroup
	for i := range cfg.parallel {
		rng := rand.New(rand.NewPCG(uint64(cfg.seed), 3000+uint64(i)))
		workers.Go(func() { s.work(ctx, rng) })
	}
	workers.Wait()
	stopping()
	cancel()
	pinger.Wait()
	s.disconnectAll()
	if s.fatal != nil {
		return nil, s.fatal
	}
	return s.summary(), nil
}

func (s *sessions) summary() *sessionSummary {
	sum := s.sum
	sum.Turns = s.counters.turns.Load()
	sum.Connects = s.counters.connects.Load()
	sum.Refused = s.counters.refused.Load()
	sum.ConnectErrors = s.counters.connectErrors.Load()
	sum.Dropped = s.counters.dropped.Load()
	sum.Pings = s.counters.pings.Load()
	sum.PeakConnected = s.peakConnected.Load()
	return &sum
}

// fail stops the run with err, the first one.
func (s *sessions) fail(err error) {
	s.fatalOnce.Do(func() {
		s.fatal = err
		s.cancel()
	})
}

// connectStaying connects every device that stays, --parallel at a time, waiting out refusals.
func (s *sessions) connectStaying(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.cfg.parallel)
	for _, d := range s.devs {
		if !d.stays {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 2*time.Second) {
				if s.connect(ctx, d) != nil {
					return
				}
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
		})
	}
	wg.Wait()
}

// connect opens d's connection, with its last will if it stays, and returns it; nil if the
// broker refused it or it failed (counted; a wrong login stops the run).
func (s *sessions) connect(ctx context.Context, d *sessDevice) *deviceConn {
	var w *will
	if d.stays {
		w = &will{topic: d.status, payload: simulators.OfflineStatus()}
	}
	c, err := dialDevice(ctx, s.addr, d.login, sessionKeepalive, w, s.cfg.qos, sessionTimeout)
	var refused *refusedError
	switch {
	case err == nil:
		s.counters.connects.Add(1)
		n := s.connected.Add(1)
		for p := s.peakConnected.Load(); n > p && !s.peakConnected.CompareAndSwap(p, n); p = s.peakConnected.Load() {
		}
		d.lastSent.Store(time.Now().UnixNano())
		d.conn.Store(c)
		return c
	case errors.As(err, &refused) && refused.retry():
		s.counters.refused.Add(1)
	case errors.As(err, &refused):
		err = fmt.Errorf("MQTT broker %s refused %s: %w", s.cfg.broker, d.login.clientID, err)
		if s.cfg.auth {
			err = fmt.Errorf("%w (--auth: the password is the device's secret from --registry, or derived from --seed %d; "+
				"the broker must know the secrets of `vitalsim --export-registry` with the same --seed, --devices and --mix)", err, s.cfg.seed)
		}
		s.fail(err)
	case ctx.Err() == nil:
		s.counters.connectErrors.Add(1)
		s.st.noteError(fmt.Errorf("connect %s: %w", d.login.clientID, err))
	}
	return nil
}

// noteError keeps err as the run's last error without counting a failed publish.
func (st *stats) noteError(err error) {
	st.mu.Lock()
	st.lastErr = err.Error()
	st.mu.Unlock()
}

// drop closes d's connection after a failure in its turn.
func (s *sessions) drop(d *sessDevice, c *deviceConn) {
	c.close()
	if d.conn.CompareAndSwap(c, nil) {
		s.connected.Add(-1)
	}
}

// leave disconnects d cleanly.
func (s *sessions) leave(d *sessDevice, c *deviceConn) {
	c.disconnect(2 * time.Second)
	if d.conn.CompareAndSwap(c, nil) {
		s.connected.Add(-1)
	}
}

// claim takes the next device whose turn it is and is not busy, with the telemetry messages
// its turn sends and when it is due. It reports false when --count is reached.
func (s *sessions) claim(ctx context.Context) (*sessDevice, int, time.Time, bool) {
	for ctx.Err() == nil {
		s.mu.Lock()
		var d *sessDevice
		for range len(s.devs) {
			c := s.devs[s.next%len(s.devs)]
			s.next++
			if c.busy.TryLock() {
				d = c
				break
			}
		}
		if d == nil {
			s.mu.Unlock()
			time.Sleep(time.Millisecond) // every device is in a turn: a fleet smaller than --parallel
			continue
		}
		n := 1
		if !d.stays {
			n = s.cfg.sessionMsgs
		}
		if s.cfg.count > 0 {
			left := s.cfg.count - s.claimed.Load()
			if left <= 0 {
				s.mu.Unlock()
				d.busy.Unlock()
				return nil, 0, time.Time{}, false
			}
			n = int(min(int64(n), left))
			s.claimed.Add(int64(n))
		}
		var due time.Time
		if s.cfg.rate > 0 {
			due = s.start.Add(time.Duration(s.due / s.cfg.rate * float64(time.Second)))
		}
		s.due += float64(n)
		s.mu.Unlock()
		return d, n, due, true
	}
	return nil, 0, time.Time{}, false
}

// work runs turns until the run ends.
func (s *sessions) work(ctx context.Context, rng *rand.Rand) {
	t := newTurn()
	for {
		d, n, due, ok := s.claim(ctx)
		if !ok {
			return
		}
		if wait := time.Until(due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				d.busy.Unlock()
				return
			}
		}
		t.run(ctx, s, d, n, rng)
		d.busy.Unlock()
	}
}

// turn is the reusable state of one worker's turns.
type turn struct {
	ids  []uint16
	outs []outcome
	buf  []byte
}

func newTurn() *turn { return &turn{} }

// run is d's turn: connect unless it is connected, send a status if one is due and n
// telemetry messages, wait for their acknowledgements, and leave unless d stays.
func (t *turn) run(ctx context.Context, s *sessions, d *sessDevice, n int, rng *rand.Rand) {
	s.counters.turns.Add(1)
	c := d.conn.Load()
	if c == nil {
		if c = s.connect(ctx, d); c == nil {
			return
		}
	}
	t.ids, t.outs = t.ids[:0], t.outs[:0]
	now := time.Now()
	if s.cfg.statusEvery > 0 && !now.Before(d.nextStatus) {
		d.nextStatus = now.Add(s.cfg.statusEvery)
		t.ids = append(t.ids, c.publish(d.status, d.Status(now), s.cfg.qos))
		t.outs = append(t.outs, outcome{status: true})
	}
	for range n {
		o := outcome{kind: d.Kind}
		var payload []byte
		if s.cfg.bad > 0 && rng.Float64() < s.cfg.bad {
			payload, o.reason = d.Bad(rng, now)
		} else {
			m := d.Message(now)
			t.buf = m.AppendJSON(t.buf[:0])
			payload, o.readings = t.buf, m.Readings
		}
		t.ids = append(t.ids, c.publish(d.telemetry, payload, s.cfg.qos))
		t.outs = append(t.outs, o)
	}
	s.st.inflight.Add(int64(len(t.ids)))
	deadline := now.Add(sessionTimeout)
	if stop := s.stopAt.Load(); stop != 0 {
		deadline = time.Unix(0, min(deadline.UnixNano(), stop))
	}
	c.setDeadline(deadline)
	err := c.flush()
	d.lastSent.Store(time.Now().UnixNano())
	if err == nil {
		if s.cfg.qos == 0 {
			for i := range t.outs {
				s.settle(t, i)
			}
		} else {
			err = c.awaitAcks(t.ids, func(i int) { s.settle(t, i) })
		}
	}
	if err != nil {
		for i, o := range t.outs {
			if o.kind != "" || o.status {
				s.st.inflight.Add(-1)
				s.st.failed(fmt.Errorf("%s: %w", d.ID, err))
				t.outs[i] = outcome{}
			}
		}
		s.counters.dropped.Add(1)
		s.drop(d, c)
		return
	}
	c.setDeadline(time.Time{})
	if !d.stays {
		s.leave(d, c)
	}
}

// settle counts the acknowledged message i of the turn.
func (s *sessions) settle(t *turn, i int) {
	s.st.inflight.Add(-1)
	s.st.acked(t.outs[i], time.Now())
	t.outs[i] = outcome{} // settled: not failed if the rest of the turn fails
}

// keepAlive sends a PINGREQ on every staying connection idle for half the keepalive, until
// ctx ends. A device in its turn is sending anyway, and is skipped.
func (s *sessions) keepAlive(ctx context.Context) {
	tick := time.NewTicker(pingEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		idle := time.Now().Add(-sessionKeepalive / 2).UnixNano()
		for _, d := range s.devs {
			if ctx.Err() != nil {
				return
			}
			if !d.stays || d.lastSent.Load() > idle || !d.busy.TryLock() {
				continue
			}
			if c := d.conn.Load(); c != nil {
				c.setDeadline(time.Now().Add(5 * time.Second))
				if err := c.ping(); err != nil {
					s.counters.dropped.Add(1)
					s.drop(d, c)
				} else {
					s.counters.pings.Add(1)
					d.lastSent.Store(time.Now().UnixNano())
				}
			}
			d.busy.Unlock()
		}
	}
}

// cutShort, once the run is stopping, gives the turns in progress --drain-timeout to receive
// their acknowledgements.
func (s *sessions) cutShort() {
	stop := time.Now().Add(s.cfg.drain)
	s.stopAt.Store(stop.UnixNano())
	for _, d := range s.devs {
		if c := d.conn.Load(); c != nil {
			c.setDeadline(stop)
		}
	}
}

// disconnectAll disconnects the devices still connected, --parallel at a time.
func (s *sessions) disconnectAll() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.cfg.parallel)
	for _, d := range s.devs {
		c := d.conn.Load()
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.leave(d, c)
		})
	}
	wg.Wait()
}
