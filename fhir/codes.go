package fhir

import (
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The code systems and codes of docs/domain.md ("Codes and units"), with the IEEE 11073-10101
// (MDC) code of each measurement beside its LOINC code, as the HL7 Personal Health Device IG
// puts it, and the codes of the HL7 CGM IG for the CGM summary.

// Code and identifier systems.
const (
	systemLOINC    = "http://loinc.org"
	systemMDC      = "urn:iso:std:iso:11073:10101"
	systemUCUM     = "http://unitsofmeasure.org"
	systemCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemCGMTemp  = "http://hl7.org/fhir/uv/cgm/CodeSystem/cgm-summary-codes-temporary"
	systemFlagCat  = "http://terminology.hl7.org/CodeSystem/flag-category"
	systemPriority = "http://hl7.org/fhir/flag-priority-code"
	systemOrgType  = "http://terminology.hl7.org/CodeSystem/organization-type"

	// VitalWatch's own systems: the registry's ids, readings' identities, alert ids and rules.
	// URNs, so that they name no host and stay the same wherever VitalWatch runs.
	systemPatient  = "urn:vitalwatch:patient"
	systemDevice   = "urn:vitalwatch:device"
	systemTeam     = "urn:vitalwatch:team"
	systemSite     = "urn:vitalwatch:site"
	systemReading  = "urn:vitalwatch:reading"
	systemAlert    = "urn:vitalwatch:alert"
	systemRule     = "urn:vitalwatch:alert-rule"
	systemSummary  = "urn:vitalwatch:cgm-summary"
	extFlagDetail  = "http://hl7.org/fhir/StructureDefinition/flag-detail"
	extFlagPrio    = "http://hl7.org/fhir/StructureDefinition/flag-priority"
	profileVitals  = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
	profileCGMBase = "http://hl7.org/fhir/uv/cgm/StructureDefinition/"
)

// Observation categories.
var (
	categoryVitalSigns = CodeableConcept{Coding: []Coding{{System: systemCategory, Code: "vital-signs", Display: "Vital Signs"}}}
	categoryLaboratory = CodeableConcept{Coding: []Coding{{System: systemCategory, Code: "laboratory", Display: "Laboratory"}}}
	categoryActivity   = CodeableConcept{Coding: []Coding{{System: systemCategory, Code: "activity", Display: "Activity"}}}
)

// loinc and mdc are codings.
func loinc(code, display string) Coding {
	return Coding{System: systemLOINC, Code: code, Display: display}
}
func mdc(code, display string) Coding { return Coding{System: systemMDC, Code: code, Display: display} }

// unit is a UCUM unit: its code, and the unit as shown.
type unit struct{ code, shown string }

// quantity is v in u.
func (u unit) quantity(v float64) *Quantity {
	return &Quantity{Value: v, Unit: u.shown, System: systemUCUM, Code: u.code}
}

// The units of the readings, canonical as the device contract has them, and those the CGM IG
// fixes (its patterns spell the shown units "mg/dl" and "mmol/l").
var (
	unitMmolL   = unit{"mmol/L", "mmol/L"}
	unitMgdLCGM = unit{"mg/dL", "mg/dl"}
	unitMmolCGM = unit{"mmol/L", "mmol/l"}
	unitMmHg    = unit{"mm[Hg]", "mmHg"}
	unitPerMin  = unit{"/min", "/min"}
	unitPercent = unit{"%", "%"}
	unitCel     = unit{"Cel", "Cel"}
	unitKg      = unit{"kg", "kg"}
	unitPerDay  = unit{"/d", "/d"}
	unitDays    = unit{"d", "days"}
)

// kind is how one kind of reading is an Observation.
type kind struct {
	// typeCode starts the Observation's id: one per reading type, so that a reading's id
	// stays the same whatever its glucose source.
	typeCode string
	typ      reading.Type
	code     CodeableConcept
	unit     unit
	// scale converts the canonical value into unit (glucose mmol/L to mg/dL); 0 means 1.
	scale      float64
	categories []CodeableConcept
	profiles   []string
}

// The components of a blood pressure reading.
var (
	codeSystolic  = CodeableConcept{Coding: []Coding{loinc("8480-6", "Systolic blood pressure"), mdc("150021", "MDC_PRESS_BLD_NONINV_SYS")}, Text: "Systolic blood pressure"}
	codeDiastolic = CodeableConcept{Coding: []Coding{loinc("8462-4", "Diastolic blood pressure"), mdc("150022", "MDC_PRESS_BLD_NONINV_DIA")}, Text: "Diastolic blood pressure"}
	codePulse     = CodeableConcept{Coding: []Coding{loinc("8867-4", "Heart rate"), mdc("149546", "MDC_PULS_RATE_NON_INV")}, Text: "Heart rate"}
)

// The kinds of reading. Meter and CGM glucose are one reading type with two kinds: blood glucose
// in mmol/L (15074-8), and interstitial glucose in mg/dL (99504-3) as the CGM IG's sensor
// reading profile has it.
var (
	kindMeterGlucose = kind{typeCode: "glucose", typ: reading.Glucose,
		code:       CodeableConcept{Coding: []Coding{loinc("15074-8", "Glucose [Moles/volume] in Blood"), mdc("160184", "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD")}, Text: "Blood glucose"},
		unit:       unitMmolL,
		categories: []CodeableConcept{categoryVitalSigns, categoryLaboratory}, profiles: []string{profileVitals}}
	kindCGMGlucose = kind{typeCode: "glucose", typ: reading.Glucose,
		code: CodeableConcept{Coding: []Coding{loinc("99504-3", "Glucose [Mass/volume] in Interstitial fluid"), mdc("160212", "MDC_CONC_GLU_ISF")}, Text: "Interstitial glucose (CGM)"},
		unit: unitMgdLCGM, scale: mgdLPerMmolL,
		categories: []CodeableConcept{categoryVitalSigns, categoryLaboratory},
		profiles:   []string{profileVitals, profileCGMBase + "cgm-sensor-reading-mass-per-volume"}}
	kindBP = kind{typeCode: "bp", typ: reading.BP,
		code:       CodeableConcept{Coding: []Coding{loinc("85354-9", "Blood pressure panel with all children optional"), mdc("150020", "MDC_PRESS_BLD_NONINV")}, Text: "Blood pressure"},
		unit:       unitMmHg,
		categories: []CodeableConcept{categoryVitalSigns}, profiles: []string{profileVitals, "http://hl7.org/fhir/StructureDefinition/bp"}}
	kindHeartRate = kind{typeCode: "hr", typ: reading.HeartRate, code: codePulse, unit: unitPerMin,
		categories: []CodeableConcept{categoryVitalSigns}, profiles: []string{profileVitals, "http://hl7.org/fhir/StructureDefinition/heartrate"}}
	kindSpO2 = kind{typeCode: "spo2", typ: reading.SpO2,
		code: CodeableConcept{Coding: []Coding{loinc("2708-6", "Oxygen saturation in Arterial blood"),
			loinc("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"), mdc("150456", "MDC_PULS_OXIM_SAT_O2")}, Text: "Oxygen saturation (SpO2)"},
		unit:       unitPercent,
		categories: []CodeableConcept{categoryVitalSigns}, profiles: []string{profileVitals, "http://hl7.org/fhir/StructureDefinition/oxygensat"}}
	kindTemperature = kind{typeCode: "temp", typ: reading.Temperature,
		code:       CodeableConcept{Coding: []Coding{loinc("8310-5", "Body temperature"), mdc("150364", "MDC_TEMP_BODY")}, Text: "Body temperature"},
		unit:       unitCel,
		categories: []CodeableConcept{categoryVitalSigns}, profiles: []string{profileVitals, "http://hl7.org/fhir/StructureDefinition/bodytemp"}}
	kindWeight = kind{typeCode: "weight", typ: reading.Weight,
		code:       CodeableConcept{Coding: []Coding{loinc("29463-7", "Body weight"), mdc("188736", "MDC_MASS_BODY_ACTUAL")}, Text: "Body weight"},
		unit:       unitKg,
		categories: []CodeableConcept{categoryVitalSigns}, profiles: []string{profileVitals, "http://hl7.org/fhir/StructureDefinition/bodyweight"}}
	// Steps per day is an activity, not a vital sign; IEEE 11073 has no code in docs/domain.md.
	kindSteps = kind{typeCode: "steps", typ: reading.Steps,
		code:       CodeableConcept{Coding: []Coding{loinc("41950-7", "Number of steps in 24 hour Measured")}, Text: "Steps per day"},
		unit:       unitPerDay,
		categories: []CodeableConcept{categoryActivity}}
)

// kinds lists every kind of reading served. Events (fall, SOS, cancel) are no Observation.
var kinds = []*kind{&kindMeterGlucose, &kindCGMGlucose, &kindBP, &kindHeartRate, &kindSpO2, &kindTemperature, &kindWeight, &kindSteps}

// mgdLPerMmolL converts glucose, as docs/domain.md does.
const mgdLPerMmolL = 18.016

// kindOfType returns the kind of a reading of type t, from a CGM or not; nil for an event.
func kindOfType(t reading.Type, cgm bool) *kind {
	if t == reading.Glucose {
		if cgm {
			return &kindCGMGlucose
		}
		return &kindMeterGlucose
	}
	for _, k := range kinds {
		if k.typ == t {
			return k
		}
	}
	return nil
}

// typeOfCode returns the reading type whose Observation ids start with code.
func typeOfCode(code string) (reading.Type, bool) {
	for _, k := range kinds {
		if k.typeCode == code {
			return k.typ, true
		}
	}
	return "", false
}

// deviceType is a device kind's IEEE 11073 device specialization (docs/domain.md); wearables and
// stations have none, and are named in text only.
func deviceType(k devices.Kind) CodeableConcept {
	spec := map[devices.Kind]Coding{
		devices.GlucoseMeter: mdc("528401", "MDC_DEV_SPEC_PROFILE_GLUCOSE"),
		devices.BPCuff:       mdc("528391", "MDC_DEV_SPEC_PROFILE_BPM"),
		devices.Oximeter:     mdc("528388", "MDC_DEV_SPEC_PROFILE_PULS_OXIM"),
		devices.Thermometer:  mdc("528392", "MDC_DEV_SPEC_PROFILE_TEMP"),
		devices.Scale:        mdc("528399", "MDC_DEV_SPEC_PROFILE_SCALE"),
		devices.CGM:          mdc("528409", "MDC_DEV_SPEC_PROFILE_CGM"),
	}
	words := map[devices.Kind]string{
		devices.GlucoseMeter: "Glucose meter", devices.BPCuff: "Blood pressure monitor", devices.Oximeter: "Pulse oximeter",
		devices.Thermometer: "Thermometer", devices.Scale: "Weighing scale", devices.CGM: "Continuous glucose monitor",
		devices.Wearable: "Wearable", devices.Station: "Multi-parameter station",
	}
	cc := CodeableConcept{Text: words[k]}
	if cc.Text == "" {
		cc.Text = string(k)
	}
	if c, ok := spec[k]; ok {
		cc.Coding = []Coding{c}
	}
	return cc
}

// firmwareVersion is the type of a Device.version that is its firmware (MDC_ID_PROD_SPEC_FW).
var firmwareVersion = CodeableConcept{Coding: []Coding{mdc("531976", "MDC_ID_PROD_SPEC_FW")}, Text: "firmware"}

// ruleTitles names the clinical rules in words, as the web app does in English.
var ruleTitles = map[string]string{
	"glucose_low":        "Low glucose",
	"glucose_very_low":   "Very low glucose",
	"glucose_high":       "High glucose",
	"glucose_very_high":  "Very high glucose",
	"cgm_low_episode":    "CGM low glucose episode",
	"bp_crisis":          "Blood-pressure crisis",
	"bp_home_average":    "Home blood pressure above target",
	"bp_low":             "Low blood pressure",
	"spo2_low":           "Low SpO2",
	"heart_rate":         "Heart rate out of range",
	"fever":              "Fever",
	"weight_gain":        "Rapid weight gain",
	"fall":               "Fall",
	"sos":                "SOS call",
	"missed_measurement": "Missed measurement",
}
