package reading

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/jsondecode"
)

// maxReadings is the most readings (or SenML records) one telemetry message may carry.
const maxReadings = 1000

// telemetry is the JSON form of a telemetry payload (docs/design.md "Device contract (MQTT)").
// Unknown fields are ignored, so that devices can add fields before the platform reads them.
type telemetry struct {
	Device   text               `json:"device"`
	TS       stamp              `json:"ts"`
	Seq      integer            `json:"seq"`
	Patient  text               `json:"patient"`
	Battery  number             `json:"battery"`
	Flags    []string           `json:"flags"`
	Readings []telemetryReading `json:"readings"`

	// buf backs Readings for a typical message, saving the allocations of growing it.
	buf [3]telemetryReading
}

// telemetries holds the telemetry values that Decode decodes into, some 900 bytes each, which
// json.Unmarshal would otherwise have allocated for every message. Decode clears one before use,
// so the slices a message takes from it (its flags) are never written again.
var telemetries = sync.Pool{New: func() any { return new(telemetry) }}

// telemetryReading is one element of a telemetry payload's readings.
type telemetryReading struct {
	Type      text   `json:"type"`
	TS        stamp  `json:"ts"`
	Value     number `json:"value"`
	Unit      text   `json:"unit"`
	Systolic  number `json:"systolic"`
	Diastolic number `json:"diastolic"`
	Pulse     number `json:"pulse"`
	Context   text   `json:"context"`
	Source    text   `json:"source"`
	Position  text   `json:"position"`
	Lat       number `json:"lat"`
	Lon       number `json:"lon"`
}

// Decode decodes the telemetry payload that device published on devices/{device}/telemetry and
// that arrived at now, the receive time. The payload is the JSON form of the device contract or,
// when it starts with '[', SenML (RFC 8428; see decodeSenML).
//
// It returns the message with its good readings, and a rejection for everything it did not
// accept: one rejection with Index WholeMessage when the whole payload is rejected (the message
// then has no readings), or one per rejected reading, in payload order. Every payload ends in at
// least one accepted reading or one rejection, so nothing is dropped silently. Values are in the
// canonical units, rounded to 0.01; times are UTC, truncated to the millisecond. A reading without
// a ts of its own takes the message's; without either it takes now, and TimeMissing is set.
func Decode(device string, payload []byte, now time.Time) (Message, []Rejection) {
	msg := Message{Device: device}
	if f := checkEnvelope(device, payload); f.reason != "" {
		return msg, whole(f)
	}
	if firstByte(payload) == '[' {
		return decodeSenML(device, payload, now)
	}
	if f := checkArraySizes(payload, true); f.reason != "" {
		return msg, whole(f)
	}
	w := telemetries.Get().(*telemetry)
	defer telemetries.Put(w)
	*w = telemetry{}
	w.Readings = w.buf[:0]
	if f := unmarshal(payload, w, "object"); f.reason != "" {
		return msg, whole(f)
	}
	if f := checkKeys(payload, telemetryKeys); f.reason != "" {
		return msg, whole(f)
	}
	f := w.check(device, now)
	if f.reason != "" {
		return msg, whole(f)
	}
	msg.Patient = w.Patient.s
	msg.Seq, msg.HasSeq = w.Seq.i, w.Seq.set
	msg.Battery, msg.HasBattery = w.Battery.f, w.Battery.set
	msg.Flags = w.Flags

	base := now.UnixMilli()
	if w.TS.set {
		base = w.TS.ms
	}
	var rejections []Rejection
	msg.Readings = make([]Reading, 0, len(w.Readings))
	for i := range w.Readings {
		wr := &w.Readings[i]
		if !w.TS.set && !wr.TS.set {
			msg.TimeMissing = true
		}
		r, f := wr.reading(base, now)
		if f.reason != "" {
			rejections = append(rejections, Rejection{Index: i, Reason: f.reason, Detail: f.detail})
			continue
		}
		msg.Readings = append(msg.Readings, r)
	}
	return msg, rejections
}

