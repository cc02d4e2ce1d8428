package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/vitalwatch/vitalwatch/devices/status"
)

// The records of one row of device_status_log, encoded: a version byte (1), the count of
// records, then each record as its device id, last message and telemetry, battery (float64
// bits) and its time, signal and its time, firmware and its time, clock offset and its time,
// connection event and its time, and its hour counts (hour, readings, dead letters). Strings
// are a length and their bytes; whole numbers varints (signed, zig-zag); 2000 records take
// about 100 KB.

const deviceStatusLogVersion = 1

// appendStatusRecords encodes recs after b.
func appendStatusRecords(b []byte, recs []status.Record) []byte {
	b = append(b, deviceStatusLogVersion)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(vs ...int64) {
		for _, v := range vs {
			b = binary.AppendVarint(b, v)
		}
	}
	float := func(f float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f)) }
	for i := range recs {
		r := &recs[i]
		str(r.Device)
		num(r.LastMessage, r.LastTelemetry)
		float(r.Battery)
		num(r.BatteryAt)
		float(r.Signal)
		num(r.SignalAt)
		str(r.Firmware)
		num(r.FirmwareAt, r.ClockOffset, r.ClockOffsetAt)
		str(string(r.Event))
		num(r.EventAt)
		b = binary.AppendUvarint(b, uint64(len(r.Hours)))
		for _, h := range r.Hours {
			num(h.Hour, h.Readings, h.DeadLetters)
		}
	}
	return b
}

var errStatusLogShort = errors.New("device status log: the row ends early")

// statusLogReader decodes what appendStatusRecords wrote.
type statusLogReader struct {
	b   []byte
	err error
}

func (r *statusLogReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *statusLogReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *statusLogReader) float() float64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *statusLogReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *statusLogReader) fail() {
	if r.err == nil {
		r.err = errStatusLogShort
	}
	r.b = nil
}

// decodeStatusRecords decodes a row of device_status_log.
func decodeStatusRecords(b []byte) ([]status.Record, error) {
	if len(b) == 0 || b[0] != deviceStatusLogVersion {
		return nil, fmt.Errorf("device status log: a row of an unknown version")
	}
	r := &statusLogReader{b: b[1:]}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) { // every record takes more than a byte
		return nil, errStatusLogShort
	}
	recs := make([]status.Record, 0, n)
	for range n {
		var rec status.Record
		rec.Device = r.str()
		rec.LastMessage, rec.LastTelemetry = r.varint(), r.varint()
		rec.Battery, rec.BatteryAt = r.float(), r.varint()
		rec.Signal, rec.SignalAt = r.float(), r.varint()
		rec.Firmware, rec.FirmwareAt = r.str(), r.varint()
		rec.ClockOffset, rec.ClockOffsetAt = r.varint(), r.varint()
		rec.Event, rec.EventAt = status.Event(r.str()), r.varint()
		hours := r.uvarint()
		if hours > uint64(len(r.b)) {
			return nil, errStatusLogShort
		}
		if hours > 0 {
			rec.Hours = make([]status.Hour, hours)
			for i := range rec.Hours {
				rec.Hours[i] = status.Hour{Hour: r.varint(), Readings: r.varint(), DeadLetters: r.varint()}
			}
		}
		if r.err != nil {
			return nil, r.err
		}
		recs = append(recs, rec)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("device status log: %d bytes after the last record", len(r.b))
	}
	return recs, nil
}
