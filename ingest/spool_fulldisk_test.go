package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/ingest"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/ingest/spool"
	"github.com/vitalwatch/vitalwatch/ingest/spool/spooltest"
)

// switchedInflux is an InfluxDB that is down while down is set, and otherwise keeps every line
// written to it, in order.
type switchedInflux struct {
	down  atomic.Bool
	mu    sync.Mutex
	lines []string
}

func (w *switchedInflux) Write(_ context.Context, lines []byte) error {
	if w.down.Load() {
		return errors.New("influx down (test)")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for line := range bytes.Lines(lines) {
		w.lines = append(w.lines, strings.TrimSuffix(string(line), "\n"))
	}
	return nil
}

func (w *switchedInflux) written() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

type keptDeadLetters struct {
	mu  sync.Mutex
	dls []deadletter.DeadLetter
}

func (k *keptDeadLetters) AddDeadLetters(_ context.Context, dls []deadletter.DeadLetter, _ int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dls = append(k.dls, dls...)
	return nil
}

// lockedBuffer collects the pipeline's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue metrics
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

// TestSpoolFullDiskReplaysWhenInfluxReturns: InfluxDB is down and the spool's disk fills. The
// batches that do not fit stay unacknowledged (the broker holds them), the full disk shows in
// spool_full_total{reason="disk_full"}, the spool_writable gauge and readiness, and is logged
// once, not at every retry. When InfluxDB is back, replay must drain the full disk, and every
// reading must reach InfluxDB once, in order, and every message be acknowledged.
func TestSpoolFullDiskReplaysWhenInfluxReturns(t *testing.T) {
	dir := t.TempDir()
	disk, err := spooltest.NewDisk(dir, 96<<10)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 16 << 10, FS: disk})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()

	influxDB := &switchedInflux{}
	influxDB.down.Store(true)
	reg := prometheus.NewRegistry()
	var logs lockedBuffer
	p := ingest.NewPipeline(ingest.Config{Workers: 1, QueueSize: 16, BatchSize: 10, FlushInterval: 5 * time.Millisecond,
		WriteTimeout: time.Second, RetryInterval: 2 * time.Millisecond, MaxRetryInterval: 10 * time.Millisecond},
		ingest.Deps{Points: influxDB, DeadLetters: &keptDeadLetters{}, Spool: sp, Metrics: ingest.NewMetrics(reg),
			Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: time.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		p.Run(ctx)
	}()

	// One device, so that its readings reach InfluxDB in the order they were measured.
	const n = 3000
	base := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	var acked atomic.Int64
	submitted := make(chan struct{})
	go func() {
		defer close(submitted)
		for i := range n {
			payload := fmt.Sprintf(`{"ts": %d, "seq": %d, "patient": "P-1", "readings": [{"type": "glucose", "value": 5.5, "unit": "mmol/L"}]}`,
				base.Add(time.Duration(i)*time.Second).UnixMilli(), i)
			d := ingest.Delivery{Topic: "devices/dev-1/telemetry", Payload: []byte(payload), Received: time.Now(),
				Ack: func() { acked.Add(1) }}
			if err := p.Submit(ctx, d); err != nil {
				return
			}
		}
	}()

	until := func(what string, ok func() bool) {
		t.Helper()
		stuck := time.After(time.Minute) // a guard against a stall, not a measure of speed
		for !ok() {
			select {
			case <-ran:
				t.Fatalf("pipeline stopped while waiting for %s", what)
			case <-stuck:
				t.Fatalf("ingest stalled waiting for %s: %d of %d messages acknowledged, %d batches spooled, SpoolReady: %v",
					what, acked.Load(), n, sp.Len(), p.SpoolReady(ctx))
			case <-time.After(time.Millisecond):
			}
		}
	}
	diskFull := func() float64 { return gathered(t, reg, "vitalwatch_ingest_spool_full_total", "reason", "disk_full") }
	until("the disk to fill and ingest to retry", func() bool { return diskFull() >= 5 })

	if err := p.SpoolReady(ctx); !errors.Is(err, spool.ErrNoSpace) {
		t.Errorf("SpoolReady with the spool's disk full = %v; want an error matching spool.ErrNoSpace", err)
	}
	if g := gathered(t, reg, "vitalwatch_ingest_spool_writable"); g != 0 {
		t.Errorf("vitalwatch_ingest_spool_writable = %v on a full disk; want 0", g)
	}
	if got := gathered(t, reg, "vitalwatch_ingest_spool_full_total", "reason", "limit"); got != 0 {
		t.Errorf(`spool_full_total{reason="limit"} = %v; the spool's limit was never reached`, got)
	}
	held := acked.Load()
	if held == 0 || held >= n {
		t.Fatalf("%d of %d messages acknowledged while InfluxDB is down and the disk full; want some, not all", held, n)
	}
	if got := int64(sp.Len()) * 10; got < held {
		t.Errorf("%d messages acknowledged, but the spool holds %d batches of 10", held, sp.Len())
	}

	influxDB.down.Store(false)
	until("every message to be submitted", func() bool {
		select {
		case <-submitted:
			return true
		default:
			return false
		}
	})
	until("every message to be acknowledged", func() bool { return acked.Load() == n })
	until("the spool to drain", func() bool { return sp.Len() == 0 })

	lines := influxDB.written()
	if len(lines) != n {
		t.Errorf("InfluxDB got %d lines; want %d, one per reading", len(lines), n)
	}
	for i, line := range lines {
		ms, err := strconv.ParseInt(line[strings.LastIndexByte(line, ' ')+1:], 10, 64) // written with ms precision
		if err != nil {
			t.Fatalf("line %d: %q: %v", i, line, err)
		}
		if want := base.Add(time.Duration(i) * time.Second); ms != want.UnixMilli() {
			t.Fatalf("line %d is the reading of %v; want %v (lost, repeated or out of order)",
				i, time.UnixMilli(ms).UTC(), want)
		}
	}
	if err := p.SpoolReady(ctx); err != nil {
		t.Errorf("SpoolReady after the replay = %v; want nil", err)
	}
	if g := gathered(t, reg, "vitalwatch_ingest_spool_writable"); g != 1 {
		t.Errorf("vitalwatch_ingest_spool_writable = %v after the replay; want 1", g)
	}
	// Each stretch of failures is logged when it starts and when it ends, not at every retry.
	started, ended := logs.count("spool's disk is full"), logs.count("spool takes batches again")
	if started == 0 || started != ended || float64(started) >= diskFull() {
		t.Errorf("logged the full disk %d times and its end %d times over %v failed attempts; want once each per episode",
			started, ended, diskFull())
	}
	if c := logs.count("spool consume failed"); c != 0 {
		t.Errorf("%d Consume failures logged; on a full disk Consume must not fail", c)
	}

	cancel()
	<-ran
}

