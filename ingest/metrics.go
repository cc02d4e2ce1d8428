package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/deadletter"
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
	spoolFull        prometheus.Counter
	uses             prometheus.Counter
	usageErrors      prometheus.Counter
	reg              prometheus.Registerer
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
		spoolFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_ingest_spool_full_total", Help: "Times a batch found the spool full and waited (the broker holds the messages)."}),
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
	return m
}

// observeSpool exposes the spool's backlog as gauges.
func (m *Metrics) observeSpool(s Spool) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwatch_ingest_spool_bytes",
			Help: "Bytes waiting in the local spool for InfluxDB."}, func() float64 { return float64(s.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwatch_ingest_spool_batches",
			Help: "Batches waiting in the local spool for InfluxDB."}, func() float64 { return float64(s.Len()) }),
	)
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
