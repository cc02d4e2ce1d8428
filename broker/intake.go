package broker

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// intake refuses publishes once closed. A refused QoS 1 publish gets no PUBACK, so the device
// keeps the message and sends it again when it reconnects: nothing is acknowledged that the
// platform cannot still deliver to ingest.
type intake struct {
	mqtt.HookBase
	closed atomic.Bool
}

func (h *intake) ID() string { return "vitalwatch-intake" }

func (h *intake) Provides(b byte) bool { return bytes.Contains([]byte{mqtt.OnPublish}, []byte{b}) }

func (h *intake) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if h.closed.Load() {
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// Drain prepares a graceful stop: it refuses further publishes and waits until the client
// subscriberID (ingest) has acknowledged every message in flight to it, or ctx ends. The
// broker keeps its sessions in memory, so what it holds when it closes is gone; after Drain it
// holds nothing that a device was told was delivered.
func (b *Broker) Drain(ctx context.Context, subscriberID string) error {
	b.intake.closed.Store(true)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		cl, ok := b.srv.Clients.Get(subscriberID)
		if !ok || cl.State.Inflight.Len() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("broker: ingest has not acknowledged everything in flight"), ctx.Err())
		case <-t.C:
		}
	}
}
