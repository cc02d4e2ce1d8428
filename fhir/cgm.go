package fhir

import (
	"fmt"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/summary"
)

// The consensus CGM report of package summary as the Observations of the HL7 CGM IG (1.0.0):
// a CGM Summary Observation whose hasMember are the mean glucose (mg/dL and mmol/L), the times
// in the five ranges, the GMI, the coefficient of variation, the days of wear and the sensor's
// active percentage, each with the IG's code (LOINC, and the IG's own code for the summary
// itself, which LOINC does not have yet) and the units its profiles fix.

// summaryPart is one Observation of the CGM summary.
type summaryPart struct {
	name    string // in the id
	profile string // the CGM IG's profile
	code    CodeableConcept
}

// The parts, in the order the summary lists them.
var (
	partSummary = summaryPart{"summary", "cgm-summary",
		CodeableConcept{Coding: []Coding{{System: systemCGMTemp, Code: "cgm-summary", Display: "CGM Summary Report"}}, Text: "CGM summary"}}
	partMeanMass = summaryPart{"meanmass", "cgm-summary-mean-glucose-mass-per-volume",
		CodeableConcept{Coding: []Coding{{System: systemLOINC, Code: "97507-8"}}, Text: "Mean glucose (mg/dL)"}}
	partMeanMolar = summaryPart{"meanmolar", "cgm-summary-mean-glucose-moles-per-volume",
		CodeableConcept{Coding: []Coding{{System: systemLOINC, Code: "105273-7"}}, Text: "Mean glucose (mmol/L)"}}
	partRanges = summaryPart{"tir", "cgm-summary-times-in-ranges",
		CodeableConcept{Coding: []Coding{{System: systemLOINC, Code: "106793-3"}}, Text: "Times in glucose ranges"}}
	partGMI = summaryPart{"gmi", "cgm-summary-gmi",
		CodeableConcept{Coding: []Coding{{System: systemLOINC, Code: "97506-0"}}, Text: "Glucose management indicator (GMI)"}}
	partCV = summaryPart{"cv", "cgm-summary-coefficient-of-variation",
		CodeableConcept{Coding: []Coding{{System: systemLOINC, Code: "104638-2"}}, Text: "Coefficient of variation of glucose"}}
	partWear = summaryPart{"wear", "cgm-summary-days-of-wear",
		CodeableConcept{Coding: []Coding{{System: systemLOINC, Code: "104636-6"}}, Text: "CGM days of wear"}}
	partActive = summaryPart{"active", "cgm-summary-sensor-active-percentage",
		CodeableConcept{Coding: []Coding{{System: systemLOINC, Code: "104637-4"}}, Text: "CGM sensor active percentage"}}

	summaryParts = []summaryPart{partSummary, partMeanMass, partMeanMolar, partRanges, partGMI, partCV, partWear, partActive}
)

// rangeCodes are the times in ranges' components, in the order of summary.Bands (level-2 low to
// level-2 high): very low, low, target, high, very high.
var rangeCodes = []CodeableConcept{
	{Coding: []Coding{{System: systemLOINC, Code: "104642-4"}}, Text: "Time in very low range (below 3.0 mmol/L, 54 mg/dL)"},
	{Coding: []Coding{{System: systemLOINC, Code: "104641-6"}}, Text: "Time in low range (3.0-3.8 mmol/L, 54-69 mg/dL)"},
	{Coding: []Coding{{System: systemLOINC, Code: "97510-2"}}, Text: "Time in target range (3.9-10.0 mmol/L, 70-180 mg/dL)"},
	{Coding: []Coding{{System: systemLOINC, Code: "104640-8"}}, Text: "Time in high range (10.1-13.9 mmol/L, 181-250 mg/dL)"},
	{Coding: []Coding{{System: systemLOINC, Code: "104639-0"}}, Text: "Time in very high range (above 13.9 mmol/L, 250 mg/dL)"},
}

// summaryPartNamed returns the part whose id name is name.
func summaryPartNamed(name string) (summaryPart, bool) {
	for _, p := range summaryParts {
		if p.name == name {
			return p, true
		}
	}
	return summaryPart{}, false
}

// cgmReport is a patient's CGM report with what its Observations need.
type cgmReport struct {
	Patient string
	Loc     *time.Location
	CGM     summary.CGM
}

