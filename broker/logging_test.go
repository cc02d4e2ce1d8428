package broker

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// logBuffer is a bytes.Buffer that mochi's goroutines and the test may use at once.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged starts an embedded broker with device authentication over f, as Start does, whose
// log (access's lines and mochi's, at every level) goes to h.
func startLogged(t *testing.T, f *fleet, h slog.Handler) string {
	t.Helper()
	log := slog.New(h).With("component", "broker")
	acc, err := newAccess(f.view, "devices", []Principal{ingest}, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := mochi.New(&mochi.Options{Logger: mochiLogger(log)})
	acc.srv = srv
	if err := srv.AddHook(acc, nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "tcp://" + ln.Addr().String()
}

// A publish the broker refuses (another device's topic, a wildcard topic, a forbidden will) is
// logged with the device, the topic and the reason, and never with its payload: the payload is
// health data (a glucose reading and the patient's id). This holds for mochi's own lines too,
// which would log the whole packet, and in both log formats serve offers.
func TestRefusedPublishLogsNoPayload(t *testing.T) {
	const patient = "P-LEAK-778899"
	payload := `{"ts":"2026-11-22T07:30:00+08:00","patient":"` + patient + `","readings":[{"type":"glucose","value":6.4,"unit":"mmol/L"}]}`
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var out logBuffer
			opts := &slog.HandlerOptions{Level: slog.LevelDebug}
			var h slog.Handler = slog.NewJSONHandler(&out, opts)
			if format == "text" {
				h = slog.NewTextHandler(&out, opts)
			}
			f := newFleet()
			url := startLogged(t, f, h)

			// Another device's topic, at QoS 0 and then QoS 1, which makes mochi disconnect A.
			a := mustDial(t, url, "A", "A", f.secrets["A"])
			a.Publish("devices/B/telemetry", 0, false, payload)
			a.Publish("devices/B/telemetry", 1, false, payload)
			lost(t, a)
			// A wildcard in the topic name, which mochi refuses before asking access.
			lost(t, publishOnce(t, url, f, "devices/A/#", payload))
			waitFor(t, "mochi's lines on the refused packets", func() bool {
				return strings.Count(out.String(), "error processing packet") == 2
			})

			logged := out.String()
			for what, leak := range map[string]string{
				"the patient id":                       patient,
				"the payload in base64 (JSON handler)": base64.StdEncoding.EncodeToString([]byte(payload)),
				"the payload as bytes (text handler)":  strings.Trim(fmt.Sprint([]byte(patient)), "[]"),
				"a payload field":                      "Payload",
			} {
				if strings.Contains(logged, leak) {
					t.Errorf("the log holds %s (%q):\n%s", what, leak, logged)
				}
			}
			for what, want := range map[string]map[string]string{
				"access's refusal, reason first": {"json": `"reason":"publish_topic","remote"`, "text": "reason=publish_topic remote="},
				"access's refusal, device and topic": {"json": `"device":"A","topic":"devices/B/telemetry"`,
					"text": "device=A topic=devices/B/telemetry"},
				"mochi's line on the forged topic": {"json": `"error":"not authorized","client":"A","listener":"tcp","pk":{"type":"Publish","topic":"devices/B/telemetry","qos":1,"packet_id":1,"payload_bytes":`,
					"text": `error="not authorized" client=A listener=tcp pk.type=Publish pk.topic=devices/B/telemetry pk.qos=1 pk.packet_id=1 pk.payload_bytes=`},
				"mochi's line on the wildcard": {"json": `"error":"protocol violation: topic contains wildcards","client":"A","listener":"tcp","pk":{"type":"Publish","topic":"devices/A/#"`,
					"text": `error="protocol violation: topic contains wildcards" client=A listener=tcp pk.type=Publish pk.topic=devices/A/#`},
			} {
				if !strings.Contains(logged, want[format]) {
					t.Errorf("the log lacks %s (%s):\n%s", what, want[format], logged)
				}
			}
			if n := strings.Count(logged, map[string]string{"json": `"reason":"publish_topic"`, "text": "reason=publish_topic"}[format]); n != 2 {
				t.Errorf("the log names %d refusals by access; want 2 (QoS 0 and 1):\n%s", n, logged)
			}
		})
	}
}

// lost waits until c has lost its connection.
func lost(t *testing.T, c *client) {
	t.Helper()
	select {
	case <-c.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the client is still connected after a refused QoS 1 publish")
	}
}

// publishOnce connects device A anew and publishes payload to topic at QoS 1.
func publishOnce(t *testing.T, url string, f *fleet, topic, payload string) *client {
	t.Helper()
	c := mustDial(t, url, "A", "A", f.secrets["A"])
	c.Publish(topic, 1, false, payload)
	return c
}

// What mochi's logger passes on: a packet or a will (as a value or a pointer, at any depth, in
// With) as its summary; an error as its text; plain values as they are; any other value as its
// type alone.
func TestPayloadFreeHandler(t *testing.T) {
	var out logBuffer
	log := mochiLogger(slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "devices/A/telemetry",
		PacketID: 7, Payload: []byte(`{"patient":"P-SECRET-1"}`)}
	will := mochi.Will{TopicName: "devices/A/status", Payload: []byte(`{"patient":"P-SECRET-2"}`), Qos: 1}
	log.With("packet", pk).WithGroup("g").Warn("m", "pk", &pk, "will", will, "raw", []byte("P-SECRET-3"),
		"nested", slog.GroupValue(slog.Any("p", pk)), "error", packets.ErrNotAuthorized, "client", "A", "n", 3,
		"thing", struct{ Patient string }{"P-SECRET-4"})
	got := out.String()
	if strings.Contains(got, "P-SECRET") || strings.Contains(got, "UC1TRUNSRVQ") {
		t.Errorf("the log holds a payload: %s", got)
	}
	for _, want := range []string{
		`"packet":{"type":"Publish","topic":"devices/A/telemetry","qos":1,"packet_id":7,"payload_bytes":24}`,
		`"pk":{"type":"Publish","topic":"devices/A/telemetry","qos":1,"packet_id":7,"payload_bytes":24}`,
		`"will":{"topic":"devices/A/status","qos":1,"retain":false,"payload_bytes":24}`,
		`"raw":"([]uint8, not logged)"`,
		`"nested":{"p":{"type":"Publish"`,
		`"error":"not authorized","client":"A","n":3`,
		`"thing":"(struct { Patient string }, not logged)"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %s:\n%s", want, got)
		}
	}
}
