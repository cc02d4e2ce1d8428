package rules_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// t0 is 2026-11-22 08:00 in Shanghai, the site's zone.
var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

var (
	shanghai = devices.Site{ID: "centre-1", TimeZone: "Asia/Shanghai"}
	alice    = devices.Patient{ID: "P-1", TeamID: "team-1"}

	cgm      = devices.Device{ID: "cgm-1", Kind: devices.CGM, SiteID: "centre-1", Mode: devices.Home, Status: devices.Active}
	meter    = devices.Device{ID: "gm-1", Kind: devices.GlucoseMeter, SiteID: "centre-1", Mode: devices.Home, Status: devices.Active}
	cuff     = devices.Device{ID: "cuff-1", Kind: devices.BPCuff, SiteID: "centre-1", Mode: devices.Home, Status: devices.Active}
	station  = devices.Device{ID: "st-1", Kind: devices.Station, SiteID: "centre-1", Mode: devices.StationMode, Status: devices.Active, RatedUsesPerDay: 40}
	watch    = devices.Device{ID: "w-1", Kind: devices.Wearable, SiteID: "centre-1", Mode: devices.Home, Status: devices.Active}
	oximeter = devices.Device{ID: "ox-1", Kind: devices.Oximeter, SiteID: "centre-1", Mode: devices.Home, Status: devices.Active}
	thermo   = devices.Device{ID: "th-1", Kind: devices.Thermometer, SiteID: "centre-1", Mode: devices.Home, Status: devices.Active}
	scale    = devices.Device{ID: "sc-1", Kind: devices.Scale, SiteID: "centre-1", Mode: devices.Home, Status: devices.Active}
)

// clock is the injected clock of a test engine.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newEngine(tb testing.TB) (*rules.Engine, *clock) {
	tb.Helper()
	c := &clock{now: t0}
	return rules.NewEngine(rules.DefaultRules(), c.Now), c
}

// input is a live message of one device for alice, received when measured.
func input(d devices.Device, at time.Time, rs ...reading.Reading) rules.Input {
	for i := range rs {
		if rs[i].Time.IsZero() {
			rs[i].Time = at
		}
	}
	return rules.Input{
		Message:  reading.Message{Device: d.ID, Readings: rs},
		Device:   d,
		Site:     shanghai,
		Patient:  alice,
		Received: at,
	}
}

func glucose(v float64) reading.Reading {
	return reading.Reading{Type: reading.Glucose, Value: v, Source: "fingerstick"}
}

func cgmGlucose(v float64) reading.Reading {
	return reading.Reading{Type: reading.Glucose, Value: v, Source: "cgm"}
}

func bp(sys, dia float64) reading.Reading {
	return reading.Reading{Type: reading.BP, Systolic: sys, Diastolic: dia}
}

func value(t reading.Type, v float64) reading.Reading { return reading.Reading{Type: t, Value: v} }

func event(t reading.Type) reading.Reading { return reading.Reading{Type: t} }

func at(r reading.Reading, t time.Time) reading.Reading {
	r.Time = t
	return r
}

func minutes(n float64) time.Duration { return time.Duration(n * float64(time.Minute)) }

// summary writes findings as "rule severity", with " resolve", " late" and " doubt" when set,
// so that a test can say what it wants in a line.
func summary(fs []alerts.Finding) []string {
	out := []string{}
	for _, f := range fs {
		s := f.Rule + " " + f.Severity.String()
		if f.Resolve {
			s += " resolve"
		}
		if f.Late {
			s += " late"
		}
		if f.Doubt != "" {
			s += " doubt"
		}
		out = append(out, s)
	}
	return out
}

// clinicalOnly keeps the clinical findings.
func clinicalOnly(fs []alerts.Finding) []alerts.Finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f alerts.Finding) bool { return f.Category != alerts.Clinical })
}

func check(tb testing.TB, what string, got []alerts.Finding, want ...string) {
	tb.Helper()
	if want == nil {
		want = []string{}
	}
	if s := summary(got); !slices.Equal(s, want) {
		tb.Errorf("%s = %q; want %q", what, s, want)
	}
}

