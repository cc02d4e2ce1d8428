// Package ingest takes device messages from MQTT and makes them durable: decoded readings go
// to InfluxDB (or, while InfluxDB cannot take them, to an on-disk spool that is replayed later)
// and rejected input goes to the dead letters. With the registry, each accepted reading also
// counts as a use of its device (package usage). A message is acknowledged to the broker only
// after everything it carried is durable, so a crash at any point loses nothing: the broker
// redelivers what was not acknowledged, a redelivered reading overwrites its own point, and its
// use, recorded already, counts nothing more.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/internal/graceful"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/usage"
)

// Delivery is one message from the broker. Ack tells the broker it need not deliver it again;
// the pipeline calls it once the message is durable.
type Delivery struct {
	Topic    string
	Payload  []byte
	Received time.Time
	Ack      func()
}

// PointWriter stores a batch of line protocol. An error wrapping *influx.RejectedError (a
// batch refused for its content) is not retried; any other error is.
type PointWriter interface {
	Write(ctx context.Context, lines []byte) error
}

// DeadLetterStore keeps rejected input, pruning the oldest beyond keep.
type DeadLetterStore interface {
	AddDeadLetters(ctx context.Context, dls []deadletter.DeadLetter, keep int) error
}

// UseRecorder counts device uses (see package usage). Record returns once the uses are
// committed; recording a use again must not count it again.
type UseRecorder interface {
	Record(ctx context.Context, uses []usage.Use) error
}

// Spool is a durable FIFO of line-protocol batches (see package spool).
type Spool interface {
	Append(rec []byte) error
	Peek() ([]byte, bool, error)
	Consume() error
	Len() int
	Bytes() int64
}

// Config tunes the pipeline. Zero values take the defaults of DefaultConfig.
type Config struct {
	// TopicPrefix is the first topic level of device topics ("devices").
	TopicPrefix string
	// Workers decode and write in parallel; each device's messages always go to the same
	// worker, so they are handled in the order they arrived.
	Workers int
	// QueueSize bounds the messages waiting for each worker; when full, the broker is made to wait.
	QueueSize int
	// BatchSize and FlushInterval bound a batch: it is written when it holds BatchSize
	// messages or FlushInterval after its first message, whichever comes first.
	BatchSize     int
	FlushInterval time.Duration
	// Linger is how long a batch waits for the next message before it is written anyway. A
	// broker lets only so many messages be unacknowledged at once (Mosquitto: 20 by default),
	// and they are acknowledged when their batch is written: when the queue runs dry, waiting
	// longer gains nothing.
	Linger time.Duration
	// WriteTimeout bounds one write to InfluxDB before the batch goes to the spool.
	WriteTimeout time.Duration
	// RetryInterval is the first wait before retrying InfluxDB or a full spool; it doubles up
	// to MaxRetryInterval.
	RetryInterval    time.Duration
	MaxRetryInterval time.Duration
	// DeadLetterKeep bounds the stored dead letters (oldest pruned); 0 keeps all.
	DeadLetterKeep int
}