// lastDay is the report's last local day, at midnight UTC as in its ids.
func (r cgmReport) lastDay() time.Time {
	y, m, d := r.CGM.Period.To.In(r.Loc).AddDate(0, 0, -1).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// id is the id of the report's part.
func (r cgmReport) id(p summaryPart) string {
	return summaryID(p.name, r.lastDay(), r.CGM.Period.Days, r.Patient)
}

// observations returns the report's Observations, the summary first; none when the patient
// had no CGM reading in the period.
func (r cgmReport) observations() []Observation {
	c := r.CGM
	if c.Readings == 0 {
		return nil
	}
	pct := func(v float64) *Quantity { return unitPercent.quantity(round(v, 2)) }
	out := make([]Observation, 0, len(summaryParts))
	for _, p := range summaryParts {
		o := r.base(p)
		switch p.name {
		case partSummary.name:
			for _, m := range summaryParts[1:] {
				o.HasMember = append(o.HasMember, Reference{Reference: "Observation/" + r.id(m)})
			}
			o.Note = r.notes()
		case partMeanMass.name:
			o.ValueQuantity = unitMgdLCGM.quantity(round(c.Mean.MgdL(), 1))
		case partMeanMolar.name:
			o.ValueQuantity = unitMmolCGM.quantity(round(float64(c.Mean), 2))
		case partRanges.name:
			for i, b := range c.Bands {
				o.Component = append(o.Component, ObservationComponent{Code: rangeCodes[i], ValueQuantity: pct(b.Percent)})
			}
		case partGMI.name:
			o.ValueQuantity = pct(c.GMI)
		case partCV.name:
			o.ValueQuantity = pct(c.CV)
		case partWear.name:
			// The days the sensor's readings stand for (see summary.CGMReport): gaps longer
			// than a reading's slot count as not worn.
			o.ValueQuantity = unitDays.quantity(round(c.CoveredMinutes/(24*60), 1))
		case partActive.name:
			o.ValueQuantity = pct(c.SensorActive)
		}
		out = append(out, o)
	}
	return out
}

// base is the Observation of part p without its value.
func (r cgmReport) base(p summaryPart) Observation {
	subject := patientRef(r.Patient)
	last := r.lastDay()
	first := last.AddDate(0, 0, 1-r.CGM.Period.Days)
	return Observation{ResourceType: "Observation", ID: r.id(p), Meta: &Meta{Profile: []string{profileCGMBase + p.profile}},
		Identifier: []Identifier{{System: systemSummary, Value: r.id(p)}},
		Status:     "final", Category: []CodeableConcept{categoryLaboratory}, Code: p.code, Subject: &subject,
		EffectivePeriod: &Period{Start: first.Format(time.DateOnly), End: last.Format(time.DateOnly)}}
}

// notes say how the report was made and what a reader should know of it.
func (r cgmReport) notes() []Annotation {
	c := r.CGM
	notes := []Annotation{{Text: fmt.Sprintf("International consensus CGM report over the %d local days %s to %s (%s): %d readings; targets %s",
		c.Period.Days, r.lastDay().AddDate(0, 0, 1-c.Period.Days).Format(time.DateOnly), r.lastDay().Format(time.DateOnly), r.Loc,
		c.Readings, c.TargetSet)}}
	var unmet []string
	for _, t := range c.Targets {
		if !t.Met {
			unmet = append(unmet, string(t.Metric))
		}
	}
	if len(unmet) > 0 {
		notes = append(notes, Annotation{Text: "Targets not met: " + strings.Join(unmet, ", ")})
	}
	for _, f := range c.Flags {
		switch f {
		case summary.FlagShortPeriod:
			notes = append(notes, Annotation{Text: "The period is shorter than the 14 days an AGP report needs"})
		case summary.FlagLowSensorActivity:
			notes = append(notes, Annotation{Text: "The sensor was active for less than the 70% of the period an AGP report needs"})
		}
	}
	if c.Excluded.Readings > 0 {
		var why []string
		for _, rc := range c.Excluded.ByReason {
			why = append(why, fmt.Sprintf("%s %d", rc.Reason, rc.Readings))
		}
		notes = append(notes, Annotation{Text: fmt.Sprintf("%d CGM readings in doubt left out (%s)", c.Excluded.Readings, strings.Join(why, ", "))})
	}
	return notes
}
