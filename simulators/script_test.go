package simulators

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	alertrules "github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// TestShippedScenarios: every file under scenarios/ reads, is named after its file, expects
// only rules of the catalogue, and plays into payloads the platform's decoder takes.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	rules := alertrules.RuleIDs()
	for _, f := range files {
		s, err := LoadScript(f)
		if err != nil {
			t.Error(err)
			continue
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); s.Name != want {
			t.Errorf("%s: name %q; want the file's name %q", f, s.Name, want)
		}
		if s.Description == "" || !s.HasStartOfDay {
			t.Errorf("%s: want a description and a start", f)
		}
		for _, e := range s.Expect {
			if !slices.Contains(rules, e.Rule) {
				t.Errorf("%s: expects rule %q, which is not in the catalogue %v", f, e.Rule, rules)
			}
		}
		start := s.StartAt(time.Now())
		for _, m := range s.Play(start, "devices") {
			checkPayload(t, s.Name, m)
		}
	}
}

// checkPayload decodes m as ingest would, received when it is sent, and fails on anything the
// decoder rejects except what the script means to be rejected (implausible values, a clock
// ahead).
func checkPayload(t *testing.T, name string, m ScriptMessage) {
	t.Helper()
	if m.Status {
		if _, rejs := reading.DecodeStatus(m.Device, m.Payload, m.Send); len(rejs) > 0 {
			t.Errorf("%s: status %s of %s rejected: %v", name, m.Payload, m.Device, rejs)
		}
		return
	}
	_, rejs := reading.Decode(m.Device, m.Payload, m.Send)
	for _, r := range rejs {
		if r.Reason != reading.ReasonImplausible && r.Reason != reading.ReasonFutureTimestamp {
			t.Errorf("%s: telemetry %s of %s rejected: %v", name, m.Payload, m.Device, r)
		}
	}
}

const testScript = `
name: test
description: A test.
start: "07:30"
sites:
  - {id: site-1, name: Centre, time_zone: Asia/Shanghai}
teams:
  - {id: team-1, site: site-1, name: Team}
patients:
  - {id: P-1, team: team-1, plans: ["hypertension: BP daily"]}
devices:
  - {id: cuff-1, kind: bp_cuff, site: site-1, patient: P-1, heartbeat: 1h}
  - {id: stn-1, kind: station, site: site-1, next_calibration: -2d}
  - {id: cgm-1, kind: cgm, site: site-1, time_format: unix_ms}
steps:
  - {at: 0s, device: cuff-1, readings: [{type: bp, systolic: 186, diastolic: 112, pulse: 88}], battery: 60}
  - {at: 30m, device: stn-1, patient: P-1, readings: [{type: glucose, value: 99, unit: mg/dL, context: fasting}, {type: weight, value: 70.5}], flags: [body_movement]}
  - {at: 90m, device: cuff-1, silent: true}
  - {at: 3h, delay: 2h, skew: -1m, device: cuff-1, readings: [{type: bp, systolic: 120, diastolic: 80}]}
  - {at: 10m, device: cgm-1, repeat: {every: 5m}, readings: [{type: glucose, values: [5.1, 4.9]}]}
  - {at: 1h, device: stn-1, status: {online: false}}
  - {at: 0s, device: cgm-1, battery_drain: {from: 30, to: 10, over: 1h, every: 30m}}
expect:
  - {rule: bp_crisis, patient: P-1, severity: urgent, state: open, count: 1}
  - {rule: calibration_overdue, device: stn-1, severity: warning, late: false, doubt: false}
`

func TestParseScript(t *testing.T) {
	s, err := ParseScript([]byte(testScript))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "test" || s.Zone.String() != "Asia/Shanghai" || s.StartOfDay != 7*time.Hour+30*time.Minute || !s.HasStartOfDay {
		t.Errorf("script = %q in %v from %v; want test in Asia/Shanghai from 7h30m", s.Name, s.Zone, s.StartOfDay)
	}
	if s.Length != 5*time.Hour {
		t.Errorf("Length = %v; want 5h, when the delayed step is sent", s.Length)
	}
	stn := s.Device("stn-1")
	if stn == nil || stn.Mode != devices.StationMode || stn.RatedUsesPerDay != DefaultStationUses || !stn.HasCalibration || stn.NextCalibration != -48*time.Hour {
		t.Errorf("station = %+v; want a station rated %d uses, calibration due 2 days before the start", stn, DefaultStationUses)
	}
	if cuff := s.Device("cuff-1"); cuff.Mode != devices.Home || cuff.Patient != "P-1" || cuff.Heartbeat != time.Hour {
		t.Errorf("cuff = %+v; want a home device lent to P-1 with an hourly heartbeat", cuff)
	}
	if st := s.Steps[4]; st.Times != 2 || st.Every != 5*time.Minute || st.Readings[0].Unit != "mmol/L" {
		t.Errorf("repeated step = %+v; want 2 times every 5m, in mmol/L", st)
	}
	if e := s.Expect[1]; e.Subject != "device/stn-1" || e.Late == nil || *e.Late || e.Doubt == nil || *e.Doubt || e.State != "" {
		t.Errorf("expectation = %+v; want device/stn-1, late and doubt false, any state", e)
	}
}

