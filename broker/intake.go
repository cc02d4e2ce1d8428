package broker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultMaxHeld is how many device publishes the broker holds, unacknowledged, for ingest to
// make durable when Config.MaxHeld is 0. It stays well below what mochi lets one session have
// in flight (65535): beyond that mochi would drop a copy instead of holding back the device.
const DefaultMaxHeld = 32768

// writesPending is how many packets mochi lets wait to be written to one client (its
// MaximumClientWritesPending). mochi gives every connection a channel of that many slots when
// it connects: 256 slots are 2 KiB, which a city of devices, each on its own connection, can
// afford (65,535 were 512 KiB a connection, which the garbage collector also had to scan). A
// device is written little (acknowledgements go straight to its connection); ingest is written
// every device publish, so the copies waiting for ingest's connection are bounded below that
// (maxQueued), leaving room for what else goes to ingest (QoS 0 publishes, probes).
const writesPending = 256

// maxQueued bounds the held publishes whose copy waits in mochi's write queue to ingest's
// connection: a device whose publish finds the queue full waits, where mochi would drop the copy.
const maxQueued = writesPending * 3 / 4

// intake is the broker's side of "a device's message, once acknowledged, is never lost". The
// embedded broker keeps messages in memory only, so its PUBACK must not come before ingest has
// made the message durable, or a crash (or ingest being away) loses what the device was told
// was delivered. With an ingest client id configured:
//
//   - A device may connect only while ingest is connected and subscribed; otherwise CONNACK
//     says "server unavailable" and the device keeps its messages and retries.
//   - A device's QoS 1 or 2 publish is routed to the subscribers, but acknowledged (PUBACK,
//     or PUBREC for QoS 2) only once ingest has acknowledged its copy, which ingest does
//     once the message is durable. Until then the device holds it, and resends it if the
//     connection or the broker goes away.
//   - A publish that arrives while ingest is not connected and subscribed, or whose copy to
//     ingest mochi could not hold, is refused without acknowledgement and the device is
//     disconnected: MQTT resends an unacknowledged publish only on a new connection.
//
// A refused QoS 1 publish (mochi's ErrRejectPacket from OnPublish) gets no PUBACK and does not
// end the connection by itself (mochi 2.7.9 processPublish returns nil for it).
//
// Without an ingest client id (a plain broker, as in some tests) publishes are acknowledged as
// mochi does, and only drain refuses them.
type intake struct {
	mqtt.HookBase
	srv      *mqtt.Server
	ingestID string
	log      *slog.Logger
	// inline routes a held publish to the subscribers: mochi neither acknowledges nor counts
	// receive quota for an inline client's publishes.
	inline *mqtt.Client
	// slots has one token per held publish; a device whose publish finds none waits, which
	// stops mochi reading from it (the README's "the broker waits").
	slots chan struct{}
	// queue has one token per held publish whose copy waits in ingest's write queue (see
	// maxQueued); the copy's held gives it back once written (OnPacketSent), acknowledged or
	// dropped, or when ingest's connection ends, whose queue goes with it.
	queue  chan struct{}
	closed atomic.Bool   // drain: take nothing more
	done   chan struct{} // closed by Stop: publishers waiting for a slot give up
	stop   sync.Once
	wg     sync.WaitGroup // the ack writers
	ready  atomic.Bool    // last readiness logged, so that changes are logged once

	mu       sync.Mutex
	seq      uint64
	routing  map[string]*held           // by key, while InjectPacket routes it
	byIngest map[uint16]*held           // by the packet id of ingest's copy
	conns    map[*mqtt.Client]*heldConn // per device connection with publishes held or acks to write
}

// held is a device's publish that the broker has routed but not yet acknowledged.
type held struct {
	dev    *mqtt.Client
	id     uint16 // the device's packet id
	qos    byte
	key    string
	ingest uint16 // packet id of ingest's copy, once mochi has queued it
	queued bool   // ingest's session holds the copy
	unsent bool   // the copy holds a token of queue: it waits in the write queue of to
	to     *mqtt.Client
	gone   bool // mochi dropped ingest's copy
	done   bool // acknowledged to the device (or given up)
}

