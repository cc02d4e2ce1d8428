// Package broker runs the MQTT broker embedded in vitalwatch serve (mochi-mqtt), listening on
// real TCP, so that one machine needs no separate broker. At scale an external broker takes its
// place and the ingest client connects there instead.
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Config configures the embedded broker.
type Config struct {
	// Listen is the TCP address, e.g. "127.0.0.1:1883"; port 0 picks a free one.
	Listen string
	// Devices, when set, turns on authentication: a client connects as one of Principals, or
	// as a device of the current Directory with username and client id = its id and password =
	// its secret, and a device may publish only under {TopicPrefix}/{id}/ and subscribe only to
	// {TopicPrefix}/{id}/commands. When nil, every client may connect, publish and subscribe.
	Devices *devices.View
	// TopicPrefix is the first topic level(s) of device topics; empty means "devices".
	TopicPrefix string
	// Principals are the trusted platform clients, such as ingest. They need Devices. A
	// principal's username shadows a device with the same id.
	Principals []Principal
	// Ingest is the client id of the ingest subscriber. When set, a device's QoS 1 or 2
	// publish is acknowledged only once ingest has acknowledged it (made it durable), and
	// devices are refused, keeping their messages, while ingest is not connected and
	// subscribed (see intake). When empty, publishes are acknowledged on receipt.
	Ingest string
	// MaxHeld bounds the device publishes held for ingest; a device waits for room. 0 means
	// DefaultMaxHeld.
	MaxHeld int
	// Presence, with Devices, is told when a registered device connects and disconnects
	// (presence.go), at the times Now gives (time.Now if nil).
	Presence Presence
	Now      func() time.Time
}

// readBuffer is the size of each connection's read buffer.
const readBuffer = 1 << 10

// Broker is a running embedded broker.
type Broker struct {
	srv    *mqtt.Server
	addr   string
	intake *intake
	access *access // nil when device authentication is off
}

// Start listens on cfg.Listen and serves until Close. Run it, so that it drains before it
// closes.
func Start(cfg Config, log *slog.Logger) (*Broker, error) {
	log = log.With("component", "broker")
	var acc *access
	if cfg.Devices != nil {
		prefix := cfg.TopicPrefix
		if prefix == "" {
			prefix = "devices"
		}
		var err error
		if acc, err = newAccess(cfg.Devices, prefix, cfg.Principals, log); err != nil {
			return nil, err
		}
	} else if len(cfg.Principals) > 0 {
		// Credentials that nothing checks would look like protection.
		return nil, fmt.Errorf("broker: principals are configured but device authentication is off (no Devices)")
	}
	// Bind before serving so that a busy address fails start-up with a clear error, and so that
	// port 0 yields the real address.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker.listen %q: %w", cfg.Listen, err)
	}
	opts := &mqtt.Options{
		Logger:       mochiLogger(log),
		InlineClient: false,
		// Writes to a client gather in a buffer up to this size while more wait (ingest's);
		// the buffer exists only then.
		ClientNetWriteBufferSize: 64 << 10,
		// Every connection has a read buffer of its own for as long as it lasts: a device's
		// message is a few hundred bytes, and a longer one is read through (ingest sends 4-byte
		// PUBACKs: 256 to a read).
		ClientNetReadBufferSize: readBuffer,
	}
	opts.Capabilities = mqtt.NewDefaultServerCapabilities()
	// The ingest client's persistent session holds the backlog while ingest is away or busy:
	// let it hold as much as mochi allows, and let many messages be in flight to it at once,
	// since it acknowledges a batch at a time.
	opts.Capabilities.MaximumInflight = 65535
	opts.Capabilities.ReceiveMaximum = 65535
	opts.Capabilities.MaximumClientWritesPending = writesPending
	srv := mqtt.New(opts)
	in := newIntake(srv, cfg.Ingest, cfg.MaxHeld, log)
	var gate mqtt.Hook = new(auth.AllowHook) // no device authentication: anyone may connect
	if acc != nil {
		acc.srv = srv
		gate = acc
	}
	hooks := []mqtt.Hook{gate, in}
	if cfg.Presence != nil && cfg.Devices != nil {
		now := cfg.Now
		if now == nil {
			now = time.Now
		}
		hooks = append(hooks, &presence{srv: srv, view: cfg.Devices, to: cfg.Presence, now: now})
	}
	for _, h := range hooks {
		if err := srv.AddHook(h, nil); err != nil {
			ln.Close()
			return nil, err
		}
	}
	tcp := listeners.NewNet("tcp", ln)
	if err := srv.AddListener(tcp); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{srv: srv, addr: ln.Addr().String(), intake: in, access: acc}, nil
}

// drainLimit bounds how long Run, once its context has ended, waits for ingest to acknowledge
// what is in flight.
const drainLimit = 20 * time.Second

// Run lets the broker serve until ctx ends, then drains it: it takes no more publishes from
// devices and waits, for at most 20 s, until ingest has acknowledged what is in flight to it
// and those acknowledgements have reached the devices. Ingest must still be running meanwhile.
// Run returns an error if something was still in flight. Close the broker afterwards.
func (b *Broker) Run(ctx context.Context) error {
	<-ctx.Done()
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainLimit)
	defer cancel()
	return b.drain(drainCtx)
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL is the broker's address as an MQTT URL.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Close disconnects every client and stops listening.
func (b *Broker) Close() error {
	done := make(chan error, 1)
	go func() { done <- b.srv.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("broker: close timed out")
	}
}
