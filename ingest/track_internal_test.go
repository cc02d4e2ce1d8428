package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/influx"
)

// refusingPoints takes every write but those holding marker, which it refuses as InfluxDB
// refuses a field type conflict.
type refusingPoints struct{ marker []byte }

func (p refusingPoints) Write(_ context.Context, lines []byte) error {
	if bytes.Contains(lines, p.marker) {
		return &influx.RejectedError{Status: 422, Message: "field type conflict (test)"}
	}
	return nil
}

// The tracker learns from every message of a registered device once its batch is durable:
// accepted readings, dead letters (whole messages, single readings and what InfluxDB refused),
// battery, signal, firmware, the will, and the clock offset; nothing from unknown or retired
// devices.
func TestPipelineFeedsTheStatusTracker(t *testing.T) {
	devs := []devices.Device{
		{ID: "cuff-1", Kind: devices.BPCuff, SiteID: "s1", Mode: devices.Home, Status: devices.Active},
		{ID: "old-1", Kind: devices.Oximeter, SiteID: "s1", Mode: devices.Home, Status: devices.Retired},
	}
	view := devices.NewView(devices.NewDirectory(1, devs, nil, nil))
	now := time.Date(2026, 11, 22, 8, 30, 0, 0, time.UTC)
	tracker := status.NewTracker(status.DefaultLimits(), func() time.Time { return now })
	p := NewPipeline(Config{Workers: 1, RetryInterval: time.Millisecond, MaxRetryInterval: 5 * time.Millisecond},
		Deps{Points: refusingPoints{marker: []byte("value=77.77")}, DeadLetters: noDeadLetters{}, Spool: fullSpool{},
			Directory: view, Status: tracker, Metrics: NewMetrics(prometheus.NewRegistry()),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx) }()

	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	deliveries := []struct{ topic, payload string }{
		// Two readings at one time, 3 s behind the receive time, battery 18 %.
		{"devices/cuff-1/telemetry", fmt.Sprintf(`{"ts":%d,"readings":[{"type":"bp","systolic":120,"diastolic":80},{"type":"heart_rate","value":70}],"battery":18}`, ms(-3*time.Second))},
		// One good reading, one implausible: 1 reading, 1 dead letter.
		{"devices/cuff-1/telemetry", fmt.Sprintf(`{"ts":%d,"readings":[{"type":"heart_rate","value":71},{"type":"heart_rate","value":900}]}`, ms(-2*time.Second))},
		// Not JSON: a dead letter.
		{"devices/cuff-1/telemetry", `{`},
		// A reading InfluxDB refuses: a dead letter, no reading.
		{"devices/cuff-1/telemetry", fmt.Sprintf(`{"ts":%d,"readings":[{"type":"weight","value":77.77,"unit":"kg"}]}`, ms(-time.Second))},
		{"devices/cuff-1/status", fmt.Sprintf(`{"ts":%d,"signal":-71,"firmware":"2.1.0"}`, ms(0))},
		{"devices/cuff-1/status", `{"online":false}`},
		{"devices/old-1/telemetry", fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":97}]}`, ms(0))},
		{"devices/ghost/telemetry", fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":97}]}`, ms(0))},
	}
	var acked atomic.Int64
	for i, d := range deliveries {
		if err := p.Submit(ctx, Delivery{Topic: d.topic, Payload: []byte(d.payload), Received: now.Add(time.Duration(i) * time.Millisecond),
			Ack: func() { acked.Add(1) }}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); acked.Load() < int64(len(deliveries)); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries acknowledged", acked.Load(), len(deliveries))
		}
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}

	s, ok := tracker.Seen("cuff-1")
	if !ok {
		t.Fatal("the tracker knows nothing of cuff-1")
	}
	if s.Readings != 3 || s.DeadLetters != 3 {
		t.Errorf("cuff-1: %d readings, %d dead letters; want 3 (2 + 1) and 3 (implausible, not JSON, refused by InfluxDB)", s.Readings, s.DeadLetters)
	}
	if s.Battery != 18 || !s.BatteryAt.Equal(now.Add(-3*time.Second)) {
		t.Errorf("battery %v at %v; want 18 at %v", s.Battery, s.BatteryAt, now.Add(-3*time.Second))
	}
	if s.Signal != -71 || s.Firmware != "2.1.0" {
		t.Errorf("signal %v, firmware %q; want -71 and 2.1.0", s.Signal, s.Firmware)
	}
	// The offset of the last live message: the status stamped at now, received 4 ms later.
	if s.ClockOffset != -4*time.Millisecond {
		t.Errorf("clock offset %v; want -4ms (the status's)", s.ClockOffset)
	}
	if s.Event != status.LastWill || !s.EventAt.Equal(now.Add(5*time.Millisecond)) {
		t.Errorf("event %q at %v; want last_will at %v", s.Event, s.EventAt, now.Add(5*time.Millisecond))
	}
	if !s.LastMessage.Equal(now.Add(5*time.Millisecond)) || !s.LastTelemetry.Equal(now.Add(time.Millisecond)) {
		t.Errorf("last message %v, last telemetry %v; want %v and %v (the refused weight is no telemetry)",
			s.LastMessage, s.LastTelemetry, now.Add(5*time.Millisecond), now.Add(time.Millisecond))
	}
	for _, id := range []string{"old-1", "ghost"} {
		if _, ok := tracker.Seen(id); ok {
			t.Errorf("the tracker knows %s; want nothing of a retired or unknown device", id)
		}
	}
}