// check validates the message-level fields of w, normalising its flags. A fault rejects the whole
// message.
func (w *telemetry) check(device string, now time.Time) fault {
	switch {
	case w.Device.bad != kindOK:
		return wrongType("device", w.Device.bad, "a string")
	case w.Device.set && w.Device.s != device:
		return faultf(ReasonTopicMismatch, "payload device %q is not the topic's device %q", shorten(w.Device.s), device)
	case w.TS.bad != kindOK:
		return wrongType("ts", w.TS.bad, "an RFC 3339 string or Unix milliseconds")
	case w.Seq.bad != kindOK:
		return wrongType("seq", w.Seq.bad, "a number")
	case w.Patient.bad != kindOK:
		return wrongType("patient", w.Patient.bad, "a string")
	case w.Battery.bad != kindOK:
		return wrongType("battery", w.Battery.bad, "a number")
	case w.Patient.set && !ValidID(w.Patient.s):
		// The value is not echoed: a patient id is health data once it is in a log.
		return faultf(ReasonInvalidField, "patient id has invalid characters or length")
	case w.Seq.set && (w.Seq.invalid || w.Seq.i < 0):
		return faultf(ReasonInvalidField, "seq must be a non-negative whole number")
	case w.Battery.set && !(w.Battery.f >= 0 && w.Battery.f <= 100):
		return faultf(ReasonInvalidField, "battery %v is outside 0-100 %%", w.Battery.f)
	}
	flags, detail := normaliseFlags(w.Flags)
	if detail != "" {
		return fault{ReasonInvalidField, detail}
	}
	w.Flags = flags
	if w.TS.set {
		if f := checkStamp("ts", &w.TS, now); f.reason != "" {
			return f
		}
	}
	switch {
	case len(w.Readings) == 0:
		return faultf(ReasonMissingValue, "no readings")
	case len(w.Readings) > maxReadings:
		return faultf(ReasonInvalidField, "%d readings; at most %d are accepted", len(w.Readings), maxReadings)
	}
	return fault{}
}

// reading validates one reading whose time, if it has none of its own, is base (Unix ms).
func (w *telemetryReading) reading(base int64, now time.Time) (Reading, fault) {
	if f := w.typeFault(); f.reason != "" {
		return Reading{}, f
	}
	t, f := readingType(w.Type)
	if f.reason != "" {
		return Reading{}, f
	}
	ms := base
	if w.TS.set {
		if f := checkStamp("reading ts", &w.TS, now); f.reason != "" {
			return Reading{}, f
		}
		ms = w.TS.ms
	}
	m := measurement{
		typ: t, unit: w.Unit.s,
		value: w.Value.f, hasValue: w.Value.set,
		sys: w.Systolic.f, hasSys: w.Systolic.set,
		dia: w.Diastolic.f, hasDia: w.Diastolic.set,
		pulse: w.Pulse.f, hasPulse: w.Pulse.set,
	}
	r, f := m.reading()
	if f.reason != "" {
		return Reading{}, f
	}
	r.Time = utcMs(ms)
	switch t {
	case Glucose:
		if r.Context, f = qualifier("glucose context", w.Context.s, glucoseContexts); f.reason != "" {
			return Reading{}, f
		}
		if r.Source, f = qualifier("glucose source", w.Source.s, glucoseSources); f.reason != "" {
			return Reading{}, f
		}
	case BP:
		if r.Position, f = qualifier("bp position", w.Position.s, bpPositions); f.reason != "" {
			return Reading{}, f
		}
	case Fall, SOS, Cancel:
		if f := w.location(&r); f.reason != "" {
			return Reading{}, f
		}
	}
	return r, fault{}
}

