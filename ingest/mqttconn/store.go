package mqttconn

import (
	"strings"
	"sync/atomic"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Store is paho's memory store without its records of received QoS 1 messages.
//
// paho puts every QoS 1 message it receives in its store under "i.<id>" and deletes it when the
// message is acknowledged, but never reads it back: on reconnecting it resends only what it
// sent itself and the releases of QoS 2 messages, and the broker redelivers what was not
// acknowledged. At tens of thousands of messages a second the keys, the map and its lock cost
// some 7% of a subscriber's CPU and keep every message in flight reachable. Store keeps what
// paho sends (subscriptions, publications) and QoS 2's inbound records as the memory store
// does. Pass it to ClientOptions.SetStore.
type Store struct {
	mqtt.Store
	// inbound is set once an inbound record has been kept; until then no inbound key can be
	// in the store and deletes of them are not passed on.
	inbound atomic.Bool
}

// NewStore returns a Store over a new paho memory store.
func NewStore() *Store { return &Store{Store: mqtt.NewMemoryStore()} }

// Put keeps message under key, unless it is a received QoS 1 message.
func (s *Store) Put(key string, message packets.ControlPacket) {
	if strings.HasPrefix(key, "i.") {
		if p, ok := message.(*packets.PublishPacket); ok && p.Qos == 1 {
			return
		}
		s.inbound.Store(true)
	}
	s.Store.Put(key, message)
}

// Del deletes key; a received message's key only when one may be kept.
func (s *Store) Del(key string) {
	if strings.HasPrefix(key, "i.") && !s.inbound.Load() {
		return
	}
	s.Store.Del(key)
}