// DefaultConfig returns the settings used when a field is left zero.
func DefaultConfig() Config {
	return Config{
		TopicPrefix:      "devices",
		Workers:          2,
		QueueSize:        4096,
		BatchSize:        2000,
		FlushInterval:    50 * time.Millisecond,
		Linger:           2 * time.Millisecond,
		WriteTimeout:     10 * time.Second,
		RetryInterval:    500 * time.Millisecond,
		MaxRetryInterval: 15 * time.Second,
		DeadLetterKeep:   100000,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.TopicPrefix == "" {
		c.TopicPrefix = d.TopicPrefix
	}
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.QueueSize <= 0 {
		c.QueueSize = d.QueueSize
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = d.FlushInterval
	}
	if c.Linger <= 0 || c.Linger > c.FlushInterval {
		c.Linger = min(d.Linger, c.FlushInterval)
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = d.RetryInterval
	}
	if c.MaxRetryInterval < c.RetryInterval {
		c.MaxRetryInterval = max(d.MaxRetryInterval, c.RetryInterval)
	}
	if c.DeadLetterKeep < 0 {
		c.DeadLetterKeep = 0
	}
	return c
}

// Deps are what the pipeline writes to and consults.
type Deps struct {
	Points      PointWriter
	DeadLetters DeadLetterStore
	Spool       Spool
	// Directory is the registry view. With it, messages from unregistered or retired devices
	// are dead-lettered and points get the device's type, site and patient; without it (nil)
	// every device id is accepted and the patient is the payload's.
	Directory *devices.View
	// Uses, with a Directory, counts a use of a registered device for each distinct measurement
	// time of each accepted telemetry message, once the message's points are durable and before
	// it is acknowledged. Nil: no counting.
	Uses UseRecorder
	// Observer, with a Directory, sees what was taken from registered devices, after it is
	// durable and before it is acknowledged (see Observer). Nil: nobody.
	Observer Observer
	// Status, with a Directory, follows the registered devices' live state: it is told what
	// each message of a batch showed of its device once the batch is durable and before it
	// is acknowledged (see StatusTracker). Nil: nobody.
	Status  StatusTracker
	Metrics *Metrics
	Log     *slog.Logger
	// Now is the clock (time.Now outside tests).
	Now func() time.Time
}

// Pipeline decodes deliveries, stores them and acknowledges them. Create it with NewPipeline,
// run it with Run until its context ends, feed it with Submit.
type Pipeline struct {
	cfg       Config
	points    PointWriter
	dead      DeadLetterStore
	spool     Spool
	directory *devices.View
	uses      UseRecorder   // nil without a directory
	observer  Observer      // nil without a directory
	status    StatusTracker // nil without a directory
	log       *slog.Logger
	metrics   *Metrics
	now       func() time.Time

	queues   []chan Delivery
	settler  *settler
	seed     maphash.Seed
	stopping chan struct{}
	stopOnce sync.Once
	// stopLimit bounds Run's flush once its context has ended: the constant, shorter in tests.
	stopLimit time.Duration
	spooled   chan struct{} // wakes the drainer
}

// NewPipeline returns a pipeline configured by cfg, writing to and consulting deps.
func NewPipeline(cfg Config, deps Deps) *Pipeline {
	cfg = cfg.withDefaults()
	p := &Pipeline{
		cfg: cfg, points: deps.Points, dead: deps.DeadLetters, spool: deps.Spool, directory: deps.Directory,
		metrics: deps.Metrics, log: deps.Log.With("component", "ingest"), now: deps.Now,
		seed: maphash.MakeSeed(), stopping: make(chan struct{}), spooled: make(chan struct{}, 1), stopLimit: stopLimit,
	}
	if deps.Directory != nil {
		p.uses = deps.Uses
		p.observer = deps.Observer
		p.status = deps.Status
	}
	for range cfg.Workers {
		p.queues = append(p.queues, make(chan Delivery, cfg.QueueSize))
	}
	p.settler = newSettler(p, cfg.Workers)
	p.metrics.observeSpool(p.spool)
	return p
}

// Submit hands a delivery to the worker of its device. It blocks while that worker's queue is
// full (which holds the broker back) and returns an error, without acknowledging, once the
// pipeline is stopping or ctx is done; the broker then delivers the message again later.
func (p *Pipeline) Submit(ctx context.Context, d Delivery) error {
	q := p.queues[maphash.String(p.seed, deviceOfTopic(d.Topic))%uint64(len(p.queues))]
	select {
	case <-p.stopping:
		return errStopping
	default:
	}
	select {
	case q <- d: // room in the queue, as there is unless its worker falls behind
		return nil
	default:
	}
	select {
	case q <- d:
		return nil
	case <-p.stopping:
		return errStopping
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errStopping = errors.New("ingest: pipeline is stopping")

// stop makes the pipeline take no more deliveries; Run then writes and acknowledges what it
// holds and returns.
func (p *Pipeline) stop() { p.stopOnce.Do(func() { close(p.stopping) }) }

// stopLimit bounds how long Run, once its context has ended, takes to write and acknowledge
// what it holds.
const stopLimit = 30 * time.Second

// Run processes deliveries until ctx ends. Then it takes no more, writes and acknowledges what
// it holds, and returns nil. If that takes longer than 30 s (InfluxDB and the spool both
// failing), it gives up: what is not yet durable stays unacknowledged, for the broker to
// deliver again, and Run says so in its error.
func (p *Pipeline) Run(ctx context.Context) error {
	if graceful.Run(ctx, nil, p.stopLimit, p.stop, p.run) {
		return fmt.Errorf("ingest: did not flush in %v; what was not yet durable stays unacknowledged, for the broker to deliver again", p.stopLimit)
	}
	return nil
}

// run processes deliveries until stop, then writes and acknowledges what it holds; work ends
// only when Run gives up waiting.
func (p *Pipeline) run(work context.Context) {
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		p.settler.run(work)
	}()
	var wg sync.WaitGroup
	for i, q := range p.queues {
		w := newWorker(p, i, q)
		wg.Go(func() { w.run(work) })
	}
	drainCtx, stopDrain := context.WithCancel(work)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		p.drain(drainCtx)
	}()
	wg.Wait()
	close(p.settler.in)
	<-settled
	stopDrain()
	<-drained
}

// deviceOfTopic returns the device level of "prefix/{device}/kind", or the whole topic when it
// has another shape (it is then dead-lettered by the worker).
func deviceOfTopic(topic string) string {
	_, rest, ok := strings.Cut(topic, "/")
	if !ok {
		return topic
	}
	dev, _, ok := strings.Cut(rest, "/")
	if !ok {
		return topic
	}
	return dev
}

// parseTopic splits "prefix/{device}/{kind}".
func parseTopic(prefix, topic string) (device, kind string, err error) {
	rest, ok := strings.CutPrefix(topic, prefix+"/")
	if !ok {
		return "", "", fmt.Errorf("topic %q is not under %q", topic, prefix+"/")
	}
	device, kind, ok = strings.Cut(rest, "/")
	if !ok || strings.Contains(kind, "/") {
		return "", "", fmt.Errorf("topic %q is not %s/{device}/{telemetry|status}", topic, prefix)
	}
	if !reading.ValidID(device) {
		return "", "", fmt.Errorf("device id in topic %q is not 1-64 characters of A-Z a-z 0-9 . _ : -", topic)
	}
	return device, kind, nil
}
