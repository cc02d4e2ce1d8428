package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// batchSizes is InfluxDB taking every write and noting its lines.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (w *batchSizes) Write(_ context.Context, lines []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sizes = append(w.sizes, bytes.Count(lines, []byte("\n")))
	return nil
}

func (w *batchSizes) got() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.sizes)
}

// queuedBatches queues n one-reading deliveries for one worker before the pipeline runs, runs
// it until all are acknowledged, and returns the lines of each write.
func queuedBatches(t *testing.T, cfg Config, n int) []int {
	t.Helper()
	points := &batchSizes{}
	cfg.Workers, cfg.QueueSize = 1, n
	p := NewPipeline(cfg, Deps{Points: points, DeadLetters: noDeadLetters{}, Spool: fullSpool{}, Metrics: NewMetrics(prometheus.NewRegistry()),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	var acked atomic.Int64
	at := time.Now().UnixMilli()
	for i := range n {
		payload := fmt.Sprintf(`{"ts": %d, "patient": "P-1", "readings": [{"type": "glucose", "value": 5.5, "unit": "mmol/L"}]}`, at+int64(i))
		if err := p.Submit(context.Background(), Delivery{Topic: "devices/dev-1/telemetry", Payload: []byte(payload),
			Received: time.Now(), Ack: func() { acked.Add(1) }}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx) }()
	for deadline := time.Now().Add(time.Minute); acked.Load() < int64(n); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries acknowledged after a minute", acked.Load(), n)
		}
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	return points.got()
}

// A worker with deliveries queued fills a batch up to BatchSize, and writes the rest when the
// queue is empty.
func TestBatchFillsToBatchSize(t *testing.T) {
	got := queuedBatches(t, Config{BatchSize: 5, FlushInterval: time.Hour, Linger: time.Millisecond}, 12)
	if want := []int{5, 5, 2}; !slices.Equal(got, want) {
		t.Errorf("batches of %v lines; want %v", got, want)
	}
}

// A batch FlushInterval old is written even while more deliveries are queued behind it: with
// a FlushInterval of a nanosecond, each batch takes its first delivery and the one after.
func TestBatchWrittenAtFlushIntervalWhileMoreQueued(t *testing.T) {
	got := queuedBatches(t, Config{BatchSize: 100, FlushInterval: time.Nanosecond, Linger: time.Nanosecond}, 12)
	if want := []int{2, 2, 2, 2, 2, 2}; !slices.Equal(got, want) {
		t.Errorf("batches of %v lines; want %v", got, want)
	}
}
