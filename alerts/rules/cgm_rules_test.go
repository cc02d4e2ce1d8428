package rules_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
)

// cgmAt is a CGM reading: minute after t0, value.
type cgmAt struct {
	min float64
	v   float64
}

// lows returns CGM readings of v every 5 minutes from `from` to `to` minutes.
func every5(from, to, v float64) []cgmAt {
	var out []cgmAt
	for m := from; m <= to; m += 5 {
		out = append(out, cgmAt{m, v})
	}
	return out
}

func seq(parts ...[]cgmAt) []cgmAt { return slices.Concat(parts...) }

// episodes feeds the readings in the given order, each received when measured or, if that is
// earlier, when the newest reading so far was, and returns the minute of each episode finding.
func episodes(tb testing.TB, e *rules.Engine, readings []cgmAt) []float64 {
	tb.Helper()
	out := []float64{}
	var recv time.Time
	for _, r := range readings {
		t := t0.Add(minutes(r.min))
		if t.After(recv) {
			recv = t
		}
		in := input(cgm, recv, at(cgmGlucose(r.v), t))
		for _, f := range e.Reading(in) {
			if f.Rule == alerts.RuleCGMLowEpisode {
				out = append(out, f.At.Sub(t0).Minutes())
			}
		}
	}
	return out
}

