package rules_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

func only(rule string, fs []alerts.Finding) []alerts.Finding {
	var out []alerts.Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func TestMissedMeasurement(t *testing.T) {
	hypertensive := devices.Patient{ID: "P-1", TeamID: "team-1", Plans: []string{"hypertension: BP daily"}}
	e, _ := newEngine(t)
	e.SetPatient(hypertensive, shanghai, nil)
	h := time.Hour
	for _, tt := range []struct {
		tick time.Duration
		want []string
	}{
		{72*h - 30*time.Second, nil},
		{72 * h, nil}, // due, but the patients' rules ran less than patientTick ago
		{72*h + 30*time.Second, []string{"missed_measurement warning"}},
		{73 * h, nil}, // once a local day
		{96 * h, []string{"missed_measurement warning"}},
	} {
		check(t, fmt.Sprintf("Tick(+%v) with no BP since the patient became known", tt.tick), clinicalOnly(e.Tick(t0.Add(tt.tick))), tt.want...)
	}
	// A glucose reading is not the plan's type; a BP reading makes it up.
	in := input(meter, t0.Add(97*h), glucose(6))
	in.Patient = hypertensive
	check(t, "Reading(glucose)", e.Reading(in))
	in = input(cuff, t0.Add(98*h), bp(130, 80))
	in.Patient = hypertensive
	fs := e.Reading(in)
	check(t, "Reading(bp) after missed", fs, "missed_measurement info resolve")
	if len(fs) == 1 && fs[0].Note != "bp reading measured 2026-11-26T10:00:00+08:00" {
		t.Errorf("Note = %q", fs[0].Note)
	}
	check(t, "Tick(+120h), 22 h after the reading", clinicalOnly(e.Tick(t0.Add(120*h))))
	check(t, "Tick(+170h), 72 h after the reading", clinicalOnly(e.Tick(t0.Add(170*h))), "missed_measurement warning")
}

func TestMissedMeasurementNeedsAPlan(t *testing.T) {
	e, _ := newEngine(t)
	e.Reading(input(cuff, t0, bp(130, 80))) // alice has no care plan
	check(t, "Tick(+10 days) without a plan", clinicalOnly(e.Tick(t0.Add(240*time.Hour))))
}

func TestMissedMeasurementValue(t *testing.T) {
	e, _ := newEngine(t)
	p := devices.Patient{ID: "P-2", TeamID: "team-2", Plans: []string{"insulin-treated diabetes: glucose daily"}}
	in := input(meter, t0, glucose(6))
	in.Patient = p
	e.Reading(in)
	fs := clinicalOnly(e.Tick(t0.Add(80 * time.Hour)))
	if len(fs) != 1 || fs[0].Value != "no glucose reading for 3d8h" || fs[0].Team != "team-2" || fs[0].Subject.ID != "P-2" {
		t.Errorf("Tick = %+v; want a missed glucose finding for P-2 of team-2", fs)
	}
}

// local is a time on a day of November 2026 in Shanghai.
func local(day, hour, minute int) time.Time {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return time.Date(2026, 11, day, hour, minute, 0, 0, loc).UTC()
}

// homeReadings are a week of home BP: morning (07:00) and evening (20:00) readings on days
// from..to of November.
func homeReadings(from, to int, sys, dia float64) []step {
	var out []step
	for d := from; d <= to; d++ {
		for _, h := range []int{7, 20} {
			out = append(out, step{at: local(d, h, 0).Sub(t0), r: bp(sys, dia), d: cuff})
		}
	}
	return out
}

func TestBPHomeAverage(t *testing.T) {
	evening := func(day int, sys, dia float64) step {
		return step{at: local(day, 20, 30).Sub(t0), r: bp(sys, dia), d: cuff}
	}
	afternoon := func(day int, sys, dia float64) step {
		return step{at: local(day, 15, 0).Sub(t0), r: bp(sys, dia), d: cuff}
	}
	withStation := func(steps []step) []step {
		for i := range steps {
			steps[i].d = station
		}
		return steps
	}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"above target", homeReadings(15, 21, 140, 88), []string{"mean 140/88 mm[Hg] of 12 home readings on 6 days"}},
		{"at target is above", homeReadings(15, 21, 135, 80), []string{"mean 135/80 mm[Hg] of 12 home readings on 6 days"}},
		{"diastolic alone", homeReadings(15, 21, 120, 85), []string{"mean 120/85 mm[Hg] of 12 home readings on 6 days"}},
		{"below target", homeReadings(15, 21, 134, 84), nil},
		{"day 1 is discarded", append(homeReadings(15, 15, 200, 110), homeReadings(16, 21, 130, 80)...), nil},
		{"readings before the window do not count", append(homeReadings(10, 14, 170, 100), homeReadings(16, 21, 130, 80)...), nil},
		{"today's readings wait for tomorrow", append(homeReadings(16, 21, 130, 80), step{at: local(22, 7, 0).Sub(t0), r: bp(190, 100), d: cuff}), nil},
		{"afternoon readings are not morning or evening",
			append(homeReadings(16, 21, 130, 80), afternoon(17, 170, 100), afternoon(18, 170, 100), afternoon(19, 170, 100)), nil},
		{"evening until midnight", []step{evening(18, 150, 95), evening(19, 150, 95), evening(20, 150, 95), evening(21, 150, 95)},
			[]string{"mean 150/95 mm[Hg] of 3 home readings on 3 days"}},
		{"fewer than 3 days is not a series", []step{evening(19, 150, 95), evening(20, 150, 95), evening(21, 150, 95), evening(21, 152, 95)}, nil},
		{"office readings are not home readings", withStation(homeReadings(16, 21, 140, 88)), nil},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		run(t, e, tt.steps)
		fs := only(alerts.RuleBPHomeAverage, e.Tick(local(22, 9, 0)))
		var got []string
		for _, f := range fs {
			got = append(got, f.Value)
			if f.Severity != alerts.Warning || f.Subject.ID != "P-1" || f.Team != "team-1" || len(f.Evidence) == 0 {
				t.Errorf("%s: finding = %+v; want a warning for P-1 of team-1 with evidence", tt.name, f)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: Tick = %q; want %q", tt.name, got, tt.want)
		}
	}
}

