package rules_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
)

func value1(tb testing.TB, th *rules.Thresholds, rule, key string) float64 {
	tb.Helper()
	v, ok := th.Value(rule, key)
	if !ok {
		tb.Fatalf("Value(%s, %s) not found", rule, key)
	}
	return v
}

func TestDefaultRulesAreDomainDefaults(t *testing.T) {
	th := rules.DefaultRules().Defaults()
	tests := []struct {
		rule, key string
		want      float64
	}{
		{alerts.RuleGlucoseLow, "below", 3.9},
		{alerts.RuleGlucoseVeryLow, "below", 3.0},
		{alerts.RuleGlucoseHigh, "above", 13.9},
		{alerts.RuleGlucoseVeryHigh, "above", 16.7},
		{alerts.RuleCGMLowEpisode, "duration", 15 * 60},
		{alerts.RuleCGMLowEpisode, "recovery", 15 * 60},
		{alerts.RuleBPCrisis, "systolic_at_or_above", 180},
		{alerts.RuleBPCrisis, "diastolic_at_or_above", 120},
		{alerts.RuleBPCrisis, "retest_window", 15 * 60},
		{alerts.RuleBPHomeAverage, "systolic_at_or_above", 135},
		{alerts.RuleBPHomeAverage, "diastolic_at_or_above", 85},
		{alerts.RuleBPHomeAverage, "days", 7},
		{alerts.RuleBPLow, "systolic_below", 90},
		{alerts.RuleBPLow, "diastolic_below", 60},
		{alerts.RuleSpO2Low, "low_at_or_below", 94},
		{alerts.RuleSpO2Low, "very_low_at_or_below", 92},
		{alerts.RuleHeartRate, "high_at_or_above", 111},
		{alerts.RuleHeartRate, "very_high_at_or_above", 131},
		{alerts.RuleHeartRate, "low_at_or_below", 50},
		{alerts.RuleHeartRate, "very_low_at_or_below", 40},
		{alerts.RuleFever, "at_or_above", 38.0},
		{alerts.RuleFever, "high_at_or_above", 39.1},
		{alerts.RuleWeightGain, "above", 2},
		{alerts.RuleWeightGain, "window", 3 * 24 * 3600},
		{alerts.RuleFall, "confirm_window", 30},
		{alerts.RuleMissedMeasurement, "after", 3 * 24 * 3600},
		{alerts.RuleDeviceOffline, "multiplier", 3},
		{alerts.RuleDeviceOffline, "wearable_interval", 300},
		{alerts.RuleDeviceOffline, "cgm_interval", 300},
		{alerts.RuleDeviceOffline, "glucose_meter_interval", 24 * 3600},
		{alerts.RuleDeviceOffline, "bp_cuff_interval", 24 * 3600},
		{alerts.RuleBatteryLow, "low_at_or_below", 20},
		{alerts.RuleBatteryLow, "very_low_at_or_below", 5},
		{alerts.RuleRepeatedErrors, "count", 3},
		{alerts.RuleRepeatedErrors, "window", 24 * 3600},
		{alerts.RuleClockDrift, "max_drift", 300},
		{alerts.RuleStuckSensor, "count", 12},
	}
	for _, tt := range tests {
		if got := value1(t, th, tt.rule, tt.key); got != tt.want {
			t.Errorf("default %s.%s = %v; want %v", tt.rule, tt.key, got, tt.want)
		}
	}
	severities := []struct {
		rule, level string
		want        alerts.Severity
	}{
		{alerts.RuleSpO2Low, "low", alerts.Warning},
		{alerts.RuleSpO2Low, "very_low", alerts.Urgent},
		{alerts.RuleBPCrisis, "crisis", alerts.Urgent},
		{alerts.RuleBPCrisis, "confirmed", alerts.Critical},
		{alerts.RuleFall, "fall", alerts.Critical},
		{alerts.RuleSOS, "sos", alerts.Critical},
		{alerts.RuleGlucoseVeryHigh, "very_high", alerts.Urgent},
		{alerts.RuleBatteryLow, "very_low", alerts.Urgent},
	}
	for _, tt := range severities {
		if got, _ := th.Severity(tt.rule, tt.level); got != tt.want {
			t.Errorf("default severity %s.%s = %v; want %v", tt.rule, tt.level, got, tt.want)
		}
	}
	if th.LateAfter() != time.Hour || th.Version() != 1 {
		t.Errorf("late_after, version = %v, %d; want 1h, 1", th.LateAfter(), th.Version())
	}
	for _, id := range rules.RuleIDs() {
		if !th.Enabled(id) {
			t.Errorf("default %s is off; want every rule on", id)
		}
	}
}

