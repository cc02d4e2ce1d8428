package summary_test

import (
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

func TestAdherenceReport(t *testing.T) {
	var rs []reading.Reading
	for d := 1; d <= 20; d++ { // BP on Mar 1-20 at 07:00 local, 23:00 UTC the day before
		rs = append(rs, reading.Reading{Type: reading.BP, Time: at(d, 7, 0), Systolic: 130, Diastolic: 80})
	}
	for d := 2; d <= 30; d += 2 { // glucose on the even days, twice
		rs = append(rs, meter(at(d, 8, 0), "fasting", 6), meter(at(d, 8, 30), "after_meal", 8))
	}
	rs = append(rs,
		reading.Reading{Type: reading.BP, Time: at(1, 0, 0).Add(-time.Hour), Systolic: 130, Diastolic: 80}, // Feb 28: before the 30 days
		meter(at(30, 10, 0), "random", 6), // after asOf
		reading.Reading{Type: reading.Weight, Time: at(5, 7, 0), Value: 70})
	got := summary.AdherenceReport(rs, shanghai, at(30, 9, 0), []reading.Type{reading.BP, reading.Glucose})
	if !got.Period.From.Equal(at(1, 0, 0)) || !got.Period.To.Equal(at(31, 0, 0)) || got.Yardstick != 16 {
		t.Errorf("Period %+v, yardstick %d; want Mar 1-30, 16", got.Period, got.Yardstick)
	}
	if len(got.Types) != 2 {
		t.Fatalf("Types = %+v; want bp and glucose", got.Types)
	}
	bp, gl := got.Types[0], got.Types[1]
	if bp.Type != reading.BP || bp.Days != 20 || !bp.MeetsYardstick || bp.Last == nil || !bp.Last.Time.Equal(at(20, 7, 0)) {
		t.Errorf("bp = %+v; want 20 days, meets 16 of 30, last Mar 20 07:00", bp)
	}
	if gl.Type != reading.Glucose || gl.Days != 15 || gl.MeetsYardstick || gl.Last == nil || !gl.Last.Time.Equal(at(30, 8, 30)) {
		t.Errorf("glucose = %+v; want 15 days, short of 16, last Mar 30 08:30", gl)
	}
	if got.AllTypesDays != 10 { // the even days of Mar 1-20
		t.Errorf("AllTypesDays = %d; want 10", got.AllTypesDays)
	}
	none := summary.AdherenceReport(rs, shanghai, at(30, 9, 0), nil)
	if len(none.Types) != 0 || none.AllTypesDays != 0 {
		t.Errorf("AdherenceReport without plan types = %+v; want nothing", none)
	}
	never := summary.AdherenceReport(rs, shanghai, at(30, 9, 0), []reading.Type{reading.SpO2})
	if a := never.Types[0]; a.Days != 0 || a.Last != nil || a.MeetsYardstick {
		t.Errorf("spo2 = %+v; want no day, no last reading", a)
	}
}
