package reading

import (
	"fmt"
	"math"
	"strings"
)

// mgdlPerMmol converts glucose: mg/dL = mmol/L x 18.016 (molar mass 180.16 g/mol; docs/domain.md).
const mgdlPerMmol = 18.016

// kgPerLb is the international avoirdupois pound.
const kgPerLb = 0.45359237

// maxSteps is the largest plausible step count for one reading (a day).
const maxSteps = 100000

// Qualifier values of the device contract.
var (
	glucoseContexts = []string{"fasting", "before_meal", "after_meal", "bedtime", "random"}
	glucoseSources  = []string{"fingerstick", "cgm"}
	bpPositions     = []string{"sitting", "standing", "lying"}
)

// conversion says how a value in a device's unit becomes a value in the canonical unit.
type conversion uint8

const (
	asIs conversion = iota
	fromMgdl
	fromDegF
	fromLb
)

// unitOf returns how to convert a value of type t given in unit. ok is false for a unit that t
// does not accept, which includes a missing unit where it would be ambiguous (glucose: mmol/L or
// mg/dL; temperature; weight). Events carry no value, so any unit is ignored.
func unitOf(t Type, unit string) (c conversion, ok bool) {
	switch t {
	case Glucose:
		switch unit {
		case "mmol/L", "mmol/l":
			return asIs, true
		case "mg/dL", "mg/dl":
			return fromMgdl, true
		}
	case BP:
		switch unit {
		case "", "mm[Hg]", "mmHg":
			return asIs, true
		}
	case HeartRate:
		switch unit {
		case "", "/min", "bpm", "beat/min", "beats/min":
			return asIs, true
		}
	case SpO2:
		switch unit {
		case "", "%":
			return asIs, true
		}
	case Temperature:
		switch unit {
		case "Cel":
			return asIs, true
		case "[degF]":
			return fromDegF, true
		}
	case Weight:
		switch unit {
		case "kg":
			return asIs, true
		case "[lb_av]", "lb":
			return fromLb, true
		}
	case Steps:
		switch unit {
		case "", "count", "{steps}", "/d":
			return asIs, true
		}
	case Fall, SOS, Cancel:
		return asIs, true
	}
	return asIs, false
}

// acceptedUnits lists the non-empty units unitOf accepts for t, canonical first.
func acceptedUnits(t Type) []string {
	switch t {
	case Glucose:
		return []string{"mmol/L", "mmol/l", "mg/dL", "mg/dl"}
	case BP:
		return []string{"mm[Hg]", "mmHg"}
	case HeartRate:
		return []string{"/min", "bpm", "beat/min", "beats/min"}
	case SpO2:
		return []string{"%"}
	case Temperature:
		return []string{"Cel", "[degF]"}
	case Weight:
		return []string{"kg", "[lb_av]", "lb"}
	case Steps:
		return []string{"count", "{steps}", "/d"}
	}
	return nil
}

// canonicalUnit is the unit values of t are stored in (docs/design.md "Device contract").
func canonicalUnit(t Type) string {
	if t == Steps {
		return "count"
	}
	if u := acceptedUnits(t); len(u) > 0 {
		return u[0]
	}
	return ""
}

func (c conversion) apply(v float64) float64 {
	switch c {
	case fromMgdl:
		return v / mgdlPerMmol
	case fromDegF:
		return (v - 32) * 5 / 9
	case fromLb:
		return v * kgPerLb
	}
	return v
}

// bounds is an inclusive plausibility range in the canonical unit (docs/domain.md "Plausibility").
type bounds struct{ min, max float64 }

var (
	glucoseBounds     = bounds{0.6, 33.3} // a meter's display range; LO/HI outside
	systolicBounds    = bounds{50, 300}
	diastolicBounds   = bounds{20, 200}
	rateBounds        = bounds{20, 300} // heart rate and bp pulse
	spo2Bounds        = bounds{50, 100}
	temperatureBounds = bounds{30, 45}
	fahrenheitLike    = bounds{86, 113} // 30-45 Cel in [degF]: the commonest entry error
	weightBounds      = bounds{2, 400}
	stepsBounds       = bounds{0, maxSteps}
)

func (b bounds) contain(v float64) bool { return v >= b.min && v <= b.max }

// valueBounds returns the plausibility range of a one-value type.
func valueBounds(t Type) bounds {
	switch t {
	case Glucose:
		return glucoseBounds
	case HeartRate:
		return rateBounds
	case SpO2:
		return spo2Bounds
	case Temperature:
		return temperatureBounds
	case Weight:
		return weightBounds
	case Steps:
		return stepsBounds
	}
	return bounds{}
}

