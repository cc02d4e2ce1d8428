package summary_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// shanghai is a patient's site time zone, UTC+8 without daylight saving.
var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// at is a local time in Shanghai on a day of March 2026.
func at(day, hour, minute int) time.Time {
	return time.Date(2026, 3, day, hour, minute, 0, 0, shanghai)
}

// homeDays are morning (07:00) and evening (20:00) readings on days from..to of March.
func homeDays(from, to int, sys, dia float64) []summary.BPReading {
	var out []summary.BPReading
	for d := from; d <= to; d++ {
		out = append(out, summary.BPReading{Time: at(d, 7, 0), Systolic: sys, Diastolic: dia},
			summary.BPReading{Time: at(d, 20, 0), Systolic: sys, Diastolic: dia})
	}
	return out
}

func bpAt(t time.Time, sys, dia float64) summary.BPReading {
	return summary.BPReading{Time: t, Systolic: sys, Diastolic: dia}
}

// The case: a new patient's first day at 190/110, then six days at 130/80. Day 1 of
// the series is left out, so the mean is 130/80, below target, on the morning after day 7 and
// on every morning before it.
func TestHomeAverageDiscardsTheFirstMeasuringDay(t *testing.T) {
	home := slices.Concat(homeDays(1, 1, 190, 110), homeDays(2, 7, 130, 80))
	got := summary.HomeAverage(home, time.Time{}, shanghai, at(8, 9, 0), summary.DefaultHomeProtocol())
	want := summary.BPMean{Systolic: 130, Diastolic: 80, Readings: 12}
	if got.AtOrAboveTarget || got.Mean != want || got.Days != 6 || got.Readings != 12 || !got.Enough {
		t.Errorf("HomeAverage on day 8 = %+v; want mean %v on 6 days, below target", got, want)
	}
	if !got.Day1.Equal(at(1, 0, 0)) {
		t.Errorf("Day1 = %v; want %v", got.Day1, at(1, 0, 0))
	}
	for d := 2; d <= 8; d++ {
		if got := summary.HomeAverage(home, time.Time{}, shanghai, at(d, 9, 0), summary.DefaultHomeProtocol()); got.AtOrAboveTarget {
			t.Errorf("HomeAverage on day %d = %+v; want below target", d, got)
		}
	}
}

