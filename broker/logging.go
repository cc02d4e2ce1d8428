package broker

import (
	"context"
	"fmt"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// mochiLogger is the logger to hand to mochi (mqtt.Options.Logger). mochi logs whole packets
// and wills as attributes: when it refuses a publish (another device's topic, a wildcard in the
// topic name, a protocol error) it logs "error processing packet" at WARN with the packet, whose
// payload is a reading with a patient id, health data that has no place in a log. Every record
// of mochi's passes through payloadFreeHandler, which puts in place of a packet or a will what
// can be logged of it (type, topic, QoS, packet id, payload size) and drops any other value it
// cannot vouch for; the device (mochi's "client") and the reason ("error") stay.
func mochiLogger(log *slog.Logger) *slog.Logger {
	return slog.New(payloadFreeHandler{next: log.Handler()})
}

// payloadFreeHandler is a slog.Handler that passes records to next without the payloads of
// MQTT packets and wills, nor any value whose printed form could hold one.
type payloadFreeHandler struct {
	next slog.Handler
}

func (h payloadFreeHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h payloadFreeHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(payloadFree(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h payloadFreeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	safe := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		safe[i] = payloadFree(a)
	}
	return payloadFreeHandler{next: h.next.WithAttrs(safe)}
}

func (h payloadFreeHandler) WithGroup(name string) slog.Handler {
	return payloadFreeHandler{next: h.next.WithGroup(name)}
}

// payloadFree returns a with a value that cannot carry a payload. Values of the kinds slog
// prints itself (strings, numbers, times) and errors (mochi's reasons) stay as they are. A packet
// or a will becomes a group of what can be logged of it. Anything else, which a handler would
// print whole (a struct, a byte slice, a Stringer), is replaced by its type: mochi passes no
// other values today, and one it adds later must not bring a payload along.
func payloadFree(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		attrs := v.Group()
		safe := make([]slog.Attr, len(attrs))
		for i, g := range attrs {
			safe[i] = payloadFree(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(safe...)}
	case slog.KindAny:
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
	switch x := v.Any().(type) {
	case packets.Packet:
		return packetSummary(a.Key, &x)
	case *packets.Packet:
		if x == nil {
			return slog.String(a.Key, "<nil>")
		}
		return packetSummary(a.Key, x)
	case mqtt.Will:
		return slog.Group(a.Key, "topic", clip(x.TopicName), "qos", x.Qos, "retain", x.Retain, "payload_bytes", len(x.Payload))
	case error: // a packets.Code, the reason
		return slog.String(a.Key, x.Error())
	}
	return slog.String(a.Key, fmt.Sprintf("(%T, not logged)", v.Any()))
}

// packetSummary is what can be logged of a packet: its type, topic, QoS, packet id and the size
// of its payload, never the payload, a will's payload, or a password.
func packetSummary(key string, pk *packets.Packet) slog.Attr {
	attrs := []any{"type", packets.PacketNames[pk.FixedHeader.Type]}
	if pk.TopicName != "" {
		attrs = append(attrs, "topic", clip(pk.TopicName))
	}
	attrs = append(attrs, "qos", pk.FixedHeader.Qos, "packet_id", pk.PacketID, "payload_bytes", len(pk.Payload))
	return slog.Group(key, attrs...)
}