// typeFault reports the first field of w whose JSON type is wrong.
func (w *telemetryReading) typeFault() fault {
	switch {
	case w.Type.bad != kindOK:
		return wrongType("type", w.Type.bad, "a string")
	case w.TS.bad != kindOK:
		return wrongType("ts", w.TS.bad, "an RFC 3339 string or Unix milliseconds")
	case w.Value.bad != kindOK:
		return wrongType("value", w.Value.bad, "a number")
	case w.Unit.bad != kindOK:
		return wrongType("unit", w.Unit.bad, "a string")
	case w.Systolic.bad != kindOK:
		return wrongType("systolic", w.Systolic.bad, "a number")
	case w.Diastolic.bad != kindOK:
		return wrongType("diastolic", w.Diastolic.bad, "a number")
	case w.Pulse.bad != kindOK:
		return wrongType("pulse", w.Pulse.bad, "a number")
	case w.Context.bad != kindOK:
		return wrongType("context", w.Context.bad, "a string")
	case w.Source.bad != kindOK:
		return wrongType("source", w.Source.bad, "a string")
	case w.Position.bad != kindOK:
		return wrongType("position", w.Position.bad, "a string")
	case w.Lat.bad != kindOK:
		return wrongType("lat", w.Lat.bad, "a number")
	case w.Lon.bad != kindOK:
		return wrongType("lon", w.Lon.bad, "a number")
	}
	return fault{}
}

// location sets the location of an event (fall, SOS, cancel): lat and lon together, or neither.
func (w *telemetryReading) location(r *Reading) fault {
	switch {
	case !w.Lat.set && !w.Lon.set:
		return fault{}
	case !w.Lat.set || !w.Lon.set:
		return faultf(ReasonInvalidField, "%s location needs both lat and lon", r.Type)
	case !(w.Lat.f >= -90 && w.Lat.f <= 90):
		return faultf(ReasonInvalidField, "%s lat %v is outside -90..90", r.Type, w.Lat.f)
	case !(w.Lon.f >= -180 && w.Lon.f <= 180):
		return faultf(ReasonInvalidField, "%s lon %v is outside -180..180", r.Type, w.Lon.f)
	}
	r.Lat, r.Lon, r.HasLocation = w.Lat.f, w.Lon.f, true
	return fault{}
}

// readingType checks the type field of a reading.
func readingType(t text) (Type, fault) {
	if !t.set || t.s == "" {
		return "", faultf(ReasonUnknownType, "reading has no type")
	}
	switch typ := Type(t.s); typ {
	case Glucose, BP, HeartRate, SpO2, Temperature, Weight, Steps, Fall, SOS, Cancel:
		return typ, fault{}
	}
	return "", faultf(ReasonUnknownType, "unknown reading type %q", shorten(t.s))
}

// qualifier checks an optional qualifier against its allowed values; "" means not given.
func qualifier(name, v string, allowed []string) (string, fault) {
	if v == "" {
		return "", fault{}
	}
	for _, a := range allowed {
		if v == a {
			return a, fault{}
		}
	}
	return "", faultf(ReasonInvalidField, "%s %q is not one of %s", name, shorten(v), strings.Join(allowed, ", "))
}

// checkStamp checks a time field that is set.
func checkStamp(name string, s *stamp, now time.Time) fault {
	if s.invalid {
		return faultf(ReasonBadTimestamp, "%s %q is not an RFC 3339 time", name, s.unparsed)
	}
	r, detail := checkTime(name, s.ms, s.number, now)
	return fault{r, detail}
}

// checkEnvelope checks what can be checked before parsing: the payload's size and the device id
// from the topic.
func checkEnvelope(device string, payload []byte) fault {
	if len(payload) > MaxPayload {
		return faultf(ReasonOversized, "payload is %d bytes; at most %d are accepted", len(payload), MaxPayload)
	}
	if !ValidID(device) {
		return faultf(ReasonTopicMismatch, "topic device id %q is not 1-%d characters of A-Z, a-z, 0-9, '.', '_', ':', '-'", shorten(device), maxIDLen)
	}
	return fault{}
}