func TestLoadRules(t *testing.T) {
	r, err := rules.LoadRules("testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	th := r.Defaults()
	if r.Version() != 3 || r.LateAfter() != 2*time.Hour {
		t.Errorf("version, late_after = %d, %v; want 3, 2h", r.Version(), r.LateAfter())
	}
	for _, tt := range []struct {
		rule, key string
		want      float64
	}{
		{alerts.RuleGlucoseLow, "below", 4.0},
		{alerts.RuleGlucoseVeryLow, "below", 3.0}, // not in the file: the default
		{alerts.RuleSpO2Low, "very_low_at_or_below", 88},
		{alerts.RuleSpO2Low, "low_at_or_below", 94},
		{alerts.RuleCGMLowEpisode, "duration", 20 * 60},
		{alerts.RuleDeviceOffline, "station_interval", 30 * 60},
	} {
		if got := value1(t, th, tt.rule, tt.key); got != tt.want {
			t.Errorf("%s.%s = %v; want %v", tt.rule, tt.key, got, tt.want)
		}
	}
	if s, _ := th.Severity(alerts.RuleSpO2Low, "very_low"); s != alerts.Critical {
		t.Errorf("spo2_low very_low severity = %v; want critical", s)
	}
	if s, _ := th.Severity(alerts.RuleSpO2Low, "low"); s != alerts.Warning {
		t.Errorf("spo2_low low severity = %v; want warning (default)", s)
	}
	if s, _ := th.Severity(alerts.RuleStuckSensor, "stuck"); s != alerts.Info {
		t.Errorf("stuck_sensor severity = %v; want info", s)
	}
	if th.Enabled(alerts.RuleHeartRate) || !th.Enabled(alerts.RuleFever) {
		t.Errorf("heart_rate on = %v, fever on = %v; want off, on", th.Enabled(alerts.RuleHeartRate), th.Enabled(alerts.RuleFever))
	}
}

func TestFormatRoundTrips(t *testing.T) {
	for _, path := range []string{"", "testdata/rules.yaml"} {
		r := rules.DefaultRules()
		if path != "" {
			var err error
			if r, err = rules.LoadRules(path); err != nil {
				t.Fatal(err)
			}
		}
		again, err := rules.ParseRules(r.Format())
		if err != nil {
			t.Fatalf("ParseRules(Format()) of %q: %v\n%s", path, err, r.Format())
		}
		if !reflect.DeepEqual(again, r) {
			t.Errorf("ParseRules(Format()) of %q differs from the rules", path)
		}
	}
}

func TestParseRulesErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"not a number", "version: 1\nrules:\n  glucose_low:\n    below: low\n",
			[]string{`rules.glucose_low.below: must be a number, not "low" (line 4)`}},
		{"unknown rule", "version: 1\nrules:\n  glucose_lw:\n    below: 3\n",
			[]string{"rules.glucose_lw: unknown rule; rules are glucose_low, "}},
		{"unknown setting", "version: 1\nrules:\n  glucose_low:\n    abov: 3\n",
			[]string{"rules.glucose_low.abov: unknown setting; glucose_low has enabled, severity, below (line 4)"}},
		{"duration as a number", "version: 1\nrules:\n  cgm_low_episode:\n    duration: 15\n",
			[]string{`rules.cgm_low_episode.duration: must be a duration such as 15m or 72h, not "15" (line 4)`}},
		{"bad duration", "version: 1\nrules:\n  fall:\n    confirm_window: half a minute\n",
			[]string{`rules.fall.confirm_window: must be a duration such as 15m or 72h, not "half a minute"`}},
		{"duration out of range", "version: 1\nrules:\n  fall:\n    confirm_window: 1h\n",
			[]string{"rules.fall.confirm_window: 1h0m0s is outside 0s-10m0s"}},
		{"value out of range", "version: 1\nrules:\n  fever:\n    at_or_above: 50\n",
			[]string{"rules.fever.at_or_above: 50 Cel is outside 30 Cel-45 Cel"}},
		{"count not whole", "version: 1\nrules:\n  repeated_errors:\n    count: 2.5\n",
			[]string{`rules.repeated_errors.count: must be a whole number, not "2.5"`}},
		{"bad severity", "version: 1\nrules:\n  glucose_low:\n    severity: loud\n",
			[]string{`rules.glucose_low.severity: severity "loud" is not one of info, warning, urgent, critical (line 4)`}},
		{"one severity for two levels", "version: 1\nrules:\n  spo2_low:\n    severity: urgent\n",
			[]string{"rules.spo2_low.severity: spo2_low has levels low, very_low: give a severity per level"}},
		{"unknown level", "version: 1\nrules:\n  spo2_low:\n    severity: {lowest: urgent}\n",
			[]string{"rules.spo2_low.severity.lowest: unknown level; spo2_low has low, very_low"}},
		{"enabled not a boolean", "version: 1\nrules:\n  sos:\n    enabled: sometimes\n",
			[]string{"rules.sos.enabled: must be true or false (line 4)"}},
		{"no version", "rules:\n  sos:\n    enabled: true\n", []string{"version: required: a whole number >= 1, which every alert records",
			"even in a file that changes nothing else; raise it with each change (the built-in defaults are version 1, so start at 2)"}},
		{"only late_after", "late_after: 2h\n", []string{"version: required: a whole number >= 1, which every alert records"}},
		{"empty file", "", []string{"version: required, and the rules file is empty: a whole number >= 1, which every alert records"}},
		{"rules empty", "version: 1\nrules:\n  heart_rate: {enabled: maybe}\n", []string{"rules.heart_rate.enabled: must be true or false"}},
		{"version zero", "version: 0\n", []string{"version: must be a whole number >= 1 (line 1)"}},
		{"version a string", "version: v2\n", []string{`version: must be a whole number, not "v2" (line 1)`}},
		{"late_after a number", "version: 1\nlate_after: 60\n", []string{`late_after: must be a duration such as 15m or 72h, not "60" (line 2)`}},
		{"late_after over its limit", "version: 1\nlate_after: 200h\n", []string{"late_after: must be from 1m to 168h (7 days), not 200h (line 2)"}},
		{"late_after under its limit", "version: 1\nlate_after: 30s\n", []string{"late_after: must be from 1m to 168h (7 days), not 30s (line 2)"}},
		{"unknown top-level key", "version: 1\nrule:\n  sos: {}\n", []string{"rule: unknown key; want version, late_after or rules (line 2)"}},
		{"key twice", "version: 1\nrules:\n  sos:\n    enabled: true\n  sos:\n    enabled: false\n",
			[]string{"rules.sos: given twice (also on line 3) (line 5)"}},
		{"low above very low crossed", "version: 1\nrules:\n  glucose_very_low:\n    below: 4.0\n",
			[]string{"rules.glucose_very_low.below: 4 mmol/L must be below rules.glucose_low.below (3.9 mmol/L)"}},
		{"heart rate bands crossed", "version: 1\nrules:\n  heart_rate:\n    low_at_or_below: 120\n",
			[]string{"rules.heart_rate.low_at_or_below: 120 /min must be below rules.heart_rate.high_at_or_above (111 /min)"}},
		{"not YAML", "version: [1\n", []string{"rules file is not YAML"}},
		{"not a mapping", "- 1\n", []string{"rules file: must be a mapping"}},
	}
	for _, tt := range tests {
		_, err := rules.ParseRules([]byte(tt.file))
		if err == nil {
			t.Errorf("%s: ParseRules(%q) = nil error; want %q", tt.name, tt.file, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: ParseRules(%q) = %q; want it to contain %q", tt.name, tt.file, err, w)
			}
		}
	}
}

