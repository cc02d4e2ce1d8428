package summary_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

func meter(t time.Time, context string, v float64) reading.Reading {
	return reading.Reading{Type: reading.Glucose, Source: "fingerstick", Context: context, Time: t, Value: v}
}

func TestMeterReport(t *testing.T) {
	rs := []reading.Reading{
		meter(at(1, 7, 0), "fasting", 5.0),
		meter(at(1, 13, 0), "after_meal", 11.0),
		meter(at(2, 7, 0), "fasting", 7.0),
		meter(at(2, 22, 0), "bedtime", 2.8),
		{Type: reading.Glucose, Time: at(3, 12, 0), Value: 17.5}, // no source, no context
		meter(at(3, 23, 30), "random", 3.5),
		meter(at(14, 23, 59), "before_meal", 6.0), // the last minute of the period, local time
		meter(at(15, 0, 0), "fasting", 20),        // today: 16:00 UTC on the 14th, still not in it
		meter(at(1, 0, 0).Add(-time.Minute), "fasting", 20),
		cgm(at(2, 8, 0), 20),
	}
	p := summary.DaysBefore(at(15, 9, 0), shanghai, 14)
	got := summary.MeterReport(rs, shanghai, p, summary.DefaultMeterTargets())
	if got.Readings != 7 || got.DaysWithReadings != 4 || !approx(got.PerDay, 7.0/14, 1e-12) || len(got.Flags) != 0 {
		t.Errorf("Readings %d, days %d, per day %v, flags %v; want 7, 4, 0.5, none", got.Readings, got.DaysWithReadings, got.PerDay, got.Flags)
	}
	if got.Fasting != (summary.ContextStats{Context: "fasting", Readings: 2, Mean: 6}) {
		t.Errorf("Fasting = %+v; want 2 readings, mean 6.0", got.Fasting)
	}
	wantCtx := []summary.ContextStats{{"fasting", 2, 6}, {"before_meal", 1, 6}, {"after_meal", 1, 11}, {"bedtime", 1, 2.8},
		{"random", 1, 3.5}, {summary.ContextUnspecified, 1, 17.5}}
	if !slices.Equal(got.ByContext, wantCtx) {
		t.Errorf("ByContext = %+v; want %+v", got.ByContext, wantCtx)
	}
	wantBands := []summary.BandCount{{summary.BandBelow3_0, 1, 100.0 / 7}, {summary.Band3_0To3_8, 1, 100.0 / 7},
		{summary.Band3_9To10_0, 3, 300.0 / 7}, {summary.Band10_1To13_9, 1, 100.0 / 7}, {summary.BandAbove13_9, 1, 100.0 / 7}}
	if !slices.Equal(got.Bands, wantBands) || got.VeryHigh != (summary.BandCount{summary.BandAbove16_7, 1, 100.0 / 7}) {
		t.Errorf("Bands %+v, VeryHigh %+v; want %+v, one above 16.7", got.Bands, got.VeryHigh, wantBands)
	}
	if mg := got.Fasting.Mean.MgdL(); !approx(mg, 108.096, 1e-9) {
		t.Errorf("mean fasting = %v mg/dL; want 108.096", mg)
	}
}

func TestMeterReportNoData(t *testing.T) {
	got := summary.MeterReport([]reading.Reading{cgm(at(2, 8, 0), 6)}, shanghai, summary.DaysBefore(at(15, 9, 0), shanghai, 14), summary.DefaultMeterTargets())
	if got.Readings != 0 || !slices.Equal(got.Flags, []summary.Flag{summary.FlagNoData}) || got.Fasting.Mean != 0 || len(got.Bands) != 5 {
		t.Errorf("MeterReport without meter readings = %+v; want no_data", got)
	}
}