func TestCGMLowEpisode(t *testing.T) {
	tests := []struct {
		name     string
		readings []cgmAt
		want     []float64 // minutes of the episode findings
	}{
		{"a 10-minute dip is not an episode", seq(every5(0, 10, 2.8), every5(15, 60, 5.0)), nil},
		{"15 minutes is", every5(0, 15, 2.8), []float64{15}},
		{"3.0 is not below 3.0", every5(0, 60, 3.0), nil},
		{"a long episode is one", every5(0, 120, 2.5), []float64{15}},
		{"a short rise is the same episode",
			seq(every5(0, 20, 2.8), every5(25, 35, 4.0), every5(40, 80, 2.8)), []float64{15}},
		{"recovery for 15 minutes ends it; a new episode raises again",
			seq(every5(0, 20, 2.8), every5(25, 40, 4.0), every5(45, 70, 2.8)), []float64{15, 60}},
		{"after the episode ends a 10-minute dip is nothing",
			seq(every5(0, 20, 2.8), every5(25, 40, 4.0), every5(45, 55, 2.8), every5(60, 90, 5)), []float64{15}},
		{"lows with a gap of more than 10 minutes do not add up", []cgmAt{{0, 2.8}, {15, 2.8}, {30, 2.8}}, nil},
		{"a 1-minute CGM", func() []cgmAt {
			var out []cgmAt
			for m := 0.0; m <= 20; m++ {
				out = append(out, cgmAt{m, 2.9 - float64(int(m)%3)/10}) // not identical: no stuck sensor
			}
			return out
		}(), []float64{15}},
		{"out of order readings still form one episode at the right reading",
			[]cgmAt{{15, 2.8}, {0, 2.8}, {20, 2.8}, {5, 2.8}, {10, 2.8}}, []float64{15}},
		{"out of order: the dip is still 10 minutes",
			[]cgmAt{{15, 5.0}, {10, 2.8}, {0, 2.8}, {5, 2.8}}, nil},
		{"a redelivered reading is one episode", seq(every5(0, 15, 2.8), every5(15, 15, 2.8), every5(0, 15, 2.8)), []float64{15}},
		{"no data for longer than the recovery ends the episode",
			seq(every5(0, 20, 2.8), every5(45, 60, 2.8)), []float64{15, 60}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		got := episodes(t, e, tt.readings)
		if tt.want == nil {
			tt.want = []float64{}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: episodes at minutes %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestCGMEpisodeFinding(t *testing.T) {
	e, _ := newEngine(t)
	var fs []alerts.Finding
	for i, v := range []float64{2.9, 2.7, 2.6, 2.8} {
		fs = append(fs, e.Reading(input(cgm, t0.Add(time.Duration(i)*5*time.Minute), cgmGlucose(v)))...)
	}
	check(t, "CGM 2.9, 2.7, 2.6, 2.8", fs,
		"glucose_very_low urgent", "glucose_very_low urgent", "glucose_very_low urgent", "glucose_very_low urgent", "cgm_low_episode urgent")
	f := fs[len(fs)-1]
	if f.Value != "below 3 mmol/L for 15m0s (lowest 2.6 mmol/L)" || len(f.Evidence) != 4 || !f.At.Equal(t0.Add(15*time.Minute)) {
		t.Errorf("episode = %q at %v with %d evidence; want the value, at 15 min, 4 readings", f.Value, f.At, len(f.Evidence))
	}
	if f.Thresholds["duration"] != 900 || f.Thresholds["below"] != 3 {
		t.Errorf("Thresholds = %v; want below 3 and duration 900 s", f.Thresholds)
	}
}

func TestCGMEpisodeFromBacklogIsLate(t *testing.T) {
	e, _ := newEngine(t)
	var rs []cgmAt = every5(0, 20, 2.7)
	in := input(cgm, t0.Add(3*time.Hour))
	for _, r := range rs {
		in.Message.Readings = append(in.Message.Readings, at(cgmGlucose(r.v), t0.Add(minutes(r.min))))
	}
	var got []string
	for _, f := range e.Reading(in) {
		if f.Rule == alerts.RuleCGMLowEpisode {
			got = append(got, summary([]alerts.Finding{f})...)
		}
	}
	if !slices.Equal(got, []string{"cgm_low_episode info late"}) {
		t.Errorf("3-hour-old episode = %q; want one late info finding", got)
	}
}

func TestCGMEpisodeDoubtfulReadingsDoNotCount(t *testing.T) {
	e, _ := newEngine(t)
	var got []float64
	for m := 0.0; m <= 20; m += 5 {
		in := input(cgm, t0.Add(minutes(m)), cgmGlucose(2.7))
		if m == 10 {
			in.Message.Flags = []string{"sensor_displaced"}
		}
		for _, f := range e.Reading(in) {
			if f.Rule == alerts.RuleCGMLowEpisode {
				got = append(got, f.At.Sub(t0).Minutes())
			}
		}
	}
	// 0, 5, (10 doubtful), 15, 20: the gaps stay within 10 minutes, so the lows still span 15.
	if !slices.Equal(got, []float64{15}) {
		t.Errorf("episode with a doubtful reading = %v; want at 15", got)
	}
}

func TestCGMEpisodeWarmedIsNotRaisedAgain(t *testing.T) {
	e, _ := newEngine(t)
	for m := 0.0; m <= 30; m += 5 {
		e.Warm(input(cgm, t0.Add(minutes(m)), cgmGlucose(2.6)))
	}
	got := episodes(t, e, every5(35, 60, 2.6))
	if len(got) != 0 {
		t.Errorf("episode in progress at restart raised again at %v; want nothing", got)
	}
	// Warming emits nothing at all.
	e2, _ := newEngine(t)
	for m := 0.0; m <= 30; m += 5 {
		e2.Warm(input(cgm, t0.Add(minutes(m)), cgmGlucose(2.6)))
	}
	if fs := e2.Tick(t0.Add(31 * time.Minute)); len(fs) != 0 {
		t.Errorf("Tick after Warm = %q; want nothing", summary(fs))
	}
}

func TestCGMEpisodePerPatient(t *testing.T) {
	e, _ := newEngine(t)
	var got []string
	for m := 0.0; m <= 15; m += 5 {
		for _, p := range []string{"P-1", "P-2"} {
			in := input(cgm, t0.Add(minutes(m)), cgmGlucose(2.6))
			in.Patient.ID = p
			in.Device.ID = "cgm-" + p
			for _, f := range e.Reading(in) {
				if f.Rule == alerts.RuleCGMLowEpisode {
					got = append(got, fmt.Sprint(f.Subject))
				}
			}
		}
	}
	if !slices.Equal(got, []string{"patient/P-1", "patient/P-2"}) {
		t.Errorf("episodes = %v; want one per patient", got)
	}
}
