package simulators

import (
	"math/rand/v2"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// BadReasons are the rejections the bad payload generator produces, in the order it numbers
// them.
var BadReasons = []reading.Reason{
	reading.ReasonMalformed,
	reading.ReasonUnknownType,
	reading.ReasonUnknownUnit,
	reading.ReasonImplausible,
	reading.ReasonFutureTimestamp,
}

// BadPayload returns a telemetry payload that ingest must reject and the reason it must give, as
// the string of a reading.Reason: malformed JSON, an unknown reading type, an unknown unit, a
// physiologically implausible value, or a timestamp hours ahead of time.Now(). Every other part
// of the payload is valid, so that the reason is the only one that applies. It has no seq, so
// that it does not disturb the sending device's sequence.
func BadPayload(r *rand.Rand) (payload []byte, wantReason string) {
	return BadPayloadAt(r, time.Now())
}

// BadPayloadAt is BadPayload with the clock as a parameter: a future timestamp is hours ahead of
// now.
func BadPayloadAt(r *rand.Rand, now time.Time) (payload []byte, wantReason string) {
	p, why := badPayload(r, now, "")
	return p, string(why)
}

// Bad returns a bad payload as d would send it: a station's names one of its residents, because
// a station payload without a patient is wrong for a reason of its own.
func (d *Device) Bad(r *rand.Rand, at time.Time) (payload []byte, wantReason reading.Reason) {
	patient := ""
	if len(d.Residents) > 0 {
		patient = d.Residents[r.IntN(len(d.Residents))]
	}
	return badPayload(r, at, patient)
}

func badPayload(r *rand.Rand, now time.Time, patient string) ([]byte, reading.Reason) {
	why := BadReasons[r.IntN(len(BadReasons))]
	m := Message{TimeFormat: NoTime, Patient: patient}
	switch why {
	case reading.ReasonMalformed:
		return malformed(r, patient), why
	case reading.ReasonUnknownType:
		m.Readings = []Reading{pick(r, []Reading{
			{Type: "ketone", Value: 0.4, Unit: unitMmolL},
			{Type: "cholesterol", Value: 5.2, Unit: unitMmolL},
			{Type: "hba1c", Value: 7.1, Unit: unitPercent},
			{Type: "uric_acid", Value: 420, Unit: "umol/L"},
		})}
	case reading.ReasonUnknownUnit:
		// Real UCUM codes, but not ones the contract accepts for the type.
		m.Readings = []Reading{pick(r, []Reading{
			{Type: reading.Glucose, Value: 6.1, Unit: "mmol/dL"},
			{Type: reading.Temperature, Value: 29.6, Unit: "[degRe]"},
			{Type: reading.Weight, Value: 11.5, Unit: "[stone_av]"},
		})}
	case reading.ReasonImplausible:
		m.Readings = []Reading{pick(r, []Reading{
			{Type: reading.Glucose, Value: 45, Unit: unitMmolL},
			{Type: reading.Glucose, Value: 850, Unit: unitMgdL},
			bp(320, 90, 70, "sitting"),
			bp(120, 130, 70, "sitting"), // diastolic above systolic
			{Type: reading.HeartRate, Value: 400, Unit: unitPerMin},
			{Type: reading.SpO2, Value: 120, Unit: unitPercent},
			{Type: reading.Temperature, Value: 98.6, Unit: unitCel}, // Fahrenheit entered as Celsius
			{Type: reading.Weight, Value: 650, Unit: unitKg},
		})}
	case reading.ReasonFutureTimestamp:
		m.TimeFormat = RFC3339
		if r.IntN(2) == 0 {
			m.TimeFormat = UnixMilli
		}
		ahead := time.Duration(uniform(r, 1, 72) * float64(time.Hour))
		m.Time = now.Add(ahead).Truncate(time.Millisecond).In(localZone())
		m.Readings = []Reading{{Type: reading.HeartRate, Value: 72, Unit: unitPerMin}}
	}
	return m.JSON(), why
}

// malformed is a payload that is not JSON: the ways device firmware and hand-written test tools
// get it wrong.
func malformed(r *rand.Rand, patient string) []byte {
	good := Message{TimeFormat: NoTime, Patient: patient, Readings: []Reading{
		{Type: reading.Glucose, Value: 6.1, Unit: unitMmolL, Context: "fasting", Source: "fingerstick"},
	}}
	switch r.IntN(5) {
	case 0: // cut off mid-message: any proper prefix of a JSON object is invalid
		b := good.JSON()
		return b[:1+r.IntN(len(b)-1)]
	case 1:
		return []byte(`{"readings":[{"type":"glucose",,"value":6.1,"unit":"mmol/L"}]}`)
	case 2:
		return []byte(`{'readings': [{'type': 'glucose', 'value': 6.1, 'unit': 'mmol/L'}]}`)
	case 3:
		return []byte(`{"readings":[{"type":"glucose","value":NaN,"unit":"mmol/L"}]}`)
	}
	b := make([]byte, 8+r.IntN(24)) // binary noise, as from a serial line at the wrong baud rate
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	b[0] = 0xff // never a valid first byte of JSON text
	return b
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }
