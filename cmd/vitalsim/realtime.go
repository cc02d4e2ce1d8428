package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/simulators"
)

// runRealtime gives each of devs its own connection, with the client id and (where the user name
// has {id}) the user name of the device, or with --auth its own login, and its last will
// {"online": false} on its status topic. Each device says it is online whenever it (re)connects,
// measures on its natural schedule in real time, sends status every --status-every, and says it
// is offline when the run stops; its will covers a dropped connection.
func runRealtime(ctx context.Context, cfg config, devs []*simulators.Device, st *stats) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	devices := make([]*rtDevice, len(devs))
	for i, d := range devs {
		devices[i] = &rtDevice{
			Device: d, cfg: cfg, st: st, stop: cancel,
			telemetry: cfg.prefix + "/" + d.ID + "/telemetry", status: cfg.prefix + "/" + d.ID + "/status",
			rng:  rand.New(rand.NewPCG(uint64(cfg.seed), 2000+uint64(i))),
			lost: make(chan struct{}, 1),
		}
	}
	// Connect every device before any publishes, so that a broker that is down or refuses a
	// device fails the run at once.
	clients, err := connectEach(ctx, len(devices), func(ctx context.Context, i int) (mqtt.Client, error) {
		rd := devices[i]
		onLost := func() {
			select {
			case rd.lost <- struct{}{}:
			default: // already told
			}
		}
		return connect(ctx, cfg, deviceLogin(cfg, rd.Device), &will{topic: rd.status, payload: simulators.OfflineStatus()}, onLost)
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil // stopped while connecting
		}
		return err
	}

	var wg sync.WaitGroup
	var claimed atomic.Int64
	st.begin(time.Now())
	for i, d := range devices {
		d.client, d.claimed = clients[i], &claimed
		wg.Go(func() { d.run(ctx) })
	}
	wg.Wait()
	return nil
}

// rtDevice is one device with its own connection in the realtime mode.
type rtDevice struct {
	*simulators.Device
	cfg               config
	st                *stats
	client            mqtt.Client
	claimed           *atomic.Int64
	stop              context.CancelFunc // ends the whole run, when --count is reached
	telemetry, status string
	rng               *rand.Rand
	// lost is signalled when the connection drops; the device then reconnects by itself (see
	// reconnect).
	lost chan struct{}
}

func (d *rtDevice) run(ctx context.Context) {
	defer d.client.Disconnect(250)
	now := time.Now()
	d.send(d.status, d.Status(now), outcome{status: true})
	nextTel := d.NextAt(now)
	nextStatus := now.Add(d.cfg.statusEvery)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		due := nextTel
		if d.cfg.statusEvery > 0 && nextStatus.Before(due) {
			due = nextStatus
		}
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			// Going offline on purpose: say so, as the will would on a crash.
			d.send(d.status, simulators.OfflineStatus(), outcome{status: true})
			return
		case <-d.lost:
			if !d.reconnect(ctx) {
				return
			}
			d.send(d.status, d.Status(time.Now()), outcome{status: true})
			continue // measurements due meanwhile go out now, with their own times
		case <-timer.C:
		}
		now := time.Now()
		if d.cfg.statusEvery > 0 && !now.Before(nextStatus) {
			d.send(d.status, d.Status(now), outcome{status: true})
			nextStatus = now.Add(d.cfg.statusEvery)
		}
		if now.Before(nextTel) {
			continue
		}
		if d.cfg.count > 0 && d.claimed.Add(1) > d.cfg.count {
			d.stop()
			continue
		}
		at := nextTel // measured when it was due, sent now
		nextTel = d.NextAt(at)
		o := outcome{kind: d.Kind}
		var payload []byte
		if d.cfg.bad > 0 && d.rng.Float64() < d.cfg.bad {
			payload, o.reason = d.Bad(d.rng, at)
		} else {
			m := d.Message(at)
			payload, o.readings = m.JSON(), m.Readings
		}
		d.send(d.telemetry, payload, o)
		if d.cfg.count > 0 && d.claimed.Load() >= d.cfg.count {
			d.stop()
		}
	}
}

// send publishes and waits for the acknowledgement: a device has few messages, and sends the
// next only when the last went through.
func (d *rtDevice) send(topic string, payload []byte, o outcome) {
	d.st.inflight.Add(1)
	defer d.st.inflight.Add(-1)
	tok := d.client.Publish(topic, d.cfg.qos, false, payload)
	if !waitToken(tok, d.cfg.drain) {
		d.st.failed(errors.New("no acknowledgement within --drain-timeout"))
		return
	}
	if err := tok.Error(); err != nil {
		d.st.failed(err)
		return
	}
	d.st.acked(o, time.Now())
}

// reconnect connects again after the connection dropped, backing off from 1 to 30 seconds, until
// it succeeds (true) or ctx ends (false).
//
// The device reconnects itself rather than leave it to paho's automatic reconnect, which resends
// unacknowledged publishes from its store at the same time as a status published on connect is
// being written: a duplicate, and a data race inside paho (v1.5.1, client.resume).
func (d *rtDevice) reconnect(ctx context.Context) bool {
	wait := time.Second
	for {
		tok := d.client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return false
		}
		if tok.Error() == nil {
			return true
		}
		d.st.failed(tok.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		wait = min(2*wait, 30*time.Second)
	}
}
