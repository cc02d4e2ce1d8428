package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/usage"
)

// maxBatchBytes bounds the line protocol of one batch, whatever the message count.
const maxBatchBytes = 4 << 20

// maxTrackedDevices bounds the per-worker sequence-number memory.
const maxTrackedDevices = 1 << 20

// worker owns one queue: it builds a batch from the deliveries and makes the batch durable;
// the pipeline's settler then records the batch's uses and dead letters and acknowledges it.
type worker struct {
	p    *Pipeline
	id   int
	in   chan Delivery
	free chan *settlement // settlements to hand batches to the settler in

	lines []byte
	acks  []func()
	dead  []deadletter.DeadLetter
	// spans records which lines came from which delivery, to find the culprit when InfluxDB
	// refuses a batch.
	spans []span
	// uses are the device uses of the batch's accepted telemetry (see uses.go).
	uses []usage.Use
	// seen are the batch's observations for the observer (see observe.go).
	seen    []alerts.Observation
	days    dayCache
	seq     map[string]int64
	counts  batchCounts
	started time.Time
}

type span struct {
	start, end int
	uses       [2]int // the delivery's uses: w.uses[uses[0]:uses[1]]
	seen       [2]int // the delivery's observations: w.seen[seen[0]:seen[1]]
	d          Delivery
	device     string
}

func newWorker(p *Pipeline, id int, in chan Delivery) *worker {
	return &worker{p: p, id: id, in: in, free: freeList(), seq: make(map[string]int64)}
}