func TestParseRulesReportsEveryError(t *testing.T) {
	_, err := rules.LoadRules("testdata/bad-rules.yaml")
	if err == nil {
		t.Fatal("LoadRules(bad-rules.yaml) = nil error")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		"testdata/bad-rules.yaml: version: must be a whole number >= 1 (line 1)",
		`late_after: must be a duration such as 15m or 72h, not "90" (line 2)`,
		"rules.glucose_lw: unknown rule",
		`rules.glucose_low.below: must be a number, not "low" (line 7)`,
		"rules.glucose_low.abov: unknown setting",
		"rules.spo2_low.severity: spo2_low has levels low, very_low",
		`rules.cgm_low_episode.duration: must be a duration such as 15m or 72h, not "15" (line 12)`,
		"rules.cgm_low_episode.enabled: must be true or false (line 13)",
		`rules.repeated_errors.count: must be a whole number, not "2.5" (line 15)`,
		"rules.fever.at_or_above: 50 Cel is outside 30 Cel-45 Cel (line 17)",
	}
	if len(got) != len(want) {
		t.Fatalf("LoadRules(bad-rules.yaml) = %d errors:\n%s\nwant %d", len(got), err, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q; want it to start %q", i, got[i], want[i])
		}
	}
}

func TestEffectivePrecedence(t *testing.T) {
	r := rules.DefaultRules()
	team := rules.Overrides{alerts.RuleGlucoseLow: {"below": 4.2}, alerts.RuleFever: {"at_or_above": 37.8}}
	patient := rules.Overrides{alerts.RuleGlucoseLow: {"below": 4.5}}
	tests := []struct {
		name          string
		team, patient rules.Overrides
		low, fever    float64
	}{
		{"file", nil, nil, 3.9, 38.0},
		{"team beats file", team, nil, 4.2, 37.8},
		{"patient beats team", team, patient, 4.5, 37.8},
		{"patient alone", nil, patient, 4.5, 38.0},
	}
	for _, tt := range tests {
		th, err := r.Effective(tt.team, tt.patient)
		if err != nil {
			t.Errorf("%s: Effective() error %v", tt.name, err)
			continue
		}
		if low, fever := value1(t, th, alerts.RuleGlucoseLow, "below"), value1(t, th, alerts.RuleFever, "at_or_above"); low != tt.low || fever != tt.fever {
			t.Errorf("%s: glucose_low.below, fever.at_or_above = %v, %v; want %v, %v", tt.name, low, fever, tt.low, tt.fever)
		}
	}
	if th, _ := r.Effective(nil, nil); th != r.Defaults() {
		t.Errorf("Effective(nil, nil) is a copy; want the file's thresholds themselves")
	}
	if v := value1(t, r.Defaults(), alerts.RuleGlucoseLow, "below"); v != 3.9 {
		t.Errorf("Effective changed the file's thresholds: glucose_low.below = %v", v)
	}
}