func TestHomeAverage(t *testing.T) {
	evening := func(day int, sys, dia float64) summary.BPReading { return bpAt(at(day, 20, 30), sys, dia) }
	tests := []struct {
		name   string
		home   []summary.BPReading
		before time.Time
		want   summary.HomeBP // Period, Target, Used and Flags are checked apart
		flags  []summary.Flag
	}{
		{"a week from day 1: six days averaged", homeDays(8, 14, 140, 88), time.Time{},
			summary.HomeBP{Day1: at(8, 0, 0), Days: 6, Readings: 12, Mean: summary.BPMean{140, 88, 12},
				Morning: summary.BPMean{140, 88, 6}, Evening: summary.BPMean{140, 88, 6}, Enough: true, AtOrAboveTarget: true}, nil},
		// Mornings 140/90 and evenings 130/80 on days 2-7 of the series: mean 135/85, at target is above.
		{"morning and evening apart", slices.Concat(
			[]summary.BPReading{bpAt(at(8, 7, 0), 200, 120)},
			func() (out []summary.BPReading) {
				for d := 9; d <= 14; d++ {
					out = append(out, bpAt(at(d, 6, 30), 140, 90), bpAt(at(d, 21, 15), 130, 80))
				}
				return out
			}()), time.Time{},
			summary.HomeBP{Day1: at(8, 0, 0), Days: 6, Readings: 12, Mean: summary.BPMean{135, 85, 12},
				Morning: summary.BPMean{140, 90, 6}, Evening: summary.BPMean{130, 80, 6}, Enough: true, AtOrAboveTarget: true}, nil},
		// A series that began before the window: every day counts, the high first day of the
		// window included: (6 x 130 + 170) / 7 = 135.71, (6 x 80 + 100) / 7 = 82.86.
		{"series began before the window", slices.Concat(homeDays(1, 7, 130, 80), homeDays(8, 8, 170, 100), homeDays(9, 14, 130, 80)), time.Time{},
			summary.HomeBP{Days: 7, Readings: 14, Mean: summary.BPMean{950.0 / 7, 580.0 / 7, 14},
				Morning: summary.BPMean{950.0 / 7, 580.0 / 7, 7}, Evening: summary.BPMean{950.0 / 7, 580.0 / 7, 7}, Enough: true, AtOrAboveTarget: true}, nil},
		// The same week, with only the time of the last reading before it known (the alert
		// engine's case): Mar 7 is within 3 days of Mar 8, so the series began before.
		{"series began before, known by before", slices.Concat(homeDays(8, 8, 170, 100), homeDays(9, 14, 130, 80)), at(7, 20, 0),
			summary.HomeBP{Days: 7, Readings: 14, Mean: summary.BPMean{950.0 / 7, 580.0 / 7, 14},
				Morning: summary.BPMean{950.0 / 7, 580.0 / 7, 7}, Evening: summary.BPMean{950.0 / 7, 580.0 / 7, 7}, Enough: true, AtOrAboveTarget: true}, nil},
		{"a gap of 3 days starts a new series", slices.Concat(homeDays(1, 4, 170, 100), homeDays(8, 8, 190, 110), homeDays(9, 14, 130, 80)), time.Time{},
			summary.HomeBP{Day1: at(8, 0, 0), Days: 6, Readings: 12, Mean: summary.BPMean{130, 80, 12},
				Morning: summary.BPMean{130, 80, 6}, Evening: summary.BPMean{130, 80, 6}, Enough: true}, nil},
		{"afternoon readings are not part of it", slices.Concat(homeDays(1, 14, 130, 80), []summary.BPReading{bpAt(at(10, 15, 0), 200, 120)}), time.Time{},
			summary.HomeBP{Days: 7, Readings: 14, Mean: summary.BPMean{130, 80, 14},
				Morning: summary.BPMean{130, 80, 7}, Evening: summary.BPMean{130, 80, 7}, Enough: true}, nil},
		{"fewer than 3 days is not judged", []summary.BPReading{evening(11, 150, 95), evening(12, 150, 95), evening(13, 150, 95)}, time.Time{},
			summary.HomeBP{Day1: at(11, 0, 0), Days: 2, Readings: 2, Mean: summary.BPMean{150, 95, 2}, Evening: summary.BPMean{150, 95, 2}},
			[]summary.Flag{summary.FlagTooFewDays}},
		{"today's readings wait for tomorrow", homeDays(15, 15, 190, 110), time.Time{},
			summary.HomeBP{}, []summary.Flag{summary.FlagNoData}},
	}
	for _, tt := range tests {
		got := summary.HomeAverage(tt.home, tt.before, shanghai, at(15, 9, 0), summary.DefaultHomeProtocol())
		if !got.Period.From.Equal(at(8, 0, 0)) || !got.Period.To.Equal(at(15, 0, 0)) || got.Period.Days != 7 {
			t.Errorf("%s: Period = %+v; want Mar 8-14 in Shanghai", tt.name, got.Period)
		}
		if got.Target != (summary.BPMean{Systolic: 135, Diastolic: 85}) || len(got.Used) != got.Readings || !slices.Equal(got.Flags, tt.flags) {
			t.Errorf("%s: Target %v, Used %v, Flags %v; want 135/85, %d used, flags %v", tt.name, got.Target, got.Used, got.Flags, got.Readings, tt.flags)
		}
		if !near(got.Mean.Systolic, tt.want.Mean.Systolic) || !near(got.Mean.Diastolic, tt.want.Mean.Diastolic) ||
			!near(got.Morning.Systolic, tt.want.Morning.Systolic) || !near(got.Evening.Systolic, tt.want.Evening.Systolic) {
			t.Errorf("%s: means %v, morning %v, evening %v; want %v, %v, %v", tt.name, got.Mean, got.Morning, got.Evening,
				tt.want.Mean, tt.want.Morning, tt.want.Evening)
		}
		if !got.Day1.Equal(tt.want.Day1) || got.Days != tt.want.Days || got.Readings != tt.want.Readings ||
			got.Mean.Readings != tt.want.Mean.Readings || got.Morning.Readings != tt.want.Morning.Readings ||
			got.Evening.Readings != tt.want.Evening.Readings || got.Enough != tt.want.Enough || got.AtOrAboveTarget != tt.want.AtOrAboveTarget {
			t.Errorf("%s: HomeAverage = %+v; want %+v", tt.name, got, tt.want)
		}
	}
}