// heldConn is the state of one device connection (one *mqtt.Client: a reconnect is another).
type heldConn struct {
	ids     map[uint16]bool // packet ids of its publishes held
	acks    []ack           // acknowledgements to write, in order
	writing bool            // an ack writer runs for it
}

type ack struct {
	id  uint16
	qos byte
}

// routeKeyPrefix marks the key of a held publish. The key travels in the routed packet's
// Connect.ClientIdentifier, a field that mochi copies with the packet (Packet.Copy) but never
// encodes for a PUBLISH, so that OnQosPublish can tell which device publish ingest's copy is.
const routeKeyPrefix = "vitalwatch-held/"

func newIntake(srv *mqtt.Server, ingestID string, maxHeld int, log *slog.Logger) *intake {
	if maxHeld <= 0 {
		maxHeld = DefaultMaxHeld
	}
	return &intake{
		srv: srv, ingestID: ingestID, log: log,
		inline:   srv.NewClient(nil, mqtt.LocalListener, "vitalwatch-intake", true),
		slots:    make(chan struct{}, maxHeld),
		queue:    make(chan struct{}, maxQueued),
		done:     make(chan struct{}),
		routing:  make(map[string]*held),
		byIngest: make(map[uint16]*held),
		conns:    make(map[*mqtt.Client]*heldConn),
	}
}

func (h *intake) ID() string { return "vitalwatch-intake" }

func (h *intake) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnect, mqtt.OnPublish, mqtt.OnQosPublish, mqtt.OnQosComplete,
		mqtt.OnQosDropped, mqtt.OnPublishDropped, mqtt.OnSubscribed, mqtt.OnDisconnect, mqtt.OnPacketSent,
		mqtt.OnSessionEstablished}, []byte{b})
}

// Stop (mochi calls it on Close) releases publishers waiting for a slot and waits for the ack
// writers, whose writes fail once the connections are closed.
func (h *intake) Stop() error {
	h.stop.Do(func() { close(h.done) })
	h.wg.Wait()
	return nil
}

// ingest returns ingest's client when it is connected and subscribed, else nil.
func (h *intake) ingest() *mqtt.Client {
	cl, ok := h.srv.Clients.Get(h.ingestID)
	if !ok || cl.Closed() || cl.State.Subscriptions.Len() == 0 {
		h.noteReady(false)
		return nil
	}
	h.noteReady(true)
	return cl
}

func (h *intake) noteReady(ready bool) {
	if h.ready.Swap(ready) == ready {
		return
	}
	if ready {
		h.log.Info("ingest is subscribed: taking device connections and publishes", "ingest", h.ingestID)
	} else {
		h.log.Warn("ingest is not connected and subscribed: refusing device connections and publishes, which devices keep and resend", "ingest", h.ingestID)
	}
}

// OnConnect refuses a device while ingest cannot take its messages. The device is told
// "server unavailable" (CONNACK 0x88, or return code 3 to an MQTT 3.1.1 client) and retries.
func (h *intake) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	if h.ingestID == "" || cl.ID == h.ingestID {
		return nil
	}
	if !h.closed.Load() && h.ingest() != nil {
		return nil
	}
	_ = h.srv.SendConnack(cl, packets.ErrServerUnavailable, false, nil)
	return packets.ErrServerUnavailable
}

// OnSubscribed and OnDisconnect log the changes of ingest's readiness as they happen.
func (h *intake) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) {
	if h.ingestID != "" && cl.ID == h.ingestID {
		h.ingest()
	}
}

// OnDisconnect: the write queue of ingest's connection goes with it, so the copies waiting
// there give back their tokens; they stay in ingest's session, which sends them again on its
// next connection, straight to it.
func (h *intake) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	if h.ingestID != "" && cl.ID == h.ingestID {
		h.ingest()
		h.unqueue(func(m *held) bool { return m.to == cl })
	}
}

// OnSessionEstablished: ingest's new connection has sent its session's copies again, straight
// to it; a copy still counted in an older connection's queue is not there any more (mochi may
// queue a copy for a connection that has just closed).
func (h *intake) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if h.ingestID != "" && cl.ID == h.ingestID {
		h.unqueue(func(m *held) bool { return m.to != cl })
	}
}