func (w *worker) run(ctx context.Context) {
	// One timer serves both deadlines: the batch's age (FlushInterval since its first message)
	// and its idleness (Linger since its last).
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var due time.Time
	for {
		select {
		case d := <-w.in:
			w.add(d)
			if len(w.acks) >= w.p.cfg.BatchSize || len(w.lines) >= maxBatchBytes {
				timer.Stop()
				w.flush(ctx)
				continue
			}
			if len(w.acks) == 1 {
				due = w.started.Add(w.p.cfg.FlushInterval)
			}
			if len(w.in) == 0 {
				timer.Reset(min(w.p.cfg.Linger, time.Until(due)))
			}
		case <-timer.C:
			if len(w.in) > 0 && time.Now().Before(due) {
				continue // more arrived meanwhile: keep filling the batch
			}
			w.flush(ctx)
		case <-w.p.stopping:
			timer.Stop()
			for {
				select {
				case d := <-w.in:
					w.add(d)
					if len(w.acks) >= w.p.cfg.BatchSize || len(w.lines) >= maxBatchBytes {
						w.flush(ctx)
					}
				default:
					w.flush(ctx)
					return
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// add decodes one delivery into the batch.
func (w *worker) add(d Delivery) {
	if len(w.acks) == 0 {
		w.started = time.Now()
	}
	w.acks = append(w.acks, d.Ack)
	device, kind, err := parseTopic(w.p.cfg.TopicPrefix, d.Topic)
	if err != nil {
		w.reject(d, "", reading.Rejection{Index: reading.WholeMessage, Reason: reading.ReasonTopicMismatch, Detail: err.Error()})
		return
	}
	switch kind {
	case "telemetry":
		w.counts.telemetry++
	case "status":
		w.counts.status++
	}
	var dir *devices.Directory
	var dev *devices.Device
	var tags influx.Tags
	if w.p.directory != nil {
		dir = w.p.directory.Load()
		var ok bool
		dev, ok = dir.Device(device)
		switch {
		case !ok:
			w.reject(d, device, reading.Rejection{Index: reading.WholeMessage, Reason: reading.ReasonUnknownDevice,
				Detail: "device " + device + " is not registered"})
			return
		case dev.Status == devices.Retired:
			w.reject(d, device, reading.Rejection{Index: reading.WholeMessage, Reason: reading.ReasonUnknownDevice,
				Detail: "device " + device + " is retired"})
			return
		}
		tags = influx.Tags{DeviceType: string(dev.Kind), Site: dev.SiteID}
	}
	observe := dev != nil && w.p.observer != nil
	start, firstUse := len(w.lines), len(w.uses)
	firstSeen := len(w.seen)
	switch kind {
	case "telemetry":
		m, rejs := reading.Decode(device, d.Payload, d.Received)
		for _, r := range rejs {
			w.reject(d, device, r)
			if observe && (r.Reason == reading.ReasonImplausible || r.Reason == reading.ReasonFutureTimestamp) {
				w.seen = append(w.seen, alerts.Observation{Device: dev, Rejected: r.Reason, Received: d.Received})
			}
		}
		firstSeen = len(w.seen) // a refused batch keeps the observations of what was refused
		if len(m.Readings) == 0 {
			return
		}
		switch {
		case dev == nil:
			w.lines = influx.AppendMessage(w.lines, &m, tags)
		case dev.Mode == devices.StationMode:
			// A shared station's reading names its resident, who must be registered. A call for
			// help does not wait for that: a fall or SOS from a station that names no
			// registered resident is kept without a patient and raised to the station's site.
			if m.Patient == "" || !dir.HasPatient(m.Patient) {
				calls := keepEvents(m.Readings)
				detail := "a station device's message must name a registered patient"
				if len(calls) > 0 {
					detail += fmt.Sprintf("; its %d fall or SOS events were kept and raised to the site, its %d other readings were not stored",
						len(calls), len(m.Readings)-len(calls))
				}
				w.reject(d, device, reading.Rejection{Index: reading.WholeMessage, Reason: reading.ReasonUnknownPatient, Detail: detail})
				if len(calls) == 0 {
					return
				}
				m.Readings, m.Patient = calls, ""
			}
			tags.Patient = m.Patient
			w.lines = influx.AppendMessage(w.lines, &m, tags)
		default:
			w.lines = appendHome(w.lines, dir, &m, tags)
		}
		if st, ok := influx.StatusOfMessage(&m); ok {
			w.lines = influx.AppendStatus(w.lines, &st, tags)
		}
		if dev != nil && w.p.uses != nil {
			// The registry's copy of the id, not the topic's: all uses of a device then share
			// one string, so the store's set of keys finds the device by comparing pointers,
			// and keeps no topic alive.
			w.addUses(dev.ID, dev.SiteID, dir.Location(dev.SiteID), m.Readings)
		}
		if observe {
			w.observeTelemetry(dev, dir, &m, d.Received)
		}
		for i := range m.Readings {
			w.counts.readings[typeIndex(m.Readings[i].Type)]++
		}
		if m.TimeMissing {
			w.counts.missingTime++
		}
		if m.HasSeq {
			w.trackSeq(device, m.Seq)
		}
	case "status":
		s, rejs := reading.DecodeStatus(device, d.Payload, d.Received)
		for _, r := range rejs {
			w.reject(d, device, r)
		}
		if len(rejs) == 0 {
			w.lines = influx.AppendStatus(w.lines, &s, tags)
			if observe {
				w.seen = append(w.seen, alerts.Observation{Device: dev, Status: &s, Received: d.Received})
			}
		}
	default:
		w.reject(d, device, reading.Rejection{Index: reading.WholeMessage, Reason: reading.ReasonTopicMismatch,
			Detail: "topic kind " + kind + " is neither telemetry nor status"})
		return
	}
	if len(w.lines) > start {
		w.spans = append(w.spans, span{start: start, end: len(w.lines), uses: [2]int{firstUse, len(w.uses)},
			seen: [2]int{firstSeen, len(w.seen)}, d: d, device: device})
	}
}

func (w *worker) reject(d Delivery, device string, r reading.Rejection) {
	w.counts.dead[reasonIndex(string(r.Reason))]++
	w.dead = append(w.dead, deadletter.DeadLetter{
		Received: d.Received, Device: device, Topic: clipString(d.Topic, 256),
		Reason: string(r.Reason), Detail: r.Detail, Index: r.Index,
		Payload: deadletter.Clip(d.Payload), PayloadSize: len(d.Payload),
	})
}

// keepEvents returns the events of rs (fall, SOS and a fall's cancel): the calls for help in a message
// whose other readings cannot be credited to anyone.
func keepEvents(rs []reading.Reading) []reading.Reading {
	kept := rs[:0:0]
	for _, r := range rs {
		if r.Type.IsEvent() {
			kept = append(kept, r)
		}
	}
	return kept
}

// trackSeq counts gaps and repeats in a device's sequence numbers.
func (w *worker) trackSeq(device string, seq int64) {
	last, seen := w.seq[device]
	switch {
	case !seen:
	case seq == last+1:
	case seq > last+1:
		w.counts.seqGaps += seq - last - 1
	default:
		w.counts.seqRepeats++ // a redelivery or a device restart
	}
	if !seen && len(w.seq) >= maxTrackedDevices {
		clear(w.seq)
	}
	if !seen || seq > last {
		w.seq[device] = seq
	}
}

// flush makes the batch durable, shows it to the observer, and hands the rest to the settler,
// which acknowledges it once its uses and dead letters are stored. If ctx ends first, nothing
// is acknowledged and the broker will deliver the batch again. While settleDepth batches wait
// for the settler, flush waits too, and so the broker.
//
// The observer (the alert engine) sees the batch here rather than in the settler, so that an
// alert waits for its own batch's write only, not for the batches queued before it to settle.
func (w *worker) flush(ctx context.Context) {
	if len(w.acks) == 0 {
		return
	}
	defer w.reset()
	if len(w.lines) > 0 && !w.p.store(ctx, w.lines, w.rejectSpans) {
		return
	}
	if len(w.seen) > 0 && !w.p.observe(ctx, w.seen) {
		return
	}
	var st *settlement
	select {
	case st = <-w.free:
	case <-ctx.Done():
		return
	}
	// The settlement takes the batch's slices and leaves its own, empty, to the worker.
	st.uses, w.uses = w.uses, st.uses
	st.dead, w.dead = w.dead, st.dead
	st.acks, w.acks = w.acks, st.acks
	st.counts, st.started = w.counts, w.started
	w.p.settler.in <- st
}

// appendHome encodes a home device's readings, each credited to the patient the device was
// assigned to at the reading's measurement time: a cuff lent to someone else since then never
// writes to its previous owner, and a backlog uploaded after a swap lands on the right person.
// The payload's patient is not trusted for home devices; the registry decides.
func appendHome(dst []byte, dir *devices.Directory, m *reading.Message, tags influx.Tags) []byte {
	all := m.Readings
	defer func() { m.Readings = all }()
	m.Patient = ""
	for start := 0; start < len(all); {
		patient := dir.PatientAt(m.Device, all[start].Time)
		end := start + 1
		for end < len(all) && dir.PatientAt(m.Device, all[end].Time) == patient {
			end++
		}
		m.Readings = all[start:end]
		tags.Patient = patient
		dst = influx.AppendMessage(dst, m, tags)
		start = end
	}
	return dst
}

// rejectSpans finds which deliveries of a refused batch InfluxDB will not take, by writing
// them one by one, and dead-letters those. The batch's uses become those whose points were
// stored.
func (w *worker) rejectSpans(ctx context.Context, refused error) error {
	var kept []usage.Use
	var unseen [][2]int // observations of refused deliveries
	for _, s := range w.spans {
		err := w.p.writeOnce(ctx, w.lines[s.start:s.end])
		var rej *influx.RejectedError
		switch {
		case err == nil:
			kept = append(kept, w.uses[s.uses[0]:s.uses[1]]...)
		case errors.As(err, &rej):
			w.reject(s.d, s.device, reading.Rejection{Index: reading.WholeMessage,
				Reason: deadletter.ReasonWriteRejected, Detail: rej.Error()})
			unseen = append(unseen, s.seen)
			if s.uses[1] > s.uses[0] {
				stored, err := w.storedUses(ctx, s)
				if err != nil {
					return err
				}
				kept = append(kept, stored...)
			}
		default:
			return err
		}
	}
	w.uses = append(w.uses[:0], kept...)
	// A refused delivery's points are not stored (or only in part): nothing to alert on.
	for i := len(unseen) - 1; i >= 0; i-- {
		w.seen = append(w.seen[:unseen[i][0]], w.seen[unseen[i][1]:]...)
	}
	return nil
}

func (w *worker) reset() {
	w.lines = w.lines[:0]
	if cap(w.lines) > 4*maxBatchBytes {
		w.lines = nil // let a one-off huge batch's buffer go
	}
	clear(w.acks)
	w.acks = w.acks[:0]
	clear(w.dead)
	w.dead = w.dead[:0]
	clear(w.spans)
	w.spans = w.spans[:0]
	clear(w.uses)
	w.uses = w.uses[:0]
	clear(w.seen)
	w.seen = w.seen[:0]
	w.counts = batchCounts{}
}

// store makes lines durable: in InfluxDB when it takes them, else in the spool. While the
// spool holds anything, new batches join it, so that InfluxDB gets them in order and a down
// InfluxDB costs one timeout, not one per batch. When InfluxDB refuses the batch's content,
// onRejected sorts out what to dead-letter. It returns false only when ctx ended first.
func (p *Pipeline) store(ctx context.Context, lines []byte, onRejected func(context.Context, error) error) bool {
	backoff := p.cfg.RetryInterval
	for {
		if p.spool.Len() == 0 {
			err := p.writeOnce(ctx, lines)
			var rej *influx.RejectedError
			switch {
			case err == nil:
				return true
			case errors.As(err, &rej):
				// InfluxDB's message quotes the refused line, patient tag and value included:
				// only its status above debug.
				p.log.Warn("influx refused points; finding them", "status", rej.Status)
				p.log.Debug("influx refused points", "err", err)
				if err = onRejected(ctx, err); err == nil {
					return true
				}
			}
			if ctx.Err() != nil {
				return false
			}
			p.metrics.writeErrors.Inc()
			p.log.Warn("influx write failed; spooling", "err", err, "bytes", len(lines))
		}
		err := p.spool.Append(lines)
		if err == nil {
			p.metrics.spooledBatches.Inc()
			if ended := p.metrics.spool.ok(&p.metrics.spool.append); ended.kind != "" {
				p.log.Info("spool takes batches again", "after", ended.err, "failed_attempts", ended.tries,
					"for", p.now().Sub(ended.since).Round(time.Millisecond))
			}
			select {
			case p.spooled <- struct{}{}:
			default:
			}
			return true
		}
		// The batch waits unacknowledged, and the broker with it, until the spool or InfluxDB
		// takes it. Said once per stretch of such failures, not for every batch and retry.
		kind := spoolErrorKind(err)
		if kind != "error" {
			p.metrics.spoolFull.WithLabelValues(kind).Inc()
		}
		if p.metrics.spool.fail(&p.metrics.spool.append, kind, err, p.now()) {
			switch kind {
			case spoolFullLimit:
				p.log.Warn("spool full (ingest.spool_max_bytes); holding the broker back until InfluxDB takes the backlog", "err", err)
			case spoolFullDisk:
				p.log.Error("spool's disk is full; holding the broker back until replay or an operator frees space", "err", err)
			default:
				p.log.Error("spool append failed; holding the broker back", "err", err)
			}
		}
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, p.cfg.MaxRetryInterval)
	}
}

func (p *Pipeline) writeOnce(ctx context.Context, lines []byte) error {
	wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	defer cancel()
	start := time.Now()
	err := p.points.Write(wctx, lines)
	p.metrics.writeSeconds.Observe(time.Since(start).Seconds())
	return err
}

// addDeadLetters stores dead letters, retrying until it works or ctx ends. A failure is logged
// when it starts and when it ends, not at every retry.
func (p *Pipeline) addDeadLetters(ctx context.Context, dls []deadletter.DeadLetter) bool {
	backoff := p.cfg.RetryInterval
	h := &p.metrics.spool
	for {
		err := p.dead.AddDeadLetters(ctx, dls, p.cfg.DeadLetterKeep)
		if err == nil {
			if ended := h.ok(&h.dead); ended.kind != "" {
				p.log.Info("dead letters stored again", "after", ended.err, "failed_attempts", ended.tries)
			}
			return true
		}
		p.metrics.deadLetterErrors.Inc()
		if ctx.Err() != nil {
			return false
		}
		if h.fail(&h.dead, "error", err, p.now()) {
			p.log.Error("storing dead letters failed; retrying", "err", err, "count", len(dls))
		}
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, p.cfg.MaxRetryInterval)
	}
}

// drain replays the spool into InfluxDB, oldest first, until ctx ends. The spool frees space as
// it is consumed, and consuming needs none, so replay goes on when the disk is full.
func (p *Pipeline) drain(ctx context.Context) {
	backoff := p.cfg.RetryInterval
	h := &p.metrics.spool
	for {
		rec, ok, err := p.spool.Peek()
		if err != nil {
			if h.fail(&h.replay, "unreadable", err, p.now()) {
				p.log.Error("spool unreadable; replay halted until restart or repair", "err", err)
			}
			if !sleep(ctx, p.cfg.MaxRetryInterval) {
				return
			}
			continue
		}
		if !ok {
			select {
			case <-p.spooled:
			case <-ctx.Done():
				return
			}
			continue
		}
		err = p.writeOnce(ctx, rec)
		var rej *influx.RejectedError
		if errors.As(err, &rej) {
			err = p.rejectSpooledLines(ctx, rec)
		}
		if err != nil {
			p.metrics.writeErrors.Inc()
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, p.cfg.MaxRetryInterval)
			continue
		}
		backoff = p.cfg.RetryInterval
		if !p.consumeSpooled(ctx) {
			return
		}
		p.metrics.replayedBatches.Inc()
	}
}

// consumeSpooled removes the replayed record from the spool, retrying with backoff until it
// works or ctx ends. Only Consume is retried: the record is in InfluxDB already.
func (p *Pipeline) consumeSpooled(ctx context.Context) bool {
	backoff := p.cfg.RetryInterval
	h := &p.metrics.spool
	for {
		err := p.spool.Consume()
		if err == nil {
			if ended := h.ok(&h.replay); ended.kind != "" {
				p.log.Info("spool replay resumed", "after", ended.err, "failed_attempts", ended.tries,
					"for", p.now().Sub(ended.since).Round(time.Millisecond))
			}
			return true
		}
		if h.fail(&h.replay, "consume", err, p.now()) {
			p.log.Error("spool consume failed; replay waits", "err", err)
		}
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, p.cfg.MaxRetryInterval)
	}
}

// SpoolReady reports, for /readyz, whether the spool can take batches and its replay is moving:
// nil, or what stops it, such as the spool's limit (ingest.spool_max_bytes), a full disk, a failed
// spool file, an unreadable record, or dead letters of a replayed batch that cannot be stored.
// The signature is that of a readiness check.
func (p *Pipeline) SpoolReady(context.Context) error {
	var errs []error
	if w, ok := p.spool.(writableSpool); ok {
		if err := w.Writable(); err != nil {
			errs = append(errs, fmt.Errorf("spool cannot take batches: %w", err))
		}
	}
	h := &p.metrics.spool
	if err := h.current(&h.replay); err != nil {
		errs = append(errs, fmt.Errorf("spool replay halted: %w", err))
	}
	if err := h.current(&h.dead); err != nil {
		errs = append(errs, fmt.Errorf("dead letters cannot be stored, so replay and acknowledgements wait: %w", err))
	}
	return errors.Join(errs...)
}

// rejectSpooledLines writes a refused spool record line by line and dead-letters the lines
// InfluxDB will not take. Their original messages were acknowledged long ago; the line itself
// is what is left of them.
func (p *Pipeline) rejectSpooledLines(ctx context.Context, rec []byte) error {
	var dead []deadletter.DeadLetter
	for line := range bytes.Lines(rec) {
		err := p.writeOnce(ctx, line)
		var rej *influx.RejectedError
		switch {
		case err == nil:
		case errors.As(err, &rej):
			dead = append(dead, deadletter.DeadLetter{Received: p.now(), Reason: deadletter.ReasonWriteRejected,
				Detail: rej.Error(), Index: reading.WholeMessage, Payload: deadletter.Clip(line), PayloadSize: len(line)})
		default:
			return err
		}
	}
	if len(dead) > 0 && !p.addDeadLetters(ctx, dead) {
		return ctx.Err()
	}
	p.metrics.deadLetters.WithLabelValues(deadletter.ReasonWriteRejected).Add(float64(len(dead)))
	return nil
}

// sleep waits d or until ctx ends; it reports whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func clipString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
