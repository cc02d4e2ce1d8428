package summary_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// Readings in doubt count for no figure, each report counts its own, and adherence still sees
// that the patient measured.
func TestComputeLeavesDoubtfulReadingsOut(t *testing.T) {
	asOf := at(15, 9, 0) // glucose period Mar 1-14, vitals Mar 9-15, home window Mar 8-14
	var good []reading.Reading
	// CGM on Mar 10 00:00-00:55, every 5 minutes: 12 readings of 6.0 (all in range).
	for i := range 12 {
		good = append(good, cgm(at(10, 0, 5*i), 6))
	}
	doubt := func(r reading.Reading, home bool, reasons ...string) summary.Doubtful {
		return summary.Doubtful{Reading: r, Reasons: reasons, Home: home}
	}
	bpAt := func(t time.Time, sys, dia float64) reading.Reading {
		return reading.Reading{Type: reading.BP, Time: t, Systolic: sys, Diastolic: dia}
	}
	// Home BP 130/80 morning and evening Mar 1-14: the series began before the window.
	var home []reading.Reading
	for d := 1; d <= 14; d++ {
		home = append(home, bpAt(at(d, 7, 0), 130, 80), bpAt(at(d, 20, 0), 130, 80))
	}
	good = append(good, home...)
	good = append(good, meter(at(3, 7, 0), "fasting", 6.0), meter(at(4, 7, 0), "fasting", 8.0), vital(reading.SpO2, at(14, 8, 0), 97))
	doubtful := []summary.Doubtful{
		// Two CGM lows that, counted, would take 10 of 70 minutes below range and move the mean.
		doubt(cgm(at(10, 1, 0), 2.2), true, "sensor_malfunction"),
		doubt(cgm(at(10, 1, 5), 2.2), true, "sensor_malfunction", "calibration_required"),
		doubt(cgm(at(16, 1, 0), 2.2), true, "sensor_malfunction"),                 // after the period: not counted
		doubt(meter(at(4, 8, 0), "fasting", 25), true, "strip_error"),             // a meter's
		doubt(bpAt(at(12, 7, 5), 210, 120), true, "cuff_loose"),                   // home, in the window
		doubt(bpAt(at(12, 9, 0), 190, 100), false, "body_movement"),               // a station's: not home
		doubt(bpAt(at(2, 7, 5), 200, 110), true, "cuff_loose"),                    // home, before the window
		doubt(vital(reading.SpO2, at(14, 9, 0), 80), true, "low_perfusion"),       // in the vitals window
		doubt(vital(reading.SpO2, at(14, 9, 5), 81), true, "calibration_overdue"), // also
	}
	got := summary.Compute(summary.Input{AsOf: asOf, Loc: shanghai, PlanTypes: []reading.Type{reading.Glucose, reading.SpO2},
		Readings: good, Doubtful: doubtful, HomeBP: home})

	c := got.CGM
	if c.Readings != 12 || c.Mean != 6 || c.CoveredMinutes != 60 || c.Bands[0].Percent != 0 || len(c.Episodes) != 0 {
		t.Errorf("CGM = %d readings, mean %v, %v min, %v%% below 3.0; want 12 of 6.0 over 60 min, none low",
			c.Readings, c.Mean, c.CoveredMinutes, c.Bands[0].Percent)
	}
	wantCGM := summary.Excluded{Readings: 2, ByReason: []summary.ReasonCount{{"sensor_malfunction", 2}, {"calibration_required", 1}}}
	if !equalExcluded(c.Excluded, wantCGM) {
		t.Errorf("CGM.Excluded = %+v; want %+v", c.Excluded, wantCGM)
	}
	if m := got.Meter; m.Readings != 2 || m.Fasting.Mean != 7 || !equalExcluded(m.Excluded, summary.Excluded{Readings: 1,
		ByReason: []summary.ReasonCount{{"strip_error", 1}}}) {
		t.Errorf("Meter = %d readings, fasting mean %v, excluded %+v; want 2, 7.0, one strip_error", m.Readings, m.Fasting.Mean, m.Excluded)
	}
	if h := got.HomeBP; h.Mean.Systolic != 130 || h.Readings != 14 || !equalExcluded(h.Excluded, summary.Excluded{Readings: 1,
		ByReason: []summary.ReasonCount{{"cuff_loose", 1}}}) {
		t.Errorf("HomeBP = %v over %d, excluded %+v; want 130 over 14, one cuff_loose", h.Mean, h.Readings, h.Excluded)
	}
	if s := got.Vitals.SpO2; s.Readings != 1 || s.Min != 97 || s.Latest == nil || s.Latest.Value != 97 || s.Excluded.Readings != 2 {
		t.Errorf("SpO2 = %+v; want one reading of 97, 2 excluded", s)
	}
	// The patient measured glucose on Mar 3, 4 and 10 (and Mar 16 is after today): the
	// doubtful CGM and meter readings add no day, but the doubtful SpO2 is on Mar 14 as the good.
	if a := got.Adherence.Types; a[0].Days != 3 || a[1].Days != 1 || a[1].Last == nil || a[1].Last.Value != 81 {
		t.Errorf("Adherence = %+v; want glucose on 3 days, SpO2 on 1, its last the doubtful 81", a)
	}
}

