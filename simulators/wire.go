package simulators

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vitalwatch/vitalwatch/reading"
)

// Units as devices write them (UCUM codes, docs/design.md "Device contract").
const (
	unitMmolL   = "mmol/L"
	unitMgdL    = "mg/dL"
	unitMmHg    = "mm[Hg]"
	unitPerMin  = "/min"
	unitPercent = "%"
	unitCel     = "Cel"
	unitDegF    = "[degF]"
	unitKg      = "kg"
	unitLb      = "[lb_av]"
	unitCount   = "count"
)

// Unit conversions of the contract: glucose mg/dL = mmol/L x 18.016 (docs/domain.md), the
// international avoirdupois pound, and the Fahrenheit scale.
const (
	mgdLPerMmolL = 18.016
	kgPerLb      = 0.45359237
)

func celToF(c float64) float64 { return c*9/5 + 32 }

// TimeFormat is how a device writes its timestamps.
type TimeFormat int

// Timestamp formats of the contract.
const (
	RFC3339   TimeFormat = iota // "2026-11-22T07:30:00.000+08:00", with the device's zone offset
	UnixMilli                   // 1763767800000
	NoTime                      // no ts: the platform uses the receive time
)

// Reading is one reading as a device sends it: the wire form, in the device's own unit. Which
// fields are written follows Type: Systolic, Diastolic and Pulse (when non-zero) for bp; Lat and
// Lon (when HasLocation) for fall and sos; Value for every other type.
type Reading struct {
	Type                      reading.Type
	Value                     float64
	Systolic, Diastolic       float64
	Pulse                     float64
	Unit                      string
	Context, Source, Position string
	Lat, Lon                  float64
	HasLocation               bool
	// Time, when set, is the reading's own ts (Unix ms), as a hub uploading a backlog sends it.
	Time time.Time
}

// Message is one telemetry message of a device before it is encoded.
type Message struct {
	Time       time.Time
	TimeFormat TimeFormat
	Seq        int64  // written when > 0
	Patient    string // written when set (station devices)
	Readings   []Reading
	Battery    float64 // percent, written when HasBattery
	HasBattery bool
	Flags      []string

	// Raw, when non-nil, is the payload as is, in place of everything above (an injected bad
	// payload); WantReason is the rejection it must get, or "" when it should be accepted.
	Raw        []byte
	WantReason reading.Reason
}

// JSON returns the payload.
func (m *Message) JSON() []byte {
	if m.Raw != nil {
		return m.Raw
	}
	return m.AppendJSON(make([]byte, 0, 256))
}

// AppendJSON appends the payload to b. The encoder is hand-written so that a load test spends its
// time in MQTT, not in reflection, and so that the bytes are the same on every run.
func (m *Message) AppendJSON(b []byte) []byte {
	if m.Raw != nil {
		return append(b, m.Raw...)
	}
	b = append(b, '{')
	sep := false
	field := func(name string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	if m.TimeFormat != NoTime && !m.Time.IsZero() {
		field("ts")
		b = appendTime(b, m.Time, m.TimeFormat)
	}
	if m.Seq > 0 {
		field("seq")
		b = strconv.AppendInt(b, m.Seq, 10)
	}
	if m.Patient != "" {
		field("patient")
		b = appendString(b, m.Patient)
	}
	field("readings")
	b = append(b, '[')
	for i := range m.Readings {
		if i > 0 {
			b = append(b, ',')
		}
		b = m.Readings[i].appendJSON(b)
	}
	b = append(b, ']')
	if m.HasBattery {
		field("battery")
		b = appendNumber(b, m.Battery)
	}
	if len(m.Flags) > 0 {
		field("flags")
		b = appendStrings(b, m.Flags)
	}
	return append(b, '}')
}

func (r *Reading) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, string(r.Type))
	num := func(name string, v float64) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = appendNumber(b, v)
	}
	str := func(name, v string) {
		if v == "" {
			return
		}
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = appendString(b, v)
	}
	switch {
	case r.Type == reading.BP:
		num("systolic", r.Systolic)
		num("diastolic", r.Diastolic)
		if r.Pulse != 0 {
			num("pulse", r.Pulse)
		}
	case r.Type.IsEvent():
		if r.HasLocation {
			num("lat", r.Lat)
			num("lon", r.Lon)
		}
	default:
		num("value", r.Value)
	}
	str("unit", r.Unit)
	str("context", r.Context)
	str("source", r.Source)
	str("position", r.Position)
	if !r.Time.IsZero() {
		b = append(b, `,"ts":`...)
		b = strconv.AppendInt(b, r.Time.UnixMilli(), 10)
	}
	return append(b, '}')
}

func appendTime(b []byte, t time.Time, f TimeFormat) []byte {
	if f == UnixMilli {
		return strconv.AppendInt(b, t.UnixMilli(), 10)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	return append(b, '"')
}

// appendNumber writes v in the shortest form that reads back as v; JSON has no NaN or infinity,
// so those become null (which a decoder must reject, never crash on).
func appendNumber(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString writes s as a JSON string (RFC 8259 section 7), replacing invalid UTF-8.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', byte(c))
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c == utf8.RuneError:
			b = append(b, `\ufffd`...)
		default:
			b = utf8.AppendRune(b, c)
		}
	}
	return append(b, '"')
}

// round rounds v to the given number of decimals, as a device display does.
func round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}
