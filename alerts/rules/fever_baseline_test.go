package rules_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The fever rise over a patient's own baseline (catalogue.go): t0 is 2026-11-22 08:00 in Shanghai,
// so a patient born in 1949 is surely over 75 (76 or 77), one born in 1950 may be 75 still.

const day = 24 * time.Hour

// temp is one temperature of a fever scenario: measured at t0+at, received at t0+recv (zero:
// when measured), with the message's flags.
type temp struct {
	at, recv time.Duration
	v        float64
	flags    []string
}

// usual are three days of a patient's normal temperatures, each at 08:00 in Shanghai: their
// median, the baseline of a reading at t0, is 36.7.
var usual = []temp{{at: -3 * day, v: 36.6}, {at: -2 * day, v: 36.8}, {at: -day, v: 36.7}}

// feverInput is a thermometer reading of a patient born in born.
func feverInput(born int, th *rules.Thresholds, x temp) rules.Input {
	recv := x.recv
	if recv == 0 {
		recv = x.at
	}
	in := input(thermo, t0.Add(recv), at(value(reading.Temperature, x.v), t0.Add(x.at)))
	in.Patient = devices.Patient{ID: "P-1", TeamID: "team-1", BirthYear: born}
	in.Message.Flags = x.flags
	in.Thresholds = th
	return in
}

// feverRun feeds the readings in order to e and returns their clinical findings, each as "+at:
// rule severity [resolve] [late] [doubt]" with at the measurement time after t0.
func feverRun(e *rules.Engine, born int, th *rules.Thresholds, temps []temp) []string {
	out := []string{}
	for _, x := range temps {
		for _, f := range clinicalOnly(e.Reading(feverInput(born, th, x))) {
			at := f.At.Sub(t0).String()
			if !strings.HasPrefix(at, "-") {
				at = "+" + at
			}
			out = append(out, at+": "+summary([]alerts.Finding{f})[0])
		}
	}
	return out
}

func then(base []temp, more ...temp) []temp { return append(append([]temp{}, base...), more...) }

