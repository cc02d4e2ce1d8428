package ingest

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/ingest/spool"
	"github.com/vitalwatch/vitalwatch/reading"
)

// deadReasons are the dead-letter reasons, indexed for per-batch counting.
var deadReasons = func() []string {
	var rs []string
	for _, r := range reading.Reasons {
		rs = append(rs, string(r))
	}
	return append(rs, deadletter.ReasonWriteRejected)
}()

func reasonIndex(r string) int {
	for i, x := range deadReasons {
		if x == r {
			return i
		}
	}
	panic("ingest: dead-letter reason " + r + " missing from deadReasons")
}

func typeIndex(t reading.Type) int {
	for i, x := range reading.Types {
		if x == t {
			return i
		}
	}
	panic("ingest: reading type " + string(t) + " missing from reading.Types")
}

// batchCounts are counted while a batch is built and added to the metrics once it is durable,
// so the per-message path touches no shared counters.
type batchCounts struct {
	telemetry, status int
	readings          [16]int
	dead              [16]int
	missingTime       int
	seqGaps           int64
	seqRepeats        int
	uses              int
}

// Metrics are the ingest pipeline's Prometheus metrics.
type Metrics struct {
	messages         *prometheus.CounterVec
	readings         *prometheus.CounterVec
	deadLetters      *prometheus.CounterVec
	acked            prometheus.Counter
	missingTime      prometheus.Counter
	seqGaps          prometheus.Counter
	seqRepeats       prometheus.Counter
	batchSeconds     prometheus.Histogram
	writeSeconds     prometheus.Histogram
	writeErrors      prometheus.Counter
	deadLetterErrors prometheus.Counter
	spooledBatches   prometheus.Counter
	replayedBatches  prometheus.Counter
	spoolFull        *prometheus.CounterVec
	uses             prometheus.Counter
	usageErrors      prometheus.Counter
	reg              prometheus.Registerer

	// spool follows what holds the spool up, for logs and readiness.
	spool spoolHealth
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_messages_total", Help: "Device messages acknowledged, by kind (telemetry, status)."}, []string{"kind"}),
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_readings_total", Help: "Readings accepted and stored, by type."}, []string{"type"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_dead_letters_total", Help: "Rejected messages and readings, by reason."}, []string{"reason"}),
		acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_acked_total", Help: "Messages acknowledged to the broker after they were durable."}),
		missingTime: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_missing_timestamp_total", Help: "Telemetry messages without ts, stored at their receive time."}),
		seqGaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_seq_gaps_total", Help: "Sequence numbers skipped by devices (messages a device says it sent that never arrived)."}),
		seqRepeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_seq_repeats_total", Help: "Messages whose sequence number was not above the device's last (redeliveries, device restarts)."}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vitalwatch_ingest_batch_seconds", Help: "Time from a batch's first message to its acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vitalwatch_ingest_influx_write_seconds", Help: "Duration of one InfluxDB write.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_influx_write_errors_total", Help: "InfluxDB writes that failed and will be retried."}),
		deadLetterErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_dead_letter_errors_total", Help: "Failed attempts to store dead letters (retried)."}),
		spooledBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_spooled_batches_total", Help: "Batches written to the local spool because InfluxDB could not take them."}),
		replayedBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_replayed_batches_total", Help: "Spooled batches replayed into InfluxDB."}),
		spoolFull: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_spool_full_total", Help: "Times a batch found the spool full and waited (the broker holds the messages), by reason: " +
				spoolFullLimit + " (ingest.spool_max_bytes reached) or " + spoolFullDisk + " (no space left on the spool's file system)."}, []string{"reason"}),
		uses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_uses_total", Help: "Device uses recorded for acknowledged messages (one per device and measurement time in a message; the store counts repeats once)."}),
		usageErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_usage_errors_total", Help: "Failed attempts to record device uses (retried; the batch waits)."}),
		reg: reg,
	}
	reg.MustRegister(m.messages, m.readings, m.deadLetters, m.acked, m.missingTime, m.seqGaps,
		m.seqRepeats, m.batchSeconds, m.writeSeconds, m.writeErrors, m.deadLetterErrors,
		m.spooledBatches, m.replayedBatches, m.spoolFull, m.uses, m.usageErrors)
	// Make every label value visible at zero, so dashboards and alerts see the series.
	for _, t := range reading.Types {
		m.readings.WithLabelValues(string(t))
	}
	for _, r := range deadReasons {
		m.deadLetters.WithLabelValues(r)
	}
	m.messages.WithLabelValues("telemetry")
	m.messages.WithLabelValues("status")
	m.spoolFull.WithLabelValues(spoolFullLimit)
	m.spoolFull.WithLabelValues(spoolFullDisk)
	return m
}

