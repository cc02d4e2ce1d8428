package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
)

// downPoints is InfluxDB refusing every write, or taking every write while up is set.
type downPoints struct {
	up      atomic.Bool
	written atomic.Int64
}

func (w *downPoints) Write(context.Context, []byte) error {
	if w.up.Load() {
		w.written.Add(1)
		return nil
	}
	return errors.New("influx down (test)")
}

// fullSpool is a spool that takes nothing.
type fullSpool struct{}

func (fullSpool) Append([]byte) error         { return errors.New("disk full (test)") }
func (fullSpool) Peek() ([]byte, bool, error) { return nil, false, nil }
func (fullSpool) Consume() error              { return nil }
func (fullSpool) Len() int                    { return 0 }
func (fullSpool) Bytes() int64                { return 0 }

type noDeadLetters struct{}

func (noDeadLetters) AddDeadLetters(context.Context, []deadletter.DeadLetter, int) error { return nil }

// runOne runs a pipeline over points, submits one reading, ends Run's context and returns what
// Run returned, whether the reading was acknowledged, and how long Run took to stop.
func runOne(t *testing.T, points PointWriter, limit time.Duration) (error, bool, time.Duration) {
	t.Helper()
	p := NewPipeline(Config{Workers: 1, RetryInterval: time.Millisecond, MaxRetryInterval: 5 * time.Millisecond},
		Deps{Points: points, DeadLetters: noDeadLetters{}, Spool: fullSpool{}, Metrics: NewMetrics(prometheus.NewRegistry()),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	p.stopLimit = limit
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx) }()
	var acked atomic.Bool
	payload := fmt.Sprintf(`{"ts": %d, "patient": "P-1", "readings": [{"type": "glucose", "value": 5.5, "unit": "mmol/L"}]}`,
		time.Now().UnixMilli())
	if err := p.Submit(context.Background(), Delivery{Topic: "devices/dev-1/telemetry", Payload: []byte(payload),
		Received: time.Now(), Ack: func() { acked.Store(true) }}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the worker takes the delivery
	cancel()
	start := time.Now()
	select {
	case err := <-ran:
		return err, acked.Load(), time.Since(start)
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context ended")
		return nil, false, 0
	}
}

// When Run's context ends, the pipeline writes and acknowledges what it holds, and returns nil.
func TestRunFlushesWhenItsContextEnds(t *testing.T) {
	points := &downPoints{}
	points.up.Store(true)
	err, acked, _ := runOne(t, points, time.Minute)
	if err != nil || !acked || points.written.Load() != 1 {
		t.Errorf("Run = %v, acknowledged %v after %d writes; want nil, true after 1", err, acked, points.written.Load())
	}
}

// A pipeline that cannot make what it holds durable (InfluxDB down, spool full) stops trying
// after its stop limit, leaves it unacknowledged, and says so.
func TestRunGivesUpAfterItsStopLimit(t *testing.T) {
	err, acked, took := runOne(t, &downPoints{}, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "unacknowledged") || acked {
		t.Errorf("Run = %v, acknowledged %v; want an error saying the rest stays unacknowledged, false", err, acked)
	}
	if took < 200*time.Millisecond || took > 10*time.Second {
		t.Errorf("Run took %v to return; want about its stop limit, 200ms", took)
	}
}