func equalExcluded(a, b summary.Excluded) bool {
	return a.Readings == b.Readings && slices.Equal(a.ByReason, b.ByReason)
}

// The meter's target range and very high band are the patient's thresholds.
func TestMeterReportTargets(t *testing.T) {
	rs := []reading.Reading{
		meter(at(1, 7, 0), "fasting", 4.2),
		meter(at(1, 13, 0), "after_meal", 9.0),
		meter(at(2, 7, 0), "fasting", 10.0),
		meter(at(2, 13, 0), "after_meal", 15.5),
	}
	p := summary.DaysBefore(at(15, 9, 0), shanghai, 14)
	def := summary.MeterReport(rs, shanghai, p, summary.DefaultMeterTargets())
	if def.InTarget != (summary.BandCount{Band: summary.BandInTarget, Readings: 3, Percent: 75}) || def.VeryHigh.Readings != 0 {
		t.Errorf("default targets: InTarget %+v, VeryHigh %+v; want 3 of 4 (3.9-10.0), none above 16.7", def.InTarget, def.VeryHigh)
	}
	// A team's glucose_low.below of 4.4 and a glucose_high.above of 9.0: 4.4-9.0; very high above 15.
	got := summary.MeterReport(rs, shanghai, p, summary.MeterTargets{Low: 4.4, High: 9.0, VeryHigh: 15})
	if got.InTarget != (summary.BandCount{Band: summary.BandInTarget, Readings: 1, Percent: 25}) ||
		got.VeryHigh != (summary.BandCount{Band: summary.BandAbove16_7, Readings: 1, Percent: 25}) || got.Targets.Low != 4.4 {
		t.Errorf("4.4-9.0: InTarget %+v, VeryHigh %+v; want 1 of 4 (9.0), 1 above 15", got.InTarget, got.VeryHigh)
	}
	// The consensus bands do not move with the targets.
	if got.Bands[2].Readings != 3 {
		t.Errorf("Bands = %+v; want 3 in 3.9-10.0", got.Bands)
	}
}

// A 90-day glucose period reads back 90 days and reports them.
func TestComputeGlucoseDays(t *testing.T) {
	asOf := time.Date(2026, 5, 30, 9, 0, 0, 0, shanghai)
	if got, want := summary.Since(asOf, shanghai, 90), time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai); !got.Equal(want) {
		t.Errorf("Since(May 30, 90 days) = %v; want Mar 1", got)
	}
	if got, want := summary.Since(asOf, shanghai, 14), time.Date(2026, 4, 30, 0, 0, 0, 0, shanghai); !got.Equal(want) {
		t.Errorf("Since(May 30, 14 days) = %v; want Apr 30, the 30-day weight window", got)
	}
	// One CGM reading of 5.0 on Mar 1 00:00 and one of 9.0 on May 29 23:55.
	rs := []reading.Reading{cgm(time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai), 5), cgm(time.Date(2026, 5, 29, 23, 55, 0, 0, shanghai), 9)}
	got := summary.Compute(summary.Input{AsOf: asOf, Loc: shanghai, GlucoseDays: 90, Readings: rs})
	if c := got.CGM; c.Period.Days != 90 || c.Readings != 2 || c.Mean != 7 || slices.Contains(c.Flags, summary.FlagShortPeriod) {
		t.Errorf("90 days: %d days, %d readings, mean %v, flags %v; want 90, 2, 7.0, no short_period", c.Period.Days, c.Readings, c.Mean, c.Flags)
	}
	if c := summary.Compute(summary.Input{AsOf: asOf, Loc: shanghai, Readings: rs}).CGM; c.Readings != 1 || c.Period.Days != 14 {
		t.Errorf("default: %d days, %d readings; want 14 days, 1", c.Period.Days, c.Readings)
	}
}