func TestParseScriptErrors(t *testing.T) {
	// Each case replaces one line of testScript.
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown top key", `name: test`, "name: test\ncolour: blue", `colour: unknown key`},
		{"unknown step key", `{at: 0s, device: cuff-1, readings`, `{at: 0s, device: cuff-1, when: now, readings`, `steps[0].when: unknown key`},
		{"bad duration", `{at: 90m, device: cuff-1`, `{at: 90 minutes, device: cuff-1`, `steps[2].at: "90 minutes" is not a duration`},
		{"negative at", `{at: 90m, device: cuff-1`, `{at: -90m, device: cuff-1`, `steps[2].at: must not be negative`},
		{"unknown device", `{at: 90m, device: cuff-1`, `{at: 90m, device: cuff-9`, `steps[2].device: unknown device "cuff-9"`},
		{"unknown reading type", `readings: [{type: bp, systolic: 186`, `readings: [{type: blood_pressure, systolic: 186`, `steps[0].readings[0].type: unknown reading type "blood_pressure"`},
		{"unknown unit", `value: 99, unit: mg/dL`, `value: 99, unit: mg`, `steps[1].readings[0].unit: unknown unit "mg" for glucose`},
		{"key of another type", `{type: weight, value: 70.5}`, `{type: weight, value: 70.5, systolic: 120}`, `steps[1].readings[1].systolic: not part of a weight reading`},
		{"two actions", `{at: 90m, device: cuff-1, silent: true}`, `{at: 90m, device: cuff-1, silent: true, status: {battery: 5}}`, `steps[2]: must do one thing`},
		{"no action", `{at: 90m, device: cuff-1, silent: true}`, `{at: 90m, device: cuff-1}`, `steps[2]: must do one thing`},
		{"station without resident", `device: stn-1, patient: P-1, readings`, `device: stn-1, readings`, `steps[1].patient: required: a reading of station stn-1`},
		{"home device with patient", `{at: 0s, device: cuff-1, readings`, `{at: 0s, device: cuff-1, patient: P-1, readings`, `steps[0].patient: home device cuff-1 is lent to its patient`},
		{"values without repeat", `{at: 3h, delay: 2h, skew: -1m, device: cuff-1, readings: [{type: bp, systolic: 120, diastolic: 80}]}`,
			`{at: 3h, device: cgm-1, readings: [{type: glucose, values: [5, 6]}]}`, `values (a list) need a repeat`},
		{"values and times disagree", `repeat: {every: 5m}`, `repeat: {every: 5m, times: 3}`, `steps[4].repeat.times: 3 repetitions but 2 values`},
		{"unknown patient in expect", `{rule: bp_crisis, patient: P-1,`, `{rule: bp_crisis, patient: P-2,`, `expect[0].patient: unknown patient "P-2"`},
		{"two subjects", `{rule: bp_crisis, patient: P-1,`, `{rule: bp_crisis, patient: P-1, device: cuff-1,`, `expect[0]: name the subject`},
		{"bad severity", `severity: urgent, state: open`, `severity: high, state: open`, `expect[0].severity: severity "high" is not one of`},
		{"unknown team", `{id: P-1, team: team-1,`, `{id: P-1, team: team-2,`, `patients[0].team: unknown team "team-2"`},
		{"unknown kind", `kind: cgm, site`, `kind: sensor, site`, `devices[2].kind: unknown device kind "sensor"`},
		{"duplicate device", `{id: cgm-1, kind: cgm`, `{id: cuff-1, kind: cgm`, `devices[2].id: device "cuff-1" is declared twice`},
		{"duration too short", `name: test`, "name: test\nduration: 1h", `duration: 1h0m0s ends before the last message`},
		{"short heartbeat", `heartbeat: 1h`, `heartbeat: 10s`, `devices[0].heartbeat: a heartbeat is at least 1m`},
		{"bad start", `start: "07:30"`, `start: "7.30am"`, `start: "7.30am" is not a time of day`},
		{"missing expect", "expect:\n", "expected:\n", `expected: unknown key`},
		{"battery out of range", `battery: 60`, `battery: 160`, `steps[0].battery: a battery level is 0-100`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(testScript, tt.old) {
				t.Fatalf("testScript has no %q", tt.old)
			}
			_, err := ParseScript([]byte(strings.Replace(testScript, tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "(line ") {
				t.Errorf("ParseScript = %v; want an error with %q and its line", err, tt.want)
			}
		})
	}
	if _, err := ParseScript([]byte("name: x\n")); err == nil || !strings.Contains(err.Error(), "steps: required") ||
		!strings.Contains(err.Error(), "expect: required") {
		t.Errorf("ParseScript of a name alone = %v; want steps and expect required", err)
	}
}