// checkArraySizes rejects a payload with too many readings (when it may have readings) or flags
// before it is decoded; see manyCommas. It passes a payload that is not valid JSON: the decoder
// reports that, cheaply.
func checkArraySizes(payload []byte, readings bool) fault {
	if bytes.Count(payload, []byte{','}) < manyCommas {
		return fault{}
	}
	var n arraySizes
	if json.Unmarshal(payload, &n) != nil {
		return fault{}
	}
	switch {
	case readings && n.Readings > maxReadings:
		return faultf(ReasonInvalidField, "%d readings; at most %d are accepted", n.Readings, maxReadings)
	case n.Flags > maxFlags:
		return faultf(ReasonInvalidField, "%d flags; at most %d are accepted", n.Flags, maxFlags)
	}
	return fault{}
}

// unmarshal decodes payload into v, a pointer to a value as Decode prepares it, which must be
// a JSON object or array (want), and says in words what is wrong when it cannot: malformed
// JSON, or a payload that is not an object or array, is ReasonMalformed; a field of the wrong
// JSON type is ReasonInvalidField.
//
// It decodes with segmentio's encoding/json through package jsondecode, which takes less than
// half the standard library's time here (BenchmarkDecode): it validates while it decodes instead
// of in a pass of its own, and finds fields without reflection. Only the walk over objects,
// arrays and keys, and the flags' strings, are the decoder's; every other value goes through its
// field's own UnmarshalJSON. A payload it refuses gives the standard library's error, so the
// rejection reads as it always did and no text of the payload gets into it. FuzzDecodersAgree
// checks that whatever segmentio's decoder accepts, the standard library accepts into the same
// value.
func unmarshal(payload []byte, v any, want string) fault {
	err := jsondecode.Unmarshal(payload, v)
	if syntax, ok := err.(*json.SyntaxError); ok { // json.Unmarshal does not wrap it
		return faultf(ReasonMalformed, "invalid JSON at byte %d: %v", syntax.Offset, err)
	}
	if typ, ok := err.(*json.UnmarshalTypeError); ok && typ.Field != "" {
		return fieldTypeFault(typ)
	}
	switch {
	case err != nil:
		return faultf(ReasonMalformed, "%v", err)
	case firstByte(payload) == 'n':
		return faultf(ReasonMalformed, "payload is null; want a JSON %s", want)
	}
	return fault{}
}

// fieldTypeFault is the fault of an array field (readings, flags), or of one of its elements,
// whose JSON type is wrong: the scalar fields record theirs themselves (see wrongType).
func fieldTypeFault(e *json.UnmarshalTypeError) fault {
	got := map[string]string{"string": "a string", "number": "a number", "bool": "a boolean",
		"array": "an array", "object": "an object"}[strings.Fields(e.Value + " ")[0]]
	if got == "" {
		got = e.Value
	}
	what := fmt.Sprintf("field %q", e.Field)
	if e.Type.Kind() != reflect.Slice {
		what = "an element of " + what
	}
	return faultf(ReasonInvalidField, "%s is %s; want %s", what, got, jsonShape(e.Type))
}

// jsonShape says in words what JSON a field of Go type t takes.
func jsonShape(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonShape(t.Elem()), "an "), "a ") + "s"
	case reflect.String:
		return "a string"
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

// wrongType is the fault of a field whose JSON type is not the one the contract says: the
// payload is JSON, but the field breaks the contract.
func wrongType(field string, got kind, want string) fault {
	return faultf(ReasonInvalidField, "field %q is %v; want %s", field, got, want)
}

func whole(f fault) []Rejection {
	return []Rejection{{Index: WholeMessage, Reason: f.reason, Detail: f.detail}}
}

// firstByte returns the first byte of b that is not JSON white space, or 0.
func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}