func TestBPHomeAverageOnceADay(t *testing.T) {
	e, _ := newEngine(t)
	run(t, e, homeReadings(16, 21, 140, 88))
	check(t, "Tick(Nov 22 00:30)", only(alerts.RuleBPHomeAverage, e.Tick(local(22, 0, 30))), "bp_home_average warning")
	check(t, "Tick(Nov 22 23:30)", only(alerts.RuleBPHomeAverage, e.Tick(local(22, 23, 30))))
	check(t, "Tick(Nov 23 00:30)", only(alerts.RuleBPHomeAverage, e.Tick(local(23, 0, 30))), "bp_home_average warning")
	// Nov 24: the window is Nov 17-23, after day 1 of the series (Nov 16): Nov 17-21 count.
	check(t, "Tick(Nov 24 00:30)", only(alerts.RuleBPHomeAverage, e.Tick(local(24, 0, 30))), "bp_home_average warning")
	// Nov 27: Nov 20 and 21 alone are left: two days are not enough.
	check(t, "Tick(Nov 27 00:30)", only(alerts.RuleBPHomeAverage, e.Tick(local(27, 0, 30))))
}

func TestBPHomeAverageDoubtfulReadingsLeftOut(t *testing.T) {
	e, _ := newEngine(t)
	run(t, e, homeReadings(16, 21, 130, 80))
	for d := 16; d <= 21; d++ {
		in := input(cuff, local(d, 8, 0), bp(170, 100))
		in.Message.Flags = []string{"body_movement"}
		e.Reading(in)
	}
	check(t, "Tick with flagged high readings", only(alerts.RuleBPHomeAverage, e.Tick(local(22, 9, 0))))
}

func TestBPHomeAverageWarm(t *testing.T) {
	e, _ := newEngine(t)
	for _, s := range homeReadings(16, 21, 140, 88) {
		e.Warm(input(cuff, t0.Add(s.at), at(s.r, t0.Add(s.at))))
	}
	check(t, "Tick after Warm of a week", only(alerts.RuleBPHomeAverage, e.Tick(local(22, 9, 0))), "bp_home_average warning")
}