// The day boundary is the patient's: 07:30 in Shanghai is 23:30 UTC the day before.
func TestHomeAverageUsesTheLocalDay(t *testing.T) {
	// Readings at 07:30 local on Mar 2-7 and an anxious first day, Mar 1. In UTC the Mar 2
	// reading falls on Mar 1, which would make it day 1 instead.
	home := []summary.BPReading{bpAt(at(1, 20, 0), 190, 110)}
	for d := 2; d <= 7; d++ {
		home = append(home, bpAt(at(d, 7, 30), 130, 80))
	}
	got := summary.HomeAverage(home, time.Time{}, shanghai, at(8, 0, 30), summary.DefaultHomeProtocol())
	if got.Days != 6 || got.Mean.Systolic != 130 || got.AtOrAboveTarget {
		t.Errorf("HomeAverage in Shanghai = %+v; want 130/80 on 6 days", got)
	}
	if got := summary.HomeAverage(home, time.Time{}, time.UTC, at(8, 0, 30), summary.DefaultHomeProtocol()); got.Days == 6 && got.Mean.Systolic == 130 {
		t.Errorf("HomeAverage in UTC = %+v; want the local days of UTC to differ", got)
	}
}

func TestHomeReadings(t *testing.T) {
	rs := []reading.Reading{
		{Type: reading.BP, Time: at(2, 7, 0), Systolic: 130, Diastolic: 80},
		{Type: reading.Glucose, Time: at(1, 7, 0), Value: 6},
		{Type: reading.BP, Time: at(1, 7, 0), Systolic: 140, Diastolic: 90},
		{Type: reading.BP, Time: at(2, 7, 0), Systolic: 131, Diastolic: 81}, // the same time again
	}
	got := summary.HomeReadings(rs)
	want := []summary.BPReading{bpAt(at(1, 7, 0), 140, 90), bpAt(at(2, 7, 0), 130, 80)}
	if len(got) != len(want) || !got[0].Time.Equal(want[0].Time) || got[0].Systolic != 140 || got[1].Systolic != 130 {
		t.Errorf("HomeReadings = %v; want %v", got, want)
	}
}

func TestHomeProtocolSince(t *testing.T) {
	// 7 days + 3 gap days + 1: 11 days before today's midnight, as the alert rules replay.
	if got, want := summary.DefaultHomeProtocol().Since(at(15, 9, 0), shanghai), at(4, 0, 0); !got.Equal(want) {
		t.Errorf("Since = %v; want %v", got, want)
	}
}

// near compares computed means within rounding.
func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// A local day is a day even when daylight saving makes it 23 hours long.
func TestPeriodDaylightSaving(t *testing.T) {
	ny := mustZone("America/New_York") // clocks went forward on 2026-03-08
	p := summary.DaysBefore(time.Date(2026, 3, 9, 9, 0, 0, 0, ny), ny, 1)
	if p.Days != 1 || p.To.Sub(p.From) != 23*time.Hour || !p.Contains(time.Date(2026, 3, 8, 23, 59, 0, 0, ny)) {
		t.Errorf("DaysBefore(Mar 9) in New York = %+v; want Mar 8, 23 hours", p)
	}
	q := summary.DaysThrough(at(15, 9, 0), shanghai, 30)
	if !q.From.Equal(at(15, 0, 0).AddDate(0, 0, -29)) || !q.To.Equal(at(16, 0, 0)) || q.Days != 30 {
		t.Errorf("DaysThrough(Mar 15, 30) = %+v; want Feb 14 to Mar 16", q)
	}
}