// refusingInflux refuses, as InfluxDB refuses a point for its content, any write holding a line
// with "bad" in it, and keeps the other lines.
type refusingInflux struct{ switchedInflux }

func (w *refusingInflux) Write(ctx context.Context, lines []byte) error {
	if bytes.Contains(lines, []byte("bad")) {
		return &influx.RejectedError{Status: 400, Message: "field type conflict (test)"}
	}
	return w.switchedInflux.Write(ctx, lines)
}

// fullDeadLetters is a dead-letter store on a disk that is full while full is set.
type fullDeadLetters struct {
	full atomic.Bool
	keptDeadLetters
}

func (f *fullDeadLetters) AddDeadLetters(ctx context.Context, dls []deadletter.DeadLetter, keep int) error {
	if f.full.Load() {
		return fmt.Errorf("store dead letters: database or disk is full: %w", syscall.ENOSPC)
	}
	return f.keptDeadLetters.AddDeadLetters(ctx, dls, keep)
}

// TestReplayWaitsForDeadLetterSpace replays a spooled batch with a line InfluxDB refuses while
// the dead-letter store has no space for it: replay must wait (the line must not be dropped),
// say so once and in readiness, and go on once the store has room.
func TestReplayWaitsForDeadLetterSpace(t *testing.T) {
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	spooled := "glucose,device=d1 value=1 1000\nglucose,device=d1 value=bad 2000\nglucose,device=d1 value=3 3000\n"
	if err := sp.Append([]byte(spooled)); err != nil {
		t.Fatal(err)
	}

	influxDB := &refusingInflux{}
	dead := &fullDeadLetters{}
	dead.full.Store(true)
	reg := prometheus.NewRegistry()
	var logs lockedBuffer
	p := ingest.NewPipeline(ingest.Config{Workers: 1, RetryInterval: time.Millisecond, MaxRetryInterval: 5 * time.Millisecond},
		ingest.Deps{Points: influxDB, DeadLetters: dead, Spool: sp, Metrics: ingest.NewMetrics(reg),
			Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: time.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		p.Run(ctx)
	}()
	until := func(what string, ok func() bool) {
		t.Helper()
		stuck := time.After(time.Minute) // a guard against a stall, not a measure of speed
		for !ok() {
			select {
			case <-stuck:
				t.Fatalf("stalled waiting for %s; SpoolReady: %v", what, p.SpoolReady(ctx))
			case <-time.After(time.Millisecond):
			}
		}
	}

	until("storing dead letters to fail a few times", func() bool {
		return gathered(t, reg, "vitalwatch_ingest_dead_letter_errors_total") >= 5
	})
	if err := p.SpoolReady(ctx); err == nil || !strings.Contains(err.Error(), "dead letters cannot be stored") || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("SpoolReady while dead letters cannot be stored = %v; want it to say so, with the cause", err)
	}
	if n := sp.Len(); n != 1 {
		t.Errorf("spool holds %d batches while the refused line waits for its dead letter; want 1", n)
	}

	dead.full.Store(false)
	until("the spool to drain", func() bool { return sp.Len() == 0 })
	dead.mu.Lock()
	if len(dead.dls) != 1 || !strings.Contains(string(dead.dls[0].Payload), "value=bad") {
		t.Errorf("dead letters %+v; want the one refused line", dead.dls)
	}
	dead.mu.Unlock()
	if got := strings.Join(influxDB.written(), "\n"); got != "glucose,device=d1 value=1 1000\nglucose,device=d1 value=3 3000" {
		t.Errorf("InfluxDB got\n%s\nwant the two good lines", got)
	}
	if err := p.SpoolReady(ctx); err != nil {
		t.Errorf("SpoolReady after the replay = %v; want nil", err)
	}
	if failed, back := logs.count("storing dead letters failed"), logs.count("dead letters stored again"); failed != 1 || back != 1 {
		t.Errorf("logged the failure %d times and its end %d times; want once each", failed, back)
	}
	cancel()
	<-ran
}