func TestFeverRiseOverBaseline(t *testing.T) {
	lowerRise, err := rules.DefaultRules().Effective(nil, rules.Overrides{alerts.RuleFever: {"rise_at_or_above": 0.8}})
	if err != nil {
		t.Fatal(err)
	}
	teamAge, err := rules.DefaultRules().Effective(rules.Overrides{alerts.RuleFever: {"rise_age_above": 74}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameHour := func(v float64) []temp {
		return []temp{{at: -2 * day, v: v}, {at: -2*day + 20*time.Minute, v: v}, {at: -2*day + 40*time.Minute, v: v}}
	}
	tests := []struct {
		name  string
		born  int
		th    *rules.Thresholds
		temps []temp
		want  []string
	}{
		{"exactly baseline + 1.1 is a fever", 1949, nil, then(usual, temp{v: 37.8}), []string{"+0s: fever warning"}},
		{"baseline + 1.0 is not", 1949, nil, then(usual, temp{v: 37.7}), nil},
		{"a rise of 1.3 with the median of an even count (36.65)", 1949, nil,
			then(usual, temp{at: -4 * day, v: 36.5}, temp{v: 37.75}), []string{"+0s: fever warning"}},
		{"a rise of 1.05 over the median of an even count is not", 1949, nil,
			then(usual, temp{at: -4 * day, v: 36.5}, temp{v: 37.7}), nil},
		{"not for someone who may be 75 still (born 1950)", 1950, nil, then(usual, temp{v: 37.8}), nil},
		{"not for a 74-year-old", 1951, nil, then(usual, temp{v: 37.9}), nil},
		{"not when the age is unknown", 0, nil, then(usual, temp{v: 37.9}), nil},
		{"a team's rise_age_above 74 takes in who may be 75", 1950, teamAge, then(usual, temp{v: 37.8}), []string{"+0s: fever warning"}},
		{"no baseline from two readings", 1949, nil, then(usual[1:], temp{v: 37.9}), nil},
		{"readings in the last 24 h are not the baseline", 1949, nil,
			then(usual[1:], temp{at: -23 * time.Hour, v: 36.0}, temp{at: -22 * time.Hour, v: 36.0}, temp{v: 37.8}), nil},
		{"a reading 23h59m before is within the last 24 h (usual's, exactly 24 h before, is not)", 1949, nil,
			then(usual[:2], temp{at: -day + time.Minute, v: 36.7}, temp{v: 37.8}), nil},
		{"readings older than 30 days are not", 1949, nil,
			[]temp{{at: -31 * day, v: 36.6}, {at: -30*day - time.Minute, v: 36.6}, {at: -2 * day, v: 36.7}, {v: 37.8}}, nil},
		{"one reading an hour: three in one hour are one", 1949, nil, then(sameHour(36.6), temp{v: 37.8}), nil},
		{"readings in doubt are not the baseline", 1949, nil,
			[]temp{usual[0], usual[1], {at: -day, v: 36.7, flags: []string{"body_movement"}}, {v: 37.8}}, nil},
		{"a patient's override of the rise", 1949, lowerRise, then(usual, temp{v: 37.5}), []string{"+0s: fever warning"}},
		{"without the override 0.8 is no rise", 1949, nil, then(usual, temp{v: 37.5}), nil},
		{"the bands give urgent: urgent", 1949, nil, then(usual, temp{v: 39.2}), []string{"+0s: fever urgent"}},
		{"a rise that is also a band fever is one finding", 1949, nil, then(usual, temp{v: 38.1}), []string{"+0s: fever warning"}},
		{"the bands alone for a younger patient", 1960, nil, then(usual, temp{v: 38.0}), []string{"+0s: fever warning"}},
		{"a redelivered rise is evaluated again, and stays out of its own baseline", 1949, nil,
			then(usual, temp{v: 37.8}, temp{v: 37.8, recv: time.Minute}), []string{"+0s: fever warning", "+0s: fever warning"}},
		{"a late reading is judged against the baseline before it", 1949, nil,
			then(usual, temp{at: day, v: 36.7}, temp{at: 12 * time.Hour, recv: day + 2*time.Hour, v: 37.9}),
			[]string{"+12h0m0s: fever info late"}},
		{"a baseline that arrives after the reading makes it a rise", 1949, nil,
			[]temp{{v: 37.8}, {at: -3 * day, recv: 10 * time.Minute, v: 36.6}, {at: -2 * day, recv: 20 * time.Minute, v: 36.8},
				{at: -day, recv: 30 * time.Minute, v: 36.7}},
			[]string{"+0s: fever warning"}},
		{"so does one that arrives late", 1949, nil,
			[]temp{{v: 37.8}, {at: -3 * day, recv: time.Hour, v: 36.6}, {at: -2 * day, recv: time.Hour, v: 36.8},
				{at: -day, recv: 3 * time.Hour, v: 36.7}},
			[]string{"+0s: fever info late"}},
		{"a late baseline reading raises no rise twice", 1949, nil,
			then(usual, temp{v: 37.8}, temp{at: -4 * day, recv: 10 * time.Minute, v: 36.7}),
			[]string{"+0s: fever warning"}},
		{"a later reading in the hour gives way to an earlier one that arrives after it", 1949, nil,
			then(usual[1:], temp{at: -3*day + 30*time.Minute, v: 37.4}, temp{at: -3 * day, recv: time.Minute, v: 36.6}, temp{v: 37.8}),
			[]string{"+0s: fever warning"}},
	}
	for _, tt := range tests {
		e, c := newEngine(t)
		c.now = t0.Add(2 * day)
		if got := feverRun(e, tt.born, tt.th, tt.temps); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestFeverRiseAgeAtTheMeasurementYear(t *testing.T) {
	// 2026-12-31 17:00 UTC is 2027-01-01 01:00 in Shanghai: someone born in 1950 is surely over
	// 75 there, though not yet in UTC.
	newYear := time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC).Sub(t0)
	temps := []temp{{at: newYear - 3*day, v: 36.6}, {at: newYear - 2*day, v: 36.8}, {at: newYear - day, v: 36.7}, {at: newYear, v: 37.8}}
	e, _ := newEngine(t)
	if got := feverRun(e, 1950, nil, temps); len(got) != 1 || !strings.HasSuffix(got[0], "fever warning") {
		t.Errorf("rise at New Year in Shanghai of a patient born in 1950 = %q; want a fever warning", got)
	}
	e, _ = newEngine(t)
	temps[3].at -= 2 * time.Hour // 2026-12-31 23:00 in Shanghai
	if got := feverRun(e, 1950, nil, temps); len(got) != 0 {
		t.Errorf("rise on New Year's Eve in Shanghai of a patient born in 1950 = %q; want none", got)
	}
}

func TestFeverRiseFindingRecordsTheBaseline(t *testing.T) {
	e, _ := newEngine(t)
	feverRun(e, 1949, nil, usual)
	fs := clinicalOnly(e.Reading(feverInput(1949, nil, temp{v: 37.8})))
	if len(fs) != 1 {
		t.Fatalf("Reading(37.8) = %q; want one finding", summary(fs))
	}
	f := fs[0]
	wantTh := map[string]float64{"at_or_above": 38, "high_at_or_above": 39.1, "rise_at_or_above": 1.1, "rise_age_above": 75,
		"baseline_window": 30 * 24 * 3600, "baseline_skip": 24 * 3600, "baseline_min_readings": 3, "baseline": 36.7, "baseline_readings": 3}
	if !reflect.DeepEqual(f.Thresholds, wantTh) {
		t.Errorf("Thresholds = %v;\nwant %v", f.Thresholds, wantTh)
	}
	wantValue := "37.8 Cel, +1.1 over the baseline 36.7 Cel (median of 3 readings measured 2026-11-19T00:00:00Z to 2026-11-21T00:00:00Z)"
	if f.Value != wantValue {
		t.Errorf("Value = %q; want %q", f.Value, wantValue)
	}
	wantEv := []alerts.Evidence{{Device: "th-1", Measurement: "temperature", Time: t0, Value: 37.8}}
	if !reflect.DeepEqual(f.Evidence, wantEv) || f.Rule != alerts.RuleFever || f.Patient != "P-1" || f.Team != "team-1" || !f.At.Equal(t0) {
		t.Errorf("finding = %+v; want fever of P-1 (team-1) at t0 with the reading as evidence", f)
	}

	// A band fever of a patient with a baseline records it too; one without a baseline does not.
	fs = clinicalOnly(e.Reading(feverInput(1949, nil, temp{at: time.Hour, v: 38.4})))
	if len(fs) != 1 || fs[0].Value != "38.4 Cel" || fs[0].Thresholds["baseline"] != 36.7 {
		t.Errorf("Reading(38.4) = %+v; want value 38.4 Cel with the baseline 36.7", fs)
	}
	e, _ = newEngine(t)
	fs = clinicalOnly(e.Reading(feverInput(1949, nil, temp{v: 38.4})))
	if _, has := fs[0].Thresholds["baseline"]; len(fs) != 1 || has {
		t.Errorf("Reading(38.4) without a baseline = %+v; want no baseline recorded", fs)
	}

	// The rise of a reading whose baseline arrived later says so.
	e, _ = newEngine(t)
	feverRun(e, 1949, nil, []temp{{v: 37.8}, usual[0], usual[1]})
	fs = clinicalOnly(e.Reading(feverInput(1949, nil, temp{at: -day, recv: 5 * time.Minute, v: 36.7})))
	if len(fs) != 1 || !fs[0].At.Equal(t0) || fs[0].Device != "th-1" || !strings.Contains(fs[0].Note, "36.7 Cel measured 2026-11-21T00:00:00Z") ||
		len(fs[0].Evidence) != 1 || fs[0].Evidence[0].Value != 37.8 {
		t.Errorf("rise made by a late baseline reading = %+v; want the rise of 37.8 at t0, its note naming the 36.7", fs)
	}
}

// Warm rebuilds the baseline after a restart, as Replay does from InfluxDB over Rules.History.
func TestFeverBaselineWarm(t *testing.T) {
	e, c := newEngine(t)
	c.now = t0
	for _, x := range usual {
		e.Warm(feverInput(1949, nil, x))
	}
	check(t, "Reading(37.8) after warming three days of 36.6-36.8", clinicalOnly(e.Reading(feverInput(1949, nil, temp{v: 37.8}))), "fever warning")

	// Warming raises nothing, even a rise.
	e, _ = newEngine(t)
	for _, x := range then(usual, temp{v: 37.8}) {
		e.Warm(feverInput(1949, nil, x))
	}
	check(t, "Tick after warming a rise", clinicalOnly(e.Tick(t0.Add(time.Minute))))

	if h := rules.DefaultRules().History(reading.Temperature); h < 30*day {
		t.Errorf("History(temperature) = %v; want at least the 30-day baseline window", h)
	}
	r, err := rules.ParseRules([]byte("version: 2\nrules:\n  fever:\n    baseline_window: 1000h\n"))
	if err != nil {
		t.Fatal(err)
	}
	if h := r.History(reading.Temperature); h != 1000*time.Hour {
		t.Errorf("History(temperature) with baseline_window 1000h = %v; want 1000h", h)
	}
}

// A patient who no longer qualifies (a birth year cleared) loses the kept readings: they do not
// come back as a baseline when the year is set again.
func TestFeverBaselineForgottenWithTheAge(t *testing.T) {
	e, _ := newEngine(t)
	feverRun(e, 1949, nil, usual)
	e.Reading(feverInput(0, nil, temp{at: -day + time.Hour, v: 36.7}))
	check(t, "Reading(37.8) after the birth year was unknown for a reading", clinicalOnly(e.Reading(feverInput(1949, nil, temp{v: 37.8}))))
}

func TestFeverRuleSettings(t *testing.T) {
	th := rules.DefaultRules().Defaults()
	for key, want := range map[string]float64{"rise_at_or_above": 1.1, "rise_age_above": 75, "baseline_window": 30 * 24 * 3600,
		"baseline_skip": 24 * 3600, "baseline_min_readings": 3} {
		if got := value1(t, th, alerts.RuleFever, key); got != want {
			t.Errorf("default fever.%s = %v; want %v", key, got, want)
		}
	}
	for _, tt := range []struct{ file, want string }{
		{"rise_at_or_above: 0", "rules.fever.rise_at_or_above: 0 Cel is outside 0.1 Cel-5 Cel"},
		{"rise_age_above: 75.5", `rules.fever.rise_age_above: must be a whole number, not "75.5"`},
		{"rise_age_above: 121", "rules.fever.rise_age_above: 121 is outside 0-120"},
		{"baseline_window: 30", `rules.fever.baseline_window: must be a duration such as 15m or 72h, not "30"`},
		{"baseline_window: 2000h", "rules.fever.baseline_window: 2000h0m0s is outside 48h0m0s-1440h0m0s"},
		{"baseline_min_readings: 0", "rules.fever.baseline_min_readings: 0 is outside 1-48"},
		{"baseline_skip: 72h\n    baseline_window: 48h", "rules.fever.baseline_skip: 72h0m0s must be below rules.fever.baseline_window (48h0m0s)"},
	} {
		_, err := rules.ParseRules([]byte("version: 1\nrules:\n  fever:\n    " + tt.file + "\n"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRules(fever %s) = %v; want %q", tt.file, err, tt.want)
		}
	}
	r, err := rules.ParseRules([]byte("version: 1\nrules:\n  fever:\n    rise_at_or_above: 1.0\n    baseline_window: 336h\n    rise_age_above: 80\n"))
	if err != nil {
		t.Fatal(err)
	}
	if th := r.Defaults(); value1(t, th, alerts.RuleFever, "rise_at_or_above") != 1.0 || value1(t, th, alerts.RuleFever, "baseline_window") != 14*24*3600 ||
		value1(t, th, alerts.RuleFever, "rise_age_above") != 80 {
		t.Errorf("ParseRules(fever rise 1.0, window 336h, age 80) = %v", r.Format())
	}
	if !strings.Contains(string(rules.DefaultRules().Format()), "    rise_at_or_above: 1.1\n    rise_age_above: 75\n    baseline_window: 720h0m0s\n    baseline_skip: 24h0m0s\n    baseline_min_readings: 3\n") {
		t.Errorf("Format() = %s; want the fever baseline settings spelled out", rules.DefaultRules().Format())
	}
	// Per patient: an override is checked as the file is.
	if err := rules.DefaultRules().ValidateOverrides(rules.Overrides{alerts.RuleFever: {"baseline_skip": 3 * 24 * 3600, "baseline_window": 2 * 24 * 3600}}); err == nil ||
		!strings.Contains(err.Error(), "fever.baseline_skip: 72h0m0s must be below fever.baseline_window (48h0m0s)") {
		t.Errorf("ValidateOverrides(skip 72h, window 48h) = %v; want the two keys named", err)
	}
	if err := rules.DefaultRules().ValidateOverrides(rules.Overrides{alerts.RuleFever: {"rise_age_above": 70}}); err != nil {
		t.Errorf("ValidateOverrides(fever.rise_age_above 70) = %v; want nil", err)
	}
}

// The rise keeps the engine's reading path free of allocations, baseline included, once a
// patient's readings fill their state.
func TestFeverBaselineDoesNotAllocate(t *testing.T) {
	e, _ := newEngine(t)
	for h := 5 * 24; h >= 1; h-- {
		e.Reading(feverInput(1949, nil, temp{at: -time.Duration(h) * time.Hour, v: 36.5 + float64(h%4)/10}))
	}
	in := feverInput(1949, nil, temp{v: 36.9})
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		i++
		in.Message.Readings[0].Time = t0.Add(time.Duration(i) * time.Hour)
		in.Received = in.Message.Readings[0].Time
		e.Reading(in)
	})
	if allocs != 0 {
		t.Errorf("Reading(a normal temperature of a patient with a baseline) allocates %v times; want 0", allocs)
	}
}
