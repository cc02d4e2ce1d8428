// Package broker runs the MQTT broker embedded in vitalwatch serve (mochi-mqtt), listening on
// real TCP, so that one machine needs no separate broker. At scale an external broker takes its
// place and the ingest client connects there instead.
package broker

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Config configures the embedded broker.
type Config struct {
	// Listen is the TCP address, e.g. "127.0.0.1:1883"; port 0 picks a free one.
	Listen string
}

// Broker is a running embedded broker.
type Broker struct {
	srv    *mqtt.Server
	addr   string
	intake *intake
}

// Start listens on cfg.Listen and serves until Close.
func Start(cfg Config, log *slog.Logger) (*Broker, error) {
	// Bind first so that a busy address fails start-up with a clear error, and so that port 0
	// yields the real address.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker.listen %q: %w", cfg.Listen, err)
	}
	opts := &mqtt.Options{
		Logger:                   log.With("component", "broker"),
		InlineClient:             false,
		ClientNetWriteBufferSize: 64 << 10,
		ClientNetReadBufferSize:  64 << 10,
	}
	opts.Capabilities = mqtt.NewDefaultServerCapabilities()
	// The ingest client's persistent session holds the backlog while ingest is away or busy:
	// let it hold as much as mochi allows, and let many messages be in flight to it at once,
	// since it acknowledges a batch at a time.
	opts.Capabilities.MaximumInflight = 65535
	opts.Capabilities.ReceiveMaximum = 65535
	opts.Capabilities.MaximumClientWritesPending = 65535
	srv := mqtt.New(opts)
	// Devices are not authenticated yet: every client may connect and publish.
	in := new(intake)
	for _, h := range []mqtt.Hook{new(auth.AllowHook), in} {
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
	return &Broker{srv: srv, addr: ln.Addr().String(), intake: in}, nil
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