// A plan that measures less often than daily is kept, not missed, by days without a reading.
func TestMissedMeasurementFollowsThePlansFrequency(t *testing.T) {
	tests := []struct {
		plan string
		want []string
	}{
		{"hypertension: BP daily", []string{"missed_measurement warning"}},
		{"COPD: SpO2 twice daily", []string{"missed_measurement warning"}},
		{"Diabetes (type 2): blood sugar before breakfast", []string{"missed_measurement warning"}},
		{"hypertension: BP monthly", nil},
		{"diabetes: glucose monthly", nil},
		{"heart failure: weight weekly", nil},
		{"hypertension: BP twice a week", nil},
		{"COPD: SpO2 3 times per month", nil},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		e.SetPatient(devices.Patient{ID: "P-1", TeamID: "team-1", Plans: []string{tt.plan}}, shanghai, nil)
		check(t, fmt.Sprintf("Tick(+80h) with no reading for plan %q", tt.plan), clinicalOnly(e.Tick(t0.Add(80*time.Hour))), tt.want...)
	}
}

// The ESH home protocol discards day 1 of a home series, the day of the anxious first readings:
// the first day on which the patient measured, not the first calendar day of the window. A
// series that began before the window has no day 1 in it, and a gap of series_gap_days
// without a home reading ends a series, so that the next measuring day is day 1 again.
func TestBPHomeAverageDiscardsDay1OfTheSeries(t *testing.T) {
	day := func(d int, sys, dia float64) []step { return homeReadings(d, d, sys, dia) }
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"a series starting inside the window: its day 1 is discarded",
			slices.Concat(day(18, 190, 110), homeReadings(19, 21, 130, 80)), nil},
		{"a series that began before the window: the window's first day counts",
			slices.Concat(homeReadings(8, 14, 130, 80), day(15, 170, 100), homeReadings(16, 21, 130, 80)),
			[]string{"mean 135.7/82.9 mm[Hg] of 14 home readings on 7 days"}},
		{"a gap of a week before a new series: its day 1 is discarded",
			slices.Concat(homeReadings(1, 8, 130, 80), day(16, 190, 110), homeReadings(17, 21, 130, 80)), nil},
		{"a gap of 2 days does not end the series",
			slices.Concat(homeReadings(10, 13, 130, 80), day(16, 160, 100), homeReadings(17, 21, 130, 80)),
			[]string{"mean 135/83.3 mm[Hg] of 12 home readings on 6 days"}},
		{"a new series after a gap inside the window: the old series and the new day 1 are left out",
			slices.Concat(homeReadings(12, 14, 130, 80), day(15, 170, 100), day(19, 190, 110), homeReadings(20, 21, 130, 80)), nil},
		{"a whole week measured from day 1: 6 days averaged",
			homeReadings(15, 21, 140, 88), []string{"mean 140/88 mm[Hg] of 12 home readings on 6 days"}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		run(t, e, tt.steps)
		var got []string
		for _, f := range only(alerts.RuleBPHomeAverage, e.Tick(local(22, 9, 0))) {
			got = append(got, f.Value)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: Tick(Nov 22) = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// A new patient's (or a new cuff's) first week, checked every morning as the service does:
// day 1 at 190/110 and days 2-7 at 130/80 never raise the home average, on any morning.
func TestBPHomeAverageNewSeriesDailyChecks(t *testing.T) {
	e, _ := newEngine(t)
	run(t, e, homeReadings(16, 16, 190, 110))
	for d := 17; d <= 23; d++ {
		check(t, fmt.Sprintf("Tick(Nov %d 09:00)", d), only(alerts.RuleBPHomeAverage, e.Tick(local(d, 9, 0))))
		run(t, e, homeReadings(d, d, 130, 80))
	}
}

// After a restart, the replay reaches far enough back to see that a series began before the
// window.
func TestBPHomeAverageHistoryCoversTheSeriesStart(t *testing.T) {
	r := rules.DefaultRules()
	// days 7 + series_gap_days 3 + today.
	if got, want := r.History(reading.BP), 11*24*time.Hour; got != want {
		t.Errorf("History(bp) = %v; want %v", got, want)
	}
}
