package fhir

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/reading"
)

// A reading as an Observation: one stored InfluxDB point, whose identity is its device, type and
// measurement time (the point's series and time, which a redelivered message writes again), so
// that its id and identifier are the same every time it is fetched.

// pointKind returns the kind of a stored point, nil when it is no Observation (an event, a
// device status). Glucose is a CGM's when its source says cgm or a CGM measured it, as the
// summary and the readings routes tell them apart.
func pointKind(p influx.Point) *kind {
	t := reading.Type(p.Measurement)
	if t.IsEvent() || !slices.Contains(reading.Types, t) {
		return nil
	}
	cgm := t == reading.Glucose && (p.Tags["source"] == "cgm" || p.Tags["device_type"] == "cgm")
	return kindOfType(t, cgm)
}

// fhirTime writes t as a FHIR dateTime or instant in UTC, with milliseconds when it has any.
func fhirTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999Z07:00") }

// readingIdentifier is a reading's identity in words: device, type and time.
func readingIdentifier(device string, t reading.Type, at time.Time) Identifier {
	return Identifier{System: systemReading, Value: device + "/" + string(t) + "/" + at.UTC().Format("2006-01-02T15:04:05.000Z")}
}

// patientRef, deviceRef, teamRef and siteRef reference the registry's rows.
func patientRef(id string) Reference { return Reference{Reference: "Patient/" + registryID("", id)} }
func deviceRef(id string) Reference  { return Reference{Reference: "Device/" + registryID("", id)} }
func teamRef(id string) Reference {
	return Reference{Reference: "Organization/" + registryID(teamPrefix, id)}
}
func siteRef(id string) Reference {
	return Reference{Reference: "Organization/" + registryID(sitePrefix, id)}
}

// observationOf returns the Observation of a stored point, false when the point is none (see
// pointKind) or names no patient or lacks its value.
func observationOf(p influx.Point) (Observation, bool) {
	k := pointKind(p)
	patient, device := p.Tags["patient"], p.Tags["device"]
	if k == nil || patient == "" || device == "" {
		return Observation{}, false
	}
	num := func(f string) (float64, bool) { v, ok := p.Fields[f].(float64); return v, ok }
	subject, dev := patientRef(patient), deviceRef(device)
	o := Observation{ResourceType: "Observation", ID: readingID(k.typeCode, p.Time, device),
		Identifier: []Identifier{readingIdentifier(device, k.typ, p.Time)},
		Status:     "final", Category: k.categories, Code: k.code, Subject: &subject,
		EffectiveDateTime: fhirTime(p.Time), Device: &dev}
	if len(k.profiles) > 0 {
		o.Meta = &Meta{Profile: k.profiles}
	}
	if k.typ == reading.BP {
		sys, ok1 := num("systolic")
		dia, ok2 := num("diastolic")
		if !ok1 || !ok2 {
			return Observation{}, false
		}
		o.Component = []ObservationComponent{{Code: codeSystolic, ValueQuantity: unitMmHg.quantity(sys)},
			{Code: codeDiastolic, ValueQuantity: unitMmHg.quantity(dia)}}
		if pulse, ok := num("pulse"); ok {
			o.Component = append(o.Component, ObservationComponent{Code: codePulse, ValueQuantity: unitPerMin.quantity(pulse)})
		}
	} else {
		v, ok := num("value")
		if !ok {
			return Observation{}, false
		}
		if k.scale != 0 {
			v = round(v*k.scale, 1)
		}
		o.ValueQuantity = k.unit.quantity(v)
	}
	o.Note = readingNotes(p)
	return o, true
}

// readingNotes says in words what the point's tags and flags say: the glucose context and
// source, the position of a BP reading, and the device's status flags, those that put the
// measurement in doubt apart.
func readingNotes(p influx.Point) []Annotation {
	var notes []Annotation
	if c := p.Tags["context"]; c != "" {
		notes = append(notes, Annotation{Text: "Glucose context: " + strings.ReplaceAll(c, "_", " ")})
	}
	if s := p.Tags["source"]; s != "" {
		notes = append(notes, Annotation{Text: "Glucose source: " + s})
	}
	if pos := p.Tags["position"]; pos != "" {
		notes = append(notes, Annotation{Text: "Position: " + pos})
	}
	flags, _ := p.Fields["flags"].(string)
	if flags == "" {
		return notes
	}
	var doubt, other []string
	for _, f := range strings.Split(flags, ",") {
		if reading.QualityFlag(f) {
			doubt = append(doubt, f)
		} else {
			other = append(other, f)
		}
	}
	if len(doubt) > 0 {
		notes = append(notes, Annotation{Text: "Measurement in doubt: the device flagged it (" + strings.Join(doubt, ", ") +
			"); VitalWatch leaves it out of clinical alerts and summaries"})
	}
	if len(other) > 0 {
		notes = append(notes, Annotation{Text: "Device flags: " + strings.Join(other, ", ")})
	}
	return notes
}

// round rounds v to n decimals.
func round(v float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(v*p) / p
}