func TestFindingCarriesRuleVersionRoutingThresholdsAndEvidence(t *testing.T) {
	e, _ := newEngine(t)
	in := input(meter, t0, glucose(2.7))
	in.Message.Flags = nil
	fs := e.Reading(in)
	if len(fs) != 1 {
		t.Fatalf("Reading(glucose 2.7) = %q; want one finding", summary(fs))
	}
	f := fs[0]
	want := alerts.Finding{
		Rule: alerts.RuleGlucoseVeryLow, RuleVersion: rules.DefaultVersion, Category: alerts.Clinical, Severity: alerts.Urgent,
		Subject: alerts.Subject{Kind: "patient", ID: "P-1"}, Patient: "P-1", Device: "gm-1", Team: "team-1", At: t0,
		Value: "2.7 mmol/L", Thresholds: map[string]float64{"below": 3.0},
		Evidence: []alerts.Evidence{{Device: "gm-1", Measurement: "glucose", Time: t0, Value: 2.7}},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Reading(glucose 2.7) =\n%+v\nwant\n%+v", f, want)
	}
}

func TestUnassignedDeviceRaisesNoClinicalFinding(t *testing.T) {
	e, _ := newEngine(t)
	in := input(meter, t0, glucose(2.1))
	in.Patient = devices.Patient{}
	check(t, "Reading(unassigned glucose 2.1)", e.Reading(in))
}

