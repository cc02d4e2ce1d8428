package rules_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
)

// The clinical settings are every threshold a team or patient may override, with the guideline
// default and the file's value; fault rules are not among them.
func TestClinicalSettings(t *testing.T) {
	r, err := rules.ParseRules([]byte("version: 3\nrules:\n  glucose_low:\n    below: 4.2\n"))
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]rules.Setting{}
	for _, s := range r.ClinicalSettings() {
		if c, _ := rules.CategoryOf(s.Rule); c != alerts.Clinical {
			t.Errorf("%s.%s is of a %s rule", s.Rule, s.Key, c)
		}
		byKey[s.Rule+"."+s.Key] = s
	}
	for _, tt := range []struct {
		key  string
		want string
	}{
		{"glucose_low.below", "number mmol/L 0.6-33.3 guideline 3.9 value 4.2"},
		{"cgm_low_episode.duration", "duration  60-14400 guideline 900 value 900"},
		{"bp_home_average.days", "count  2-28 guideline 7 value 7"},
		{"bp_home_average.morning_start", "hour  0-24 guideline 4 value 4"},
		{"spo2_low.very_low_at_or_below", "number % 50-100 guideline 92 value 92"},
	} {
		s, ok := byKey[tt.key]
		got := fmt.Sprintf("%s %s %v-%v guideline %v value %v", s.Kind, s.Unit, s.Min, s.Max, s.Guideline, s.Value)
		if !ok || got != tt.want {
			t.Errorf("setting %s = %q (listed %v); want %q", tt.key, got, ok, tt.want)
		}
	}
	if _, ok := byKey["battery_low.low_at_or_below"]; ok {
		t.Errorf("a fault rule's threshold is listed")
	}
}

// Each error about an override names its rule and key, so that a form can put it next to the
// threshold: a value out of range, an unknown key, a value that is not a number or duration,
// and bands that cross (the key the overrides moved).
func TestOverrideErrorNamesTheKey(t *testing.T) {
	r := rules.DefaultRules()
	first := func(err error) string {
		var oe *rules.OverrideError
		if !errors.As(err, &oe) {
			return fmt.Sprintf("no OverrideError in %v", err)
		}
		return oe.Rule + "." + oe.Key
	}
	for _, tt := range []struct {
		name string
		o    rules.Overrides
		want string
	}{
		{"out of range", rules.Overrides{alerts.RuleGlucoseLow: {"below": 99}}, "glucose_low.below"},
		{"unknown key", rules.Overrides{alerts.RuleSpO2Low: {"lowest": 90}}, "spo2_low.lowest"},
		{"crossing bands", rules.Overrides{alerts.RuleGlucoseVeryLow: {"below": 5}}, "glucose_very_low.below"},
		{"crossing bands, the high one moved", rules.Overrides{alerts.RuleGlucoseLow: {"below": 2.5}}, "glucose_low.below"},
	} {
		if got := first(r.ValidateOverrides(tt.o)); got != tt.want {
			t.Errorf("%s: the error names %s; want %s", tt.name, got, tt.want)
		}
	}
	var o rules.Overrides
	err := json.Unmarshal([]byte(`{"cgm_low_episode": {"duration": "soon"}}`), &o)
	if got := first(err); got != "cgm_low_episode.duration" {
		t.Errorf("a duration that is not one: the error names %s; want cgm_low_episode.duration (%v)", got, err)
	}
}