// unqueue gives back the tokens of the copies for which old is true.
func (h *intake) unqueue(old func(*held) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.byIngest {
		if m.unsent && old(m) {
			h.written(m)
		}
	}
}

// written gives back m's token of queue, if it holds one: its copy has left ingest's write
// queue. h.mu is held.
func (h *intake) written(m *held) {
	if m.unsent {
		m.unsent = false
		<-h.queue
	}
}

// OnPacketSent: a copy for ingest has been written to ingest's connection.
func (h *intake) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if h.ingestID == "" || cl.ID != h.ingestID || pk.FixedHeader.Type != packets.Publish ||
		!strings.HasPrefix(pk.Connect.ClientIdentifier, routeKeyPrefix) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.byIngest[pk.PacketID]; m != nil && m.key == pk.Connect.ClientIdentifier {
		h.written(m)
	}
}

func (h *intake) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	switch {
	case cl.Net.Inline:
		return pk, nil // a held publish on its way to the subscribers
	case h.closed.Load():
		// Draining: the device keeps the message and sends it again to the next broker.
		return pk, packets.ErrRejectPacket
	case h.ingestID == "" || cl.ID == h.ingestID || pk.FixedHeader.Qos == 0:
		return pk, nil
	}
	return pk, h.hold(cl, pk)
}

// hold routes a device's publish to the subscribers without acknowledging it; OnQosComplete
// acknowledges it once ingest has. It returns ErrRejectPacket, so that mochi neither
// acknowledges nor routes the publish itself.
func (h *intake) hold(dev *mqtt.Client, pk packets.Packet) error {
	if h.ingest() == nil {
		h.refuse(dev, "ingest is not connected and subscribed")
		return packets.ErrRejectPacket
	}
	h.mu.Lock()
	c := h.conns[dev]
	if c != nil && c.ids[pk.PacketID] {
		// The same packet id again on the same connection: a retransmission of a publish
		// already held, which that one's acknowledgement covers.
		h.mu.Unlock()
		return packets.ErrRejectPacket
	}
	h.mu.Unlock()
	if !h.acquire(dev, h.slots) {
		if !dev.Closed() && !h.closed.Load() {
			h.refuse(dev, "ingest went away while the device waited")
		}
		return packets.ErrRejectPacket
	}
	if !h.acquire(dev, h.queue) {
		<-h.slots
		if !dev.Closed() && !h.closed.Load() {
			h.refuse(dev, "ingest went away while the device waited")
		}
		return packets.ErrRejectPacket
	}

	h.mu.Lock()
	h.seq++
	m := &held{dev: dev, id: pk.PacketID, qos: pk.FixedHeader.Qos, key: routeKeyPrefix + strconv.FormatUint(h.seq, 36)}
	h.routing[m.key] = m
	c = h.conn(dev)
	c.ids[m.id] = true
	h.mu.Unlock()

	out := pk
	out.Connect.ClientIdentifier = m.key
	out.Properties.TopicAlias, out.Properties.TopicAliasFlag = 0, false // resolved already, and the alias is the device's
	err := h.srv.InjectPacket(h.inline, out)

	h.mu.Lock()
	delete(h.routing, m.key)
	if !m.queued {
		<-h.queue // the token never went to a copy
	} else if m.gone {
		h.written(m)
	}
	switch {
	case m.done: // ingest acknowledged it already
		h.mu.Unlock()
		return packets.ErrRejectPacket
	case m.queued && !m.gone && err == nil:
		h.mu.Unlock()
		return packets.ErrRejectPacket
	}
	// Not held for ingest: ingest does not subscribe to the topic, or mochi could not queue
	// the copy (its session's in-flight limit, a full write queue).
	dropped := m.queued || m.gone || err != nil
	if m.queued && h.byIngest[m.ingest] == m {
		delete(h.byIngest, m.ingest)
	}
	h.written(m)
	m.done = true
	h.forget(m)
	h.mu.Unlock()
	<-h.slots
	if dropped {
		h.refuse(dev, "ingest's copy could not be queued")
		return packets.ErrRejectPacket
	}
	// A topic ingest does not subscribe to: nothing will make it durable, and any other
	// subscriber has its copy. Acknowledge it as any broker would (mochi must not route it
	// a second time).
	_ = h.acknowledge(dev, ack{id: m.id, qos: m.qos})
	return packets.ErrRejectPacket
}