// round2 rounds a canonical value to 0.01 of its unit, which is finer than any device in the
// contract measures, so that the same input always stores the same value (and converted values
// do not carry float noise such as 6.383214920071048).
func round2(v float64) float64 {
	if math.Abs(v) >= 1e12 { // implausible anyway; v*100 could overflow
		return v
	}
	r := math.Round(v*100) / 100
	if r == 0 {
		return 0 // not -0
	}
	return r
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// measurement is a reading's type, unit and values as the device sent them, before conversion
// and checks; both payload forms (JSON and SenML) end in one.
type measurement struct {
	typ                      Type
	unit                     string
	value                    float64
	hasValue                 bool
	sys, dia, pulse          float64
	hasSys, hasDia, hasPulse bool
}

// fault is why a reading is rejected; the zero fault means it is accepted.
type fault struct {
	reason Reason
	detail string
}

func faultf(r Reason, format string, args ...any) fault {
	return fault{r, fmt.Sprintf(format, args...)}
}

// reading converts m to the canonical unit and checks it is plausible. It fills Type and the
// values of r; the caller adds the time and the qualifiers.
func (m *measurement) reading() (Reading, fault) {
	r := Reading{Type: m.typ}
	if m.typ.IsEvent() {
		return r, fault{}
	}
	conv, ok := unitOf(m.typ, m.unit)
	if !ok {
		if m.unit == "" {
			return r, faultf(ReasonUnknownUnit, "%s needs a unit: %s", m.typ, strings.Join(acceptedUnits(m.typ), " or "))
		}
		return r, faultf(ReasonUnknownUnit, "%s unit %q is not accepted; want %s", m.typ, shorten(m.unit), strings.Join(acceptedUnits(m.typ), " or "))
	}
	if m.typ == BP {
		return m.bp()
	}
	if !m.hasValue {
		return r, faultf(ReasonMissingValue, "%s has no value", m.typ)
	}
	if !finite(m.value) {
		return r, faultf(ReasonInvalidField, "%s value is not a finite number", m.typ)
	}
	if m.typ == Steps && m.value != math.Trunc(m.value) {
		return r, faultf(ReasonInvalidField, "steps value %v is not a whole number", m.value)
	}
	v := round2(conv.apply(m.value))
	b := valueBounds(m.typ)
	switch {
	case m.typ == Temperature && conv == asIs && fahrenheitLike.contain(v):
		return r, faultf(ReasonImplausible, "temperature %v Cel is outside %v-%v Cel and looks like Fahrenheit; send unit [degF]", v, b.min, b.max)
	case !b.contain(v):
		given := ""
		if conv != asIs {
			given = fmt.Sprintf(" (%v %s)", m.value, m.unit)
		}
		return r, faultf(ReasonImplausible, "%s %v %s%s is outside the plausible %v-%v %s",
			m.typ, v, canonicalUnit(m.typ), given, b.min, b.max, canonicalUnit(m.typ))
	}
	r.Value = v
	return r, fault{}
}

func (m *measurement) bp() (Reading, fault) {
	r := Reading{Type: BP}
	switch {
	case !m.hasSys && !m.hasDia:
		return r, faultf(ReasonMissingValue, "bp has no systolic and no diastolic")
	case !m.hasSys:
		return r, faultf(ReasonMissingValue, "bp has no systolic")
	case !m.hasDia:
		return r, faultf(ReasonMissingValue, "bp has no diastolic")
	case !finite(m.sys) || !finite(m.dia) || (m.hasPulse && !finite(m.pulse)):
		return r, faultf(ReasonInvalidField, "bp value is not a finite number")
	}
	sys, dia := round2(m.sys), round2(m.dia)
	switch {
	case !systolicBounds.contain(sys):
		return r, faultf(ReasonImplausible, "bp systolic %v mm[Hg] is outside the plausible %v-%v mm[Hg]", sys, systolicBounds.min, systolicBounds.max)
	case !diastolicBounds.contain(dia):
		return r, faultf(ReasonImplausible, "bp diastolic %v mm[Hg] is outside the plausible %v-%v mm[Hg]", dia, diastolicBounds.min, diastolicBounds.max)
	case dia >= sys:
		return r, faultf(ReasonImplausible, "bp diastolic %v mm[Hg] is not below systolic %v mm[Hg]", dia, sys)
	}
	r.Systolic, r.Diastolic = sys, dia
	if m.hasPulse {
		p := round2(m.pulse)
		if !rateBounds.contain(p) {
			return Reading{Type: BP}, faultf(ReasonImplausible, "bp pulse %v /min is outside the plausible %v-%v /min", p, rateBounds.min, rateBounds.max)
		}
		r.Pulse, r.HasPulse = p, true
	}
	return r, fault{}
}