func TestParseOffset(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"0s", 0, true},
		{"90s", 90 * time.Second, true},
		{"12m", 12 * time.Minute, true},
		{"3d", 72 * time.Hour, true},
		{"1d7h30m", 31*time.Hour + 30*time.Minute, true},
		{"-2d", -48 * time.Hour, true},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"+3d", 0, false},
		{"3d-1h", 0, false},
		{"400d", 0, false},
		{"12", 0, false},
	}
	for _, tt := range tests {
		got, err := parseOffset(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseOffset(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestPlay(t *testing.T) {
	s, err := ParseScript([]byte(testScript))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 22, 7, 30, 0, 0, s.Zone)
	var got []string
	for _, m := range s.Play(start, "devices") {
		got = append(got, fmt.Sprintf("%s %s %s %s", m.Send.Sub(start), m.Measured.Sub(start), m.Topic, m.Payload))
	}
	want := []string{
		`0s 0s devices/cuff-1/telemetry {"ts":"2026-11-22T07:30:00.000+08:00","readings":[{"type":"bp","systolic":186,"diastolic":112,"pulse":88,"unit":"mm[Hg]"}],"battery":60}`,
		`0s 0s devices/cgm-1/status {"ts":1795303800000,"battery":30}`,
		`0s 0s devices/cuff-1/status {"ts":"2026-11-22T07:30:00.000+08:00","online":true}`,
		`10m0s 10m0s devices/cgm-1/telemetry {"ts":1795304400000,"readings":[{"type":"glucose","value":5.1,"unit":"mmol/L","source":"cgm"}]}`,
		`15m0s 15m0s devices/cgm-1/telemetry {"ts":1795304700000,"readings":[{"type":"glucose","value":4.9,"unit":"mmol/L","source":"cgm"}]}`,
		`30m0s 30m0s devices/stn-1/telemetry {"ts":"2026-11-22T08:00:00.000+08:00","patient":"P-1","readings":[{"type":"glucose","value":99,"unit":"mg/dL","context":"fasting","source":"fingerstick"},{"type":"weight","value":70.5,"unit":"kg"}],"flags":["body_movement"]}`,
		`30m0s 30m0s devices/cgm-1/status {"ts":1795305600000,"battery":20}`,
		`1h0m0s 1h0m0s devices/stn-1/status {"ts":"2026-11-22T08:30:00.000+08:00","online":false}`,
		`1h0m0s 1h0m0s devices/cgm-1/status {"ts":1795307400000,"battery":10}`,
		`1h0m0s 1h0m0s devices/cuff-1/status {"ts":"2026-11-22T08:30:00.000+08:00","online":true}`,
		// Silent from 90m until its next step, measured at 3h and sent at 5h: no heartbeat between.
		`5h0m0s 3h0m0s devices/cuff-1/telemetry {"ts":"2026-11-22T10:29:00.000+08:00","readings":[{"type":"bp","systolic":120,"diastolic":80,"unit":"mm[Hg]"}]}`,
		`5h0m0s 5h0m0s devices/cuff-1/status {"ts":"2026-11-22T12:30:00.000+08:00","online":true}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Play =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every payload is one the platform takes.
	for _, m := range s.Play(start, "devices") {
		checkPayload(t, s.Name, m)
		if !json.Valid(m.Payload) {
			t.Errorf("payload %s is not JSON", m.Payload)
		}
	}
}

func TestScriptRegistry(t *testing.T) {
	s, err := ParseScript([]byte(testScript))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 22, 7, 30, 0, 0, s.Zone)
	r := s.Registry(start, 7)
	if len(r.Sites) != 1 || len(r.Teams) != 1 || len(r.Patients) != 1 || len(r.Devices) != 3 || len(r.Assignments) != 1 {
		t.Fatalf("registry = %+v; want 1 site, team and patient, 3 devices, 1 assignment", r)
	}
	for _, d := range r.Devices {
		if err := d.Validate(); err != nil {
			t.Errorf("device %s: %v", d.ID, err)
		}
		if r.Secrets[d.ID] != Secret(7, d.ID) || !d.InService.Equal(start.Add(-ScriptLentBefore)) {
			t.Errorf("device %s: secret %q, in service %v; want Secret(7) and 30 days before the start", d.ID, r.Secrets[d.ID], d.InService)
		}
	}
	if d := r.Devices[1]; d.Kind != devices.Station || !d.NextCalibration.Equal(start.Add(-48*time.Hour)) {
		t.Errorf("station = %+v; want calibration due 2 days before the start", d)
	}
	if a := r.Assignments[0]; a.DeviceID != "cuff-1" || a.PatientID != "P-1" || !a.From.Equal(start.Add(-ScriptLentBefore)) {
		t.Errorf("assignment = %+v; want cuff-1 lent to P-1 30 days before the start", a)
	}

	// On top of a fleet: the fleet's site stays the fleet's, the rest is added.
	fleet := &Registry{Sites: []devices.Site{{ID: "site-1", Name: "The fleet's centre"}}, Secrets: map[string]string{"sim-1": "x"}}
	if err := fleet.AddScript(s, start, 7); err != nil {
		t.Fatal(err)
	}
	if len(fleet.Sites) != 1 || fleet.Sites[0].Name != "The fleet's centre" || len(fleet.Devices) != 3 || len(fleet.Secrets) != 4 {
		t.Errorf("fleet with the script = %+v; want the fleet's site and the script's devices", fleet)
	}
	if err := fleet.AddScript(s, start, 7); err == nil || !strings.Contains(err.Error(), "also one of the fleet's") {
		t.Errorf("AddScript twice = %v; want an error naming the clash", err)
	}
}

func TestMatchAlerts(t *testing.T) {
	yes, no := true, false
	want := []Expectation{
		{Rule: "bp_crisis", Subject: "patient/P-1", Severity: "critical"},                   // any state
		{Rule: "bp_crisis", Subject: "patient/P-1", Severity: "critical", State: "open"},    // must take the open one
		{Rule: "glucose_low", Subject: "patient/P-2", Severity: "info", Late: &yes},         // late
		{Rule: "glucose_low", Subject: "patient/P-3", Severity: "warning", Doubt: &no},      // not in doubt
		{Rule: "battery_low", Subject: "device/d-1", Severity: "urgent", Count: 2},          // counted twice
		{Rule: "device_offline", Subject: "device/d-1", Severity: "warning", State: "open"}, // missing
	}
	got := []ObservedAlert{
		{ID: 1, Rule: "bp_crisis", Subject: "patient/P-1", Severity: "critical", State: "open"},
		{ID: 2, Rule: "bp_crisis", Subject: "patient/P-1", Severity: "critical", State: "resolved"},
		{ID: 3, Rule: "glucose_low", Subject: "patient/P-2", Severity: "info", Late: true},
		{ID: 4, Rule: "glucose_low", Subject: "patient/P-3", Severity: "warning", State: "open"},
		{ID: 5, Rule: "battery_low", Subject: "device/d-1", Severity: "urgent", Count: 2},
		{ID: 6, Rule: "spo2_low", Subject: "patient/P-4", Severity: "urgent"}, // extra
		{ID: 7, Rule: "glucose_low", Subject: "patient/P-3", Severity: "warning", Doubt: "quality flag strip_error"},
	}
	missing, extra := MatchAlerts(want, got)
	if len(missing) != 1 || missing[0].Rule != "device_offline" {
		t.Errorf("missing = %v; want the offline alert", missing)
	}
	var ids []int64
	for _, a := range extra {
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []int64{6, 7}) {
		t.Errorf("extra = %v; want alerts 6 (not expected) and 7 (in doubt)", extra)
	}
	if m, x := MatchAlerts([]Expectation{}, nil); len(m)+len(x) != 0 {
		t.Errorf("MatchAlerts(none, none) = %v, %v; want nothing", m, x)
	}
}