// acquire takes a token of tokens (slots or queue) for a held publish, waiting while all are
// taken. It gives up when the device's connection closes, ingest goes away, or the broker
// drains or stops.
func (h *intake) acquire(dev *mqtt.Client, tokens chan struct{}) bool {
	select {
	case tokens <- struct{}{}:
		return true
	default:
	}
	// mochi gives a hook nothing to wait on for a closed connection: look now and then.
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case tokens <- struct{}{}:
			return true
		case <-h.done:
			return false
		case <-t.C:
			if dev.Closed() || h.closed.Load() || h.ingest() == nil {
				return false
			}
		}
	}
}

// refuse disconnects a device whose publish was not acknowledged, so that it sends it again
// on its next connection, which OnConnect admits once ingest is back. It runs on the device's
// own goroutine (OnPublish), so a blocked write stalls only that device.
func (h *intake) refuse(dev *mqtt.Client, why string) {
	h.log.Debug("device publish refused; the device keeps it", "client", dev.ID, "why", why)
	_ = h.srv.DisconnectClient(dev, packets.ErrServerUnavailable)
}

// conn returns the state of a device connection, creating it. h.mu is held.
func (h *intake) conn(dev *mqtt.Client) *heldConn {
	c := h.conns[dev]
	if c == nil {
		c = &heldConn{ids: make(map[uint16]bool)}
		h.conns[dev] = c
	}
	return c
}

// forget removes a resolved publish from its connection's state. h.mu is held.
func (h *intake) forget(m *held) {
	c := h.conns[m.dev]
	if c == nil {
		return
	}
	delete(c.ids, m.id)
	if len(c.ids) == 0 && len(c.acks) == 0 && !c.writing {
		delete(h.conns, m.dev)
	}
}

// OnQosPublish learns the packet id of ingest's copy of a held publish (mochi calls it
// synchronously inside InjectPacket; again, with the same id, when it resends the copy).
func (h *intake) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	if cl.ID != h.ingestID || h.ingestID == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.routing[pk.Connect.ClientIdentifier]; m != nil && !m.queued {
		m.ingest, m.queued = pk.PacketID, true
		m.unsent, m.to = true, cl // the token hold took goes with the copy
		h.byIngest[pk.PacketID] = m
	}
}

// OnPublishDropped: mochi could not queue ingest's copy (its write queue is full) and has
// taken it back out of the session; the device must send it again.
func (h *intake) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	if cl.ID != h.ingestID || h.ingestID == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.routing[pk.Connect.ClientIdentifier]; m != nil {
		m.gone = true
	}
}

// OnQosComplete: ingest acknowledged its copy, so the message is durable; acknowledge it to
// the device, on the connection it came by. mochi deletes the copy from ingest's session
// before calling this, so its packet id could be reused meanwhile only after 65535 other
// deliveries to ingest, which the slots do not allow.
func (h *intake) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if cl.ID != h.ingestID || h.ingestID == "" {
		return
	}
	h.mu.Lock()
	m := h.byIngest[pk.PacketID]
	if m == nil || m.done {
		h.mu.Unlock()
		return
	}
	delete(h.byIngest, pk.PacketID)
	m.done = true
	h.written(m) // acknowledged, so written, though OnPacketSent may not have come yet
	h.forget(m)
	c := h.conn(m.dev)
	c.acks = append(c.acks, ack{id: m.id, qos: m.qos})
	start := !c.writing
	c.writing = true
	h.mu.Unlock()
	<-h.slots
	if start {
		// A writer per device connection: a device that does not read stalls only its own
		// acknowledgements, not ingest's connection, on whose goroutine this runs.
		h.wg.Go(func() { h.writeAcks(m.dev) })
	}
}