func TestOverrideErrors(t *testing.T) {
	r := rules.DefaultRules()
	tests := []struct {
		name          string
		team, patient rules.Overrides
		want          []string
		// low is glucose_low.below in force despite the errors.
		low float64
	}{
		{"unknown rule", nil, rules.Overrides{"glucose_lw": {"below": 4}}, []string{"patient override glucose_lw: unknown rule"}, 3.9},
		{"unknown key", nil, rules.Overrides{alerts.RuleGlucoseLow: {"abov": 4}},
			[]string{"patient override glucose_low.abov: unknown threshold; glucose_low has below"}, 3.9},
		{"fault rule", rules.Overrides{alerts.RuleBatteryLow: {"low_at_or_below": 30}}, nil,
			[]string{"team override battery_low: a fault rule is set in the rules file only"}, 3.9},
		{"out of range", nil, rules.Overrides{alerts.RuleGlucoseLow: {"below": 40}},
			[]string{"patient override glucose_low.below: 40 mmol/L is outside 0.6 mmol/L-33.3 mmol/L"}, 3.9},
		{"low under very low", nil, rules.Overrides{alerts.RuleGlucoseLow: {"below": 2.5}},
			[]string{"patient override glucose_very_low.below: 3 mmol/L must be below glucose_low.below (2.5 mmol/L)"}, 3.9},
		{"patient low under the team's very low", rules.Overrides{alerts.RuleGlucoseVeryLow: {"below": 3.5}},
			rules.Overrides{alerts.RuleGlucoseLow: {"below": 3.4}},
			[]string{"patient override glucose_very_low.below: 3.5 mmol/L must be below glucose_low.below (3.4 mmol/L)"}, 3.9},
		{"invalid and valid together", nil, rules.Overrides{alerts.RuleGlucoseLow: {"below": 4.4}, alerts.RuleFever: {"at_or_above": 99}},
			[]string{"patient override fever.at_or_above: 99 Cel is outside"}, 4.4},
	}
	for _, tt := range tests {
		th, err := r.Effective(tt.team, tt.patient)
		if err == nil {
			t.Errorf("%s: Effective() error = nil; want %q", tt.name, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Effective() error = %q; want it to contain %q", tt.name, err, w)
			}
		}
		if low := value1(t, th, alerts.RuleGlucoseLow, "below"); low != tt.low {
			t.Errorf("%s: glucose_low.below in force = %v; want %v", tt.name, low, tt.low)
		}
	}
	// Moving both bands down together is fine.
	if _, err := r.Effective(nil, rules.Overrides{alerts.RuleGlucoseLow: {"below": 2.8}, alerts.RuleGlucoseVeryLow: {"below": 2.5}}); err != nil {
		t.Errorf("Effective(both glucose bands lowered) error %v; want none", err)
	}
	if err := r.ValidateOverrides(rules.Overrides{alerts.RuleSpO2Low: {"very_low_at_or_below": 96}}); err == nil ||
		!strings.Contains(err.Error(), "spo2_low.very_low_at_or_below: 96 % must be at most spo2_low.low_at_or_below (94 %)") {
		t.Errorf("ValidateOverrides(spo2 very low 96) = %v; want the bands named", err)
	}
}

