// Package reading is the vocabulary of what devices send: reading types, canonical units,
// plausibility limits, status flags, and the decoder that turns a device's MQTT payload into
// validated readings or rejections with a reason.
package reading

import "time"

// Type names a kind of reading, as it appears in the device contract's "type" field.
type Type string

// The reading types of the device contract (docs/design.md "Device contract").
const (
	Glucose     Type = "glucose"     // mmol/L
	BP          Type = "bp"          // systolic, diastolic mm[Hg], optional pulse /min
	HeartRate   Type = "heart_rate"  // /min
	SpO2        Type = "spo2"        // %
	Temperature Type = "temperature" // Cel
	Weight      Type = "weight"      // kg
	Steps       Type = "steps"       // count
	Fall        Type = "fall"        // event
	SOS         Type = "sos"         // event
	// Cancel is the wearer withdrawing a fall within its confirm window (docs/domain.md "fall /
	// SOS"): an event like fall and sos, stored in the event measurement.
	Cancel Type = "cancel"
)

// Types lists every reading type in a stable order.
var Types = []Type{Glucose, BP, HeartRate, SpO2, Temperature, Weight, Steps, Fall, SOS, Cancel}

// IsEvent reports whether t is an event (fall, SOS, cancel) rather than a measurement.
func (t Type) IsEvent() bool { return t == Fall || t == SOS || t == Cancel }

// MaxPayload is the largest telemetry or status payload accepted, in bytes.
const MaxPayload = 64 << 10

// MaxFutureSkew is how far ahead of the receive time a measurement time may be.
const MaxFutureSkew = 5 * time.Minute

// Reading is one validated measurement or event in canonical units.
type Reading struct {
	Type Type
	Time time.Time // measurement time

	// Value holds the single value of one-value types, in the canonical unit.
	Value float64

	// Blood pressure, mm[Hg]; Pulse in /min when HasPulse.
	Systolic, Diastolic float64
	Pulse               float64
	HasPulse            bool

	// Qualifiers, stored as low-cardinality tags; empty when not given.
	Context  string // glucose: fasting | before_meal | after_meal | bedtime | random
	Source   string // glucose: fingerstick | cgm
	Position string // bp: sitting | standing | lying

	// Location of an event (fall, SOS, cancel), when the device sent one.
	Lat, Lon    float64
	HasLocation bool
}

// Message is a decoded telemetry message: the good readings of one payload.
type Message struct {
	Device  string
	Patient string // pseudonymous patient id from the payload; empty when omitted
	Seq     int64
	HasSeq  bool
	// TimeMissing is set when the payload had no ts and the receive time was used.
	TimeMissing bool
	Battery     float64
	HasBattery  bool
	// Flags are the device status flags of the message; they apply to all its readings.
	Flags    []string
	Readings []Reading
}

// Status is a decoded device status message (battery, signal, firmware, flags, online).
type Status struct {
	Device      string
	Time        time.Time
	TimeMissing bool
	Battery     float64
	HasBattery  bool
	Signal      float64 // dBm
	HasSignal   bool
	Firmware    string
	Online      bool
	HasOnline   bool
	Flags       []string
}

// Reason is why a message or a reading was rejected; it is the dead-letter reason.
type Reason string

// Rejection reasons. Each one is a label of the dead-letter metric, so the set is closed.
const (
	ReasonMalformed       Reason = "malformed_json"
	ReasonOversized       Reason = "oversized_payload"
	ReasonTopicMismatch   Reason = "topic_mismatch"
	ReasonUnknownDevice   Reason = "unknown_device"
	ReasonUnknownPatient  Reason = "unknown_patient"
	ReasonUnknownType     Reason = "unknown_type"
	ReasonUnknownUnit     Reason = "unknown_unit"
	ReasonMissingValue    Reason = "missing_value"
	ReasonImplausible     Reason = "implausible_value"
	ReasonFutureTimestamp Reason = "future_timestamp"
	ReasonBadTimestamp    Reason = "bad_timestamp"
	ReasonInvalidField    Reason = "invalid_field"
)

// Reasons lists every rejection reason in a stable order.
var Reasons = []Reason{
	ReasonMalformed, ReasonOversized, ReasonTopicMismatch, ReasonUnknownDevice, ReasonUnknownPatient, ReasonUnknownType,
	ReasonUnknownUnit, ReasonMissingValue, ReasonImplausible, ReasonFutureTimestamp,
	ReasonBadTimestamp, ReasonInvalidField,
}

// Rejection says why a whole message (Index < 0) or one of its readings (Index >= 0, the
// position in the payload's readings) was not accepted.
type Rejection struct {
	Index  int
	Reason Reason
	Detail string // human-readable, names the field and the value; never patient identity
}

// WholeMessage is the Index of a rejection that applies to the whole payload.
const WholeMessage = -1
