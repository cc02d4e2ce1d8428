package summary_test

import (
	"slices"
	"testing"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// A patient in Shanghai with a CGM and a home cuff, summarised on Mar 29 at 09:00: the care
// plans choose the CGM targets and, as the missed_measurement rule reads them, the types whose
// adherence counts.
func TestCompute(t *testing.T) {
	plans := []string{"insulin-treated diabetes, older adult: CGM", "hypertension: BP daily"}
	asOf := at(29, 9, 0)
	p := summary.DaysBefore(asOf, shanghai, 14) // Mar 15-28
	readings := trace(p)
	var home []reading.Reading
	// The case: the cuff's first day (Mar 22) at 190/110, then Mar 23-28 at 130/80.
	for d := 22; d <= 28; d++ {
		sys, dia := 130.0, 80.0
		if d == 22 {
			sys, dia = 190, 110
		}
		for _, h := range []int{7, 21} {
			home = append(home, reading.Reading{Type: reading.BP, Time: at(d, h, 0), Systolic: sys, Diastolic: dia})
		}
	}
	readings = append(readings, home...)
	readings = append(readings, meter(at(28, 7, 0), "fasting", 6.5), vital(reading.Weight, at(29, 7, 0), 70))

	got := summary.Compute(summary.Input{AsOf: asOf, Loc: shanghai, Plans: plans, PlanTypes: rules.PlanTypes(plans),
		Readings: readings, HomeBP: home})

	if !got.AsOf.Equal(asOf) || got.AsOf.Location() != shanghai {
		t.Errorf("AsOf = %v; want %v in Shanghai", got.AsOf, asOf)
	}
	if c := got.CGM; c.TargetSet != summary.OlderHighRiskTargets || len(c.Targets) != 4 || !c.AGP.Reportable || c.Readings == 0 || !c.Period.From.Equal(at(15, 0, 0)) {
		t.Errorf("CGM: targets %s (%d), AGP reportable %v, %d readings from %v; want older/high-risk, reportable, Mar 15-28",
			c.TargetSet, len(c.Targets), c.AGP.Reportable, c.Readings, c.Period.From)
	}
	if m := got.Meter; m.Readings != 1 || m.Fasting.Mean != 6.5 {
		t.Errorf("Meter = %+v; want one fasting reading of 6.5", m)
	}
	if h := got.HomeBP; h.AtOrAboveTarget || h.Days != 6 || h.Mean.Systolic != 130 || h.Mean.Diastolic != 80 || !h.Day1.Equal(at(22, 0, 0)) {
		t.Errorf("HomeBP = %+v; want 130/80 on 6 days, day 1 (Mar 22) left out, below target", h)
	}
	var types []reading.Type
	for _, a := range got.Adherence.Types {
		types = append(types, a.Type)
	}
	if !slices.Equal(types, []reading.Type{reading.Glucose, reading.BP}) || got.Adherence.Types[1].Days != 7 {
		t.Errorf("Adherence = %+v; want glucose, then bp on 7 days", got.Adherence.Types)
	}
	if got.Vitals.Weight == nil || got.Vitals.Weight.Value != 70 {
		t.Errorf("Vitals.Weight = %+v; want 70", got.Vitals.Weight)
	}
}

func TestSince(t *testing.T) {
	// The weight change over 30 days looks back to the local day 30 days before today.
	if got, want := summary.Since(at(31, 9, 0), shanghai, 0), at(1, 0, 0); !got.Equal(want) {
		t.Errorf("Since(Mar 31) = %v; want %v", got, want)
	}
}
