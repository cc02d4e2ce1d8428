// Package deadletter describes device messages and readings that were not accepted: what came
// in, from which device, and why it was refused. Nothing a device sends is dropped silently;
// what cannot be stored as a reading is kept as a dead letter.
package deadletter

import "time"

// MaxPayload is how much of a rejected payload is kept, in bytes.
const MaxPayload = 4 << 10

// ReasonWriteRejected is the reason for readings that passed validation but that the time
// series database refused to store.
const ReasonWriteRejected = "write_rejected"

// DeadLetter is one rejected message or reading.
type DeadLetter struct {
	ID       int64
	Received time.Time
	Device   string // device id from the topic; may be empty when the topic itself is bad
	Topic    string
	Reason   string // a reading.Reason, or ReasonWriteRejected
	Detail   string
	// Index is the position of the rejected reading in the payload's readings, or -1 when the
	// whole message was rejected.
	Index       int
	Payload     []byte // at most MaxPayload bytes of the raw payload
	PayloadSize int    // size of the whole raw payload
}

// Truncated reports whether only part of the payload was kept.
func (d *DeadLetter) Truncated() bool { return d.PayloadSize > len(d.Payload) }

// Clip returns the part of payload a dead letter keeps.
func Clip(payload []byte) []byte {
	if len(payload) > MaxPayload {
		payload = payload[:MaxPayload]
	}
	return append([]byte(nil), payload...)
}

// Filter selects dead letters, newest first.
type Filter struct {
	Device string
	Reason string
	Since  time.Time // inclusive; zero means no bound
	Until  time.Time // exclusive; zero means no bound
	// Before is a cursor: only dead letters with an ID below it. Zero means from the newest.
	Before int64
	Limit  int
}
