package ingest

import (
	"github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/reading"
)

// StatusTracker follows the registered devices' live state (status.Tracker). Each worker calls
// Observe once per batch, with what each of the batch's messages from a registered device
// showed, once the batch is durable and before it is acknowledged: a batch that is cut off is
// delivered again and observed then. It must be quick and must not keep msgs, whose memory the
// worker reuses.
type StatusTracker interface {
	Observe(msgs []status.Message)
}

// What the worker notes of each message for the tracker costs no allocation: w.note is filled
// while the delivery is taken, then appended to w.track, whose memory is reused batch after
// batch.

// noteTelemetry notes a telemetry message's accepted readings, their newest measurement time
// and its battery.
func (w *worker) noteTelemetry(m *reading.Message) {
	if w.note.Device == "" {
		return
	}
	n := &w.note
	n.Readings = len(m.Readings)
	oneTime := true
	for i := range m.Readings {
		t := m.Readings[i].Time
		if t.After(n.Measured) {
			n.Measured = t
		}
		oneTime = oneTime && t.Equal(m.Readings[0].Time)
	}
	n.OwnClock = oneTime && !m.TimeMissing && len(m.Readings) > 0
	n.Battery, n.HasBattery = m.Battery, m.HasBattery
}

// noteStatus notes an accepted status message.
func (w *worker) noteStatus(s *reading.Status) {
	if w.note.Device == "" {
		return
	}
	n := &w.note
	n.Status, n.Measured, n.OwnClock = true, s.Time, !s.TimeMissing
	n.Battery, n.HasBattery = s.Battery, s.HasBattery
	n.Signal, n.HasSignal = s.Signal, s.HasSignal
	n.Firmware = s.Firmware
	n.Online, n.HasOnline = s.Online, s.HasOnline
}

// noted adds what the delivery just taken showed of its registered device to the batch's
// notes, with the dead letters it made (those after firstDead).
func (w *worker) noted(d Delivery, firstDead int) {
	if w.note.Device == "" {
		return
	}
	w.note.Received, w.note.DeadLetters = d.Received, len(w.dead)-firstDead
	w.track = append(w.track, w.note)
}

// trackIndex is where the delivery being taken will be noted in w.track, or -1.
func (w *worker) trackIndex() int {
	if w.note.Device == "" {
		return -1
	}
	return len(w.track)
}

// untrack changes the note of a delivery that InfluxDB refused: none of its readings counts,
// and it made one more dead letter.
func (w *worker) untrack(s span) {
	if s.track < 0 || s.track >= len(w.track) {
		return
	}
	n := &w.track[s.track]
	n.Readings = 0
	n.DeadLetters++
}