// The reasons of vitalwatch_ingest_spool_full_total.
const (
	spoolFullLimit = "limit"
	spoolFullDisk  = "disk_full"
)

// observeSpool exposes the spool's backlog, and whether it can take batches, as gauges.
func (m *Metrics) observeSpool(s Spool) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwatch_ingest_spool_bytes",
			Help: "Bytes waiting in the local spool for InfluxDB."}, func() float64 { return float64(s.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwatch_ingest_spool_batches",
			Help: "Batches waiting in the local spool for InfluxDB."}, func() float64 { return float64(s.Len()) }),
	)
	if w, ok := s.(writableSpool); ok {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwatch_ingest_spool_writable",
			Help: "1 if the local spool can take batches, 0 if the last attempt failed and its cause holds (the spool's limit, a full disk, a failed file; /readyz says which)."},
			func() float64 {
				if w.Writable() != nil {
					return 0
				}
				return 1
			}))
	}
}

func (m *Metrics) batch(c *batchCounts, acked int, took time.Duration) {
	m.acked.Add(float64(acked))
	m.messages.WithLabelValues("telemetry").Add(float64(c.telemetry))
	m.messages.WithLabelValues("status").Add(float64(c.status))
	for i, n := range c.readings[:len(reading.Types)] {
		if n > 0 {
			m.readings.WithLabelValues(string(reading.Types[i])).Add(float64(n))
		}
	}
	for i, n := range c.dead[:len(deadReasons)] {
		if n > 0 {
			m.deadLetters.WithLabelValues(deadReasons[i]).Add(float64(n))
		}
	}
	m.missingTime.Add(float64(c.missingTime))
	m.seqGaps.Add(float64(c.seqGaps))
	m.seqRepeats.Add(float64(c.seqRepeats))
	m.uses.Add(float64(c.uses))
	m.batchSeconds.Observe(took.Seconds())
}

// writableSpool is a Spool that can say whether it takes records now (spool.Spool does).
type writableSpool interface {
	Writable() error
}

// spoolHealth follows the spool's troubles, so that each is logged once when it starts and
// once when it ends rather than at every retry, and readiness can say what holds replay up.
type spoolHealth struct {
	mu     sync.Mutex
	append episode // batches cannot be spooled
	replay episode // spooled batches cannot be replayed
	dead   episode // dead letters cannot be stored
}

// episode is one stretch of failures of the same kind.
type episode struct {
	kind  string // empty when there is none
	err   error  // the latest
	since time.Time
	tries int
}

// fail records a failure of the given kind and reports whether it starts an episode: the
// first failure, or one of another kind than the one before.
func (h *spoolHealth) fail(e *episode, kind string, err error, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.err = err
	if e.kind == kind {
		e.tries++
		return false
	}
	e.kind, e.since, e.tries = kind, now, 1
	return true
}

// ok records a success and returns the episode it ends, if any (kind is empty if none).
func (h *spoolHealth) ok(e *episode) episode {
	h.mu.Lock()
	defer h.mu.Unlock()
	ended := *e
	*e = episode{}
	return ended
}

// current returns the latest error of an episode in progress, or nil.
func (h *spoolHealth) current(e *episode) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.kind == "" {
		return nil
	}
	return e.err
}

// spoolErrorKind names err's kind for spoolHealth and the reason label of spool_full_total: a
// full spool, a full disk, or any other failure.
func spoolErrorKind(err error) string {
	switch {
	case errors.Is(err, spool.ErrFull):
		return spoolFullLimit
	case errors.Is(err, spool.ErrNoSpace):
		return spoolFullDisk
	}
	return "error"
}
