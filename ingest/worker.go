package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
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
	seen []alerts.Observation
	// track is what the batch's messages showed of their devices, for the status tracker;
	// note is the delivery's being taken (see track.go).
	track   []status.Message
	note    status.Message
	days    dayCache
	seq     map[string]int64
	counts  batchCounts
	started time.Time
}

type span struct {
	start, end int
	uses       [2]int // the delivery's uses: w.uses[uses[0]:uses[1]]
	seen       [2]int // the delivery's observations: w.seen[seen[0]:seen[1]]
	track      int    // what it showed of its device: w.track[track], or -1
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
			w.fill(ctx, d, &due, timer)
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

// fill adds d to the batch, and the deliveries queued behind it, until the queue is empty or
// the batch is full or FlushInterval old (then it is written); it sets the timer for the
// batch's next deadline. Taking what is queued with one receive each, rather than through
// run's select of four channels, spares a busy worker most of its hand-off cost.
func (w *worker) fill(ctx context.Context, d Delivery, due *time.Time, timer *time.Timer) {
	for {
		w.add(d)
		if len(w.acks) == 1 {
			*due = w.started.Add(w.p.cfg.FlushInterval)
		}
		if len(w.acks) >= w.p.cfg.BatchSize || len(w.lines) >= maxBatchBytes {
			timer.Stop()
			w.flush(ctx)
			return
		}
		select {
		case d = <-w.in:
			if time.Now().Before(*due) {
				continue
			}
			w.add(d) // the batch is old enough: it goes with this one
			timer.Stop()
			w.flush(ctx)
			return
		default:
			timer.Reset(min(w.p.cfg.Linger, time.Until(*due)))
			return
		}
	}
}

// add decodes one delivery into the batch, and notes what it showed of its device.
func (w *worker) add(d Delivery) {
	firstDead := len(w.dead)
	w.note = status.Message{}
	w.take(d)
	w.noted(d, firstDead)
}

// take decodes one delivery into the batch.
func (w *worker) take(d Delivery) {
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
		if w.p.status != nil {
			w.note.Device = dev.ID
		}
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
		w.noteTelemetry(&m)
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
			w.noteStatus(&s)
		}
	default:
		w.reject(d, device, reading.Rejection{Index: reading.WholeMessage, Reason: reading.ReasonTopicMismatch,
			Detail: "topic kind " + kind + " is neither telemetry nor status"})
		return
	}
	if len(w.lines) > start {
		w.spans = append(w.spans, span{start: start, end: len(w.lines), uses: [2]int{firstUse, len(w.uses)},
			seen: [2]int{firstSeen, len(w.seen)}, track: w.trackIndex(), d: d, device: device})
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
	if len(w.track) > 0 {
		w.p.status.Observe(w.track)
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
			w.untrack(s)
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
	clear(w.track)
	w.track = w.track[:0]
	w.counts = batchCounts{}
}

func clipString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
