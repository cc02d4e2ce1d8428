package broker

import (
	"bytes"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
)

// Presence is told when a registered device's connection to the embedded broker starts and
// ends (status.Tracker). It is called on mochi's connection goroutines and must be quick.
type Presence interface {
	Connection(device string, ev status.Event, at time.Time)
}

// presence tells a Presence of the connections of registered devices: the session established
// (connect), a clean DISCONNECT (disconnect), the last will published (last_will), and a
// connection that broke without a will (connection_lost). Principals such as ingest are not
// devices and are not reported.
type presence struct {
	mqtt.HookBase
	srv  *mqtt.Server
	view *devices.View
	to   Presence
	now  func() time.Time
}

func (h *presence) ID() string { return "vitalwatch-presence" }

func (h *presence) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnWillSent}, []byte{b})
}

// device reports whether cl is a registered device: a device signs in with username = client
// id = its id (access.go).
func (h *presence) device(cl *mqtt.Client) bool {
	if cl.Net.Inline || string(cl.Properties.Username) != cl.ID {
		return false
	}
	_, ok := h.view.Load().Device(cl.ID)
	return ok
}

// OnSessionEstablished reports a device's connection once the broker has taken it.
func (h *presence) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if h.device(cl) {
		h.to.Connection(cl.ID, status.Connect, h.now())
	}
}

// OnWillSent reports the device's last will, which the broker publishes when the connection
// ends without a clean DISCONNECT (or after the will's delay).
func (h *presence) OnWillSent(cl *mqtt.Client, _ packets.Packet) {
	if h.device(cl) {
		h.to.Connection(cl.ID, status.LastWill, h.now())
	}
}

// OnDisconnect reports how a device's connection ended, unless a new connection of the same
// device has taken its session over (the device is connected), or the will already said so.
func (h *presence) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	if !h.device(cl) || cl.IsTakenOver() {
		return
	}
	if cur, ok := h.srv.Clients.Get(cl.ID); ok && cur != cl {
		return
	}
	ev := status.Disconnect
	if err != nil {
		// mochi clears the will's flag once it has published it (OnWillSent came first); a
		// will with a delay is still pending.
		if cl.Properties.Will.TopicName != "" && atomic.LoadUint32(&cl.Properties.Will.Flag) == 0 {
			return
		}
		ev = status.ConnectionLost
	}
	h.to.Connection(cl.ID, ev, h.now())
}