func TestLateBacklog(t *testing.T) {
	tests := []struct {
		name string
		age  time.Duration
		want []string
	}{
		{"3 h old", 3 * time.Hour, []string{"glucose_very_low info late"}},
		{"1 h old is not late", time.Hour, []string{"glucose_very_low urgent"}},
		{"1 h 1 s old", time.Hour + time.Second, []string{"glucose_very_low info late"}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		in := input(meter, t0.Add(tt.age), at(glucose(2.5), t0))
		check(t, tt.name, clinicalOnly(e.Reading(in)), tt.want...)
	}
}

func TestQualityFlagDoubt(t *testing.T) {
	e, _ := newEngine(t)
	in := input(meter, t0, glucose(2.5))
	in.Message.Flags = []string{"sample_too_small"}
	fs := clinicalOnly(e.Reading(in))
	check(t, "Reading(glucose 2.5, sample_too_small)", fs, "glucose_very_low info doubt")
	if len(fs) == 1 && fs[0].Doubt != "quality flag sample_too_small" {
		t.Errorf("Doubt = %q; want %q", fs[0].Doubt, "quality flag sample_too_small")
	}

	// A flag that is not a quality flag (irregular pulse) leaves the reading as it is.
	in = input(cuff, t0, bp(185, 100))
	in.Message.Flags = []string{"irregular_pulse"}
	check(t, "Reading(bp 185/100, irregular_pulse)", clinicalOnly(e.Reading(in)), "bp_crisis urgent")
}

func TestEventsAreNotDoubted(t *testing.T) {
	e, _ := newEngine(t)
	in := input(watch, t0, event(reading.SOS))
	in.Message.Flags = []string{"sensor_displaced"}
	check(t, "Reading(sos, sensor_displaced)", clinicalOnly(e.Reading(in)), "sos critical")
}

func TestDisabledRule(t *testing.T) {
	rs, err := rules.ParseRules([]byte("version: 2\nrules:\n  glucose_very_low:\n    enabled: false\n  glucose_low:\n    severity: urgent\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := rules.NewEngine(rs, func() time.Time { return t0 })
	fs := e.Reading(input(meter, t0, glucose(2.5)))
	check(t, "Reading(glucose 2.5) with glucose_very_low off", fs, "glucose_low urgent")
	if len(fs) == 1 && fs[0].RuleVersion != 2 {
		t.Errorf("RuleVersion = %d; want 2", fs[0].RuleVersion)
	}
}

func TestPatientThresholds(t *testing.T) {
	rs := rules.DefaultRules()
	th, err := rs.Effective(nil, rules.Overrides{alerts.RuleSpO2Low: {"low_at_or_below": 90, "very_low_at_or_below": 88}})
	if err != nil {
		t.Fatal(err)
	}
	e := rules.NewEngine(rs, func() time.Time { return t0 })
	for _, tt := range []struct {
		v    float64
		want []string
	}{{92, nil}, {90, []string{"spo2_low warning"}}, {88, []string{"spo2_low urgent"}}} {
		in := input(oximeter, t0.Add(time.Duration(tt.v)*time.Minute), value(reading.SpO2, tt.v))
		in.Thresholds = th
		fs := e.Reading(in)
		check(t, fmt.Sprintf("Reading(spo2 %v) with very low at 88", tt.v), fs, tt.want...)
		if len(fs) == 1 && fs[0].Thresholds["very_low_at_or_below"] != 88 {
			t.Errorf("Thresholds = %v; want very_low_at_or_below 88", fs[0].Thresholds)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	e, _ := newEngine(t)
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				p := devices.Patient{ID: fmt.Sprintf("P-%d-%d", w, i%10), TeamID: "team-1"}
				in := input(cgm, t0.Add(time.Duration(i)*5*time.Minute), cgmGlucose(2.5))
				in.Patient = p
				in.Device.ID = fmt.Sprintf("cgm-%d-%d", w, i%10)
				e.Reading(in)
				if i%50 == 0 {
					e.Tick(t0.Add(time.Duration(i) * 5 * time.Minute))
				}
			}
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}

func TestPlanTypes(t *testing.T) {
	tests := []struct {
		plans []string
		want  []reading.Type
	}{
		{[]string{"hypertension: BP daily"}, []reading.Type{reading.BP}},
		{[]string{"insulin-treated diabetes: glucose daily"}, []reading.Type{reading.Glucose}},
		{[]string{"Diabetes (type 2): blood sugar before breakfast", "Heart failure: weigh daily"}, []reading.Type{reading.Glucose, reading.Weight}},
		{[]string{"diabetes: diet only"}, nil},
		{[]string{"COPD: SpO2 twice daily"}, []reading.Type{reading.SpO2}},
		{[]string{"bpm checks"}, nil}, // "bp" only as a whole word
		{nil, nil},
	}
	for _, tt := range tests {
		if got := rules.PlanTypes(tt.plans); !slices.Equal(got, tt.want) {
			t.Errorf("PlanTypes(%q) = %v; want %v", tt.plans, got, tt.want)
		}
	}
}

func TestHistory(t *testing.T) {
	r := rules.DefaultRules()
	for _, tt := range []struct {
		t    reading.Type
		want time.Duration
	}{
		{reading.BP, 11 * 24 * time.Hour},
		{reading.Glucose, 72 * time.Hour},
		{reading.Weight, 72 * time.Hour},
		{reading.HeartRate, 24 * time.Hour},
	} {
		if got := r.History(tt.t); got != tt.want {
			t.Errorf("History(%s) = %v; want %v", tt.t, got, tt.want)
		}
	}
}

func TestSetRules(t *testing.T) {
	e, _ := newEngine(t)
	check(t, "glucose 4.0 under the defaults", e.Reading(input(meter, t0, glucose(4.0))))
	r, err := rules.ParseRules([]byte("version: 2\nrules:\n  glucose_low:\n    below: 4.2\n"))
	if err != nil {
		t.Fatal(err)
	}
	e.SetRules(r)
	fs := e.Reading(input(meter, t0.Add(time.Minute), glucose(4.0)))
	check(t, "glucose 4.0 under version 2", fs, "glucose_low warning")
	if len(fs) == 1 && fs[0].RuleVersion != 2 {
		t.Errorf("RuleVersion = %d; want 2", fs[0].RuleVersion)
	}
	if e.Rules() != r {
		t.Errorf("Rules() is not the rules set")
	}
}