// OnQosDropped: mochi dropped ingest's copy (its session was cleared, or the copy expired).
// The device is disconnected so that it sends the message again. A session taken over by
// ingest's next connection keeps its copies, which mochi also reports here: ignored.
func (h *intake) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if cl.ID != h.ingestID || h.ingestID == "" || cl.IsTakenOver() {
		return
	}
	h.mu.Lock()
	m := h.byIngest[pk.PacketID]
	if m == nil || m.done {
		h.mu.Unlock()
		return
	}
	delete(h.byIngest, pk.PacketID)
	m.done = true
	h.written(m)
	h.forget(m)
	h.mu.Unlock()
	<-h.slots
	// Not DisconnectClient: its write could block this goroutine (ingest's, or mochi's
	// housekeeping) on a device that does not read.
	h.log.Debug("device publish dropped before ingest took it; disconnecting the device to have it resent", "client", m.dev.ID)
	m.dev.Stop(packets.ErrServerUnavailable)
}

// writeAcks writes a device connection's queued acknowledgements until none is left: the
// PUBACKs of QoS 1 publishes that are due together in one write (a device that uploads ten
// readings gets them acknowledged in one or two system calls, not ten), a PUBREC through
// acknowledge.
func (h *intake) writeAcks(dev *mqtt.Client) {
	var buf []byte
	for {
		h.mu.Lock()
		c := h.conns[dev]
		acks := c.acks
		c.acks = nil
		if len(acks) == 0 {
			c.writing = false
			if len(c.ids) == 0 {
				delete(h.conns, dev)
			}
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		buf = buf[:0]
		var err error
		for _, a := range acks {
			if a.qos == 1 {
				buf = append(buf, packets.Puback<<4, 2, byte(a.id>>8), byte(a.id))
				continue
			}
			if err = writeRaw(dev, buf); err != nil {
				break
			}
			buf = buf[:0]
			if err = h.acknowledge(dev, a); err != nil {
				break
			}
		}
		if err == nil {
			err = writeRaw(dev, buf)
		}
		_ = err // the connection is gone: the device sends these again on its next one
	}
}

// writeRaw writes encoded packets to a device's connection, as mochi's WritePacket does
// (under the client's lock) but without encoding each one on its own; mochi's counts of bytes
// and packets sent leave them out.
func writeRaw(dev *mqtt.Client, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if dev.Closed() || dev.Net.Conn == nil {
		return mqtt.ErrConnectionClosed
	}
	dev.Lock()
	defer dev.Unlock()
	_, err := dev.Net.Conn.Write(b)
	return err
}

// acknowledge writes a PUBACK, or a PUBREC that it records in the device's session as mochi
// does, so that mochi completes the device's PUBREL.
func (h *intake) acknowledge(dev *mqtt.Client, a ack) error {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: a.id}
	if a.qos == 2 {
		pk.FixedHeader.Type = packets.Pubrec
		pk.Created = time.Now().Unix()
		dev.State.Inflight.DecreaseReceiveQuota()
		if dev.State.Inflight.Set(pk) {
			atomic.AddInt64(&h.srv.Info.Inflight, 1)
		}
	}
	return dev.WritePacket(pk)
}

// outstanding says whether publishes are held for ingest or acknowledgements wait to be
// written.
func (h *intake) outstanding() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byIngest) > 0 || len(h.conns) > 0
}

// drain prepares a graceful stop: it refuses further publishes and waits until the ingest
// client has acknowledged every message in flight to it and those acknowledgements have
// reached the devices, or ctx ends. The broker keeps its sessions in memory, so what it holds
// when it closes is gone; after drain it holds nothing that a device was told was delivered,
// and a device holds what it was not.
func (b *Broker) drain(ctx context.Context) error {
	b.intake.closed.Store(true)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		cl, ok := b.srv.Clients.Get(b.intake.ingestID)
		if (!ok || cl.State.Inflight.Len() == 0) && !b.intake.outstanding() {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("broker: ingest has not acknowledged everything in flight"), ctx.Err())
		case <-t.C:
		}
	}
}