func TestOverridesJSONAndYAML(t *testing.T) {
	var o rules.Overrides
	if err := json.Unmarshal([]byte(`{"cgm_low_episode":{"duration":"20m","below":2.8}}`), &o); err != nil {
		t.Fatal(err)
	}
	want := rules.Overrides{alerts.RuleCGMLowEpisode: {"duration": 1200, "below": 2.8}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("json.Unmarshal = %v; want %v", o, want)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"cgm_low_episode":{"below":2.8,"duration":"20m0s"}}` {
		t.Errorf("json.Marshal = %s", got)
	}
	var y rules.Overrides
	if err := yaml.Unmarshal([]byte("cgm_low_episode:\n  duration: 20m\n  below: 2.8\n"), &y); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y, want) {
		t.Errorf("yaml.Unmarshal = %v; want %v", y, want)
	}
	for _, bad := range []string{`{"fever":{"at_or_above":"hot"}}`, `{"fever":{"at_or_above":true}}`} {
		if err := json.Unmarshal([]byte(bad), &o); err == nil || !strings.Contains(err.Error(), "fever.at_or_above") {
			t.Errorf("json.Unmarshal(%s) = %v; want an error naming fever.at_or_above", bad, err)
		}
	}
}

func TestCategoryOf(t *testing.T) {
	var faults []string
	for _, id := range rules.RuleIDs() {
		if c, _ := rules.CategoryOf(id); c == alerts.Fault {
			faults = append(faults, id)
		}
	}
	// Routed to the device's site: the faults, and the calls for help from a device lent to
	// nobody; and to a site itself, the notice of its patients' growth.
	want := []string{"device_offline", "battery_low", "repeated_errors", "calibration_overdue", "clock_drift", "stuck_sensor", "implausible_values",
		"sos_unassigned", "fall_unassigned", "centre_growth"}
	if !slices.Equal(faults, want) {
		t.Errorf("fault rules = %v; want %v", faults, want)
	}
}

func TestParseRulesOnlyWhatChanges(t *testing.T) {
	for _, file := range []string{"version: 4\n", "version: 4\nrules:\n", "version: 4\nrules:\n  sos:\n"} {
		r, err := rules.ParseRules([]byte(file))
		if err != nil {
			t.Errorf("ParseRules(%q) error %v", file, err)
			continue
		}
		want := rules.DefaultRules().Defaults()
		if r.Version() != 4 || value1(t, r.Defaults(), alerts.RuleFever, "at_or_above") != value1(t, want, alerts.RuleFever, "at_or_above") {
			t.Errorf("ParseRules(%q) = version %d; want 4 with the defaults", file, r.Version())
		}
	}
}
