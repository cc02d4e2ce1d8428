package summary_test

import (
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

func vital(typ reading.Type, t time.Time, v float64) reading.Reading {
	return reading.Reading{Type: typ, Time: t, Value: v}
}

func TestVitalsReport(t *testing.T) {
	rs := []reading.Reading{
		vital(reading.SpO2, at(8, 23, 0), 80), // before the 7 days (Mar 9-15)
		vital(reading.SpO2, at(9, 0, 30), 96),
		vital(reading.SpO2, at(12, 10, 0), 94),
		vital(reading.SpO2, at(15, 8, 0), 97),
		vital(reading.SpO2, at(15, 10, 0), 85), // after asOf
		vital(reading.HeartRate, at(10, 8, 0), 60), vital(reading.HeartRate, at(11, 8, 0), 90),
		vital(reading.HeartRate, at(12, 8, 0), 80), vital(reading.HeartRate, at(13, 8, 0), 70),
		vital(reading.Temperature, at(1, 8, 0), 36.8),
		vital(reading.Weight, time.Date(2026, 2, 10, 7, 0, 0, 0, shanghai), 80.0),
		vital(reading.Weight, time.Date(2026, 2, 14, 7, 0, 0, 0, shanghai), 79.0),
		vital(reading.Weight, at(11, 7, 0), 80.5),
		vital(reading.Weight, at(12, 7, 0), 81.0),
		vital(reading.Weight, at(14, 7, 0), 82.0),
		vital(reading.Weight, at(15, 7, 0), 83.0),
	}
	got := summary.VitalsReport(rs, shanghai, at(15, 9, 0))
	if !got.Period.From.Equal(at(9, 0, 0)) || !got.Period.To.Equal(at(16, 0, 0)) {
		t.Errorf("Period = %+v; want Mar 9-15", got.Period)
	}
	if s := got.SpO2; s.Readings != 3 || s.Min != 94 || s.Median != 96 || s.Max != 97 || s.Latest == nil || s.Latest.Value != 97 {
		t.Errorf("SpO2 = %+v; want 3 readings 94/96/97, latest 97", s)
	}
	if h := got.HeartRate; h.Readings != 4 || h.Min != 60 || h.Median != 75 || h.Max != 90 || h.Latest.Value != 70 {
		t.Errorf("HeartRate = %+v; want 60/75/90, latest 70", h)
	}
	if tc := got.Temperature; tc.Readings != 0 || tc.Latest == nil || tc.Latest.Value != 36.8 || tc.Median != 0 {
		t.Errorf("Temperature = %+v; want none in the 7 days, latest 36.8 of Mar 1", tc)
	}
	if got.Weight == nil || got.Weight.Value != 83 {
		t.Fatalf("Weight = %+v; want 83.0", got.Weight)
	}
	// 3 days: from the first weight on or after Mar 12 (81.0); 30 days: on or after Feb 13
	// (79.0 of Feb 14, not 80.0 of Feb 10).
	if c := got.Over3Days; c == nil || c.Days != 3 || !approx(c.Kg, 2, 1e-9) || c.From.Value != 81 {
		t.Errorf("Over3Days = %+v; want +2.0 kg from 81.0", c)
	}
	if c := got.Over30Days; c == nil || c.Days != 30 || !approx(c.Kg, 4, 1e-9) || c.From.Value != 79 {
		t.Errorf("Over30Days = %+v; want +4.0 kg from 79.0", c)
	}
	one := summary.VitalsReport([]reading.Reading{vital(reading.Weight, at(15, 7, 0), 70)}, shanghai, at(15, 9, 0))
	if one.Weight == nil || one.Over3Days != nil || one.Over30Days != nil || one.SpO2.Latest != nil {
		t.Errorf("VitalsReport of one weight = %+v; want the weight and no change", one)
	}
}
