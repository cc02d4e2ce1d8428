package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"gopkg.in/yaml.v3"
)

// Overrides are a team's or a patient's thresholds that differ from the rules file: per rule
// id, per threshold key, the value in the rule's unit; durations in seconds. In JSON and YAML a
// duration is written as a Go duration ("20m"). Only clinical rules can be overridden.
type Overrides map[string]map[string]float64

// UnmarshalJSON reads overrides, with durations as Go duration strings.
func (o *Overrides) UnmarshalJSON(b []byte) error {
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Overrides, len(raw))
	for rule, keys := range raw {
		out[rule] = make(map[string]float64, len(keys))
		for key, v := range keys {
			var f float64
			if err := json.Unmarshal(v, &f); err == nil {
				out[rule][key] = f
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return &OverrideError{Rule: rule, Key: key, Err: fmt.Errorf("%s.%s: must be a number, or a duration such as \"20m\"", rule, key)}
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return &OverrideError{Rule: rule, Key: key,
					Err: fmt.Errorf("%s.%s: must be a number, or a duration such as \"20m\", not %q", rule, key, s)}
			}
			out[rule][key] = d.Seconds()
		}
	}
	*o = out
	return nil
}

// MarshalJSON writes overrides, durations as Go duration strings.
func (o Overrides) MarshalJSON() ([]byte, error) {
	out := make(map[string]map[string]any, len(o))
	for rule, keys := range o {
		out[rule] = make(map[string]any, len(keys))
		for key, v := range keys {
			out[rule][key] = v
			if i, ok := ruleByID(rule); ok {
				if j := paramByKey(i, key); j >= 0 && catalogue[i].params[j].kind == duration {
					out[rule][key] = seconds(v).String()
				}
			}
		}
	}
	return json.Marshal(out)
}

// UnmarshalYAML reads overrides, with durations as Go duration strings.
func (o *Overrides) UnmarshalYAML(n *yaml.Node) error {
	var raw map[string]map[string]yaml.Node
	if err := n.Decode(&raw); err != nil {
		return err
	}
	out := make(Overrides, len(raw))
	for rule, keys := range raw {
		out[rule] = make(map[string]float64, len(keys))
		for key, v := range keys {
			var f float64
			switch {
			case v.Tag == "!!int" || v.Tag == "!!float":
				if err := v.Decode(&f); err != nil {
					return fmt.Errorf("%s.%s: must be a number (line %d)", rule, key, v.Line)
				}
			case v.Tag == "!!str":
				d, err := time.ParseDuration(v.Value)
				if err != nil {
					return fmt.Errorf("%s.%s: must be a number, or a duration such as 20m, not %q (line %d)", rule, key, v.Value, v.Line)
				}
				f = d.Seconds()
			default:
				return fmt.Errorf("%s.%s: must be a number, or a duration such as 20m (line %d)", rule, key, v.Line)
			}
			out[rule][key] = f
		}
	}
	*o = out
	return nil
}

// OverrideError is what is wrong with one override: the rule and, when it is about one
// threshold, its key, so that a form can show the error next to that threshold.
type OverrideError struct {
	Rule, Key string
	Err       error
}

func (e *OverrideError) Error() string { return e.Err.Error() }

// Unwrap returns the error with its words.
func (e *OverrideError) Unwrap() error { return e.Err }

// override is one checked override.
type override struct {
	at ref
	v  float64
}

// checkOverrides returns the valid overrides of o in a stable order, and an error per invalid
// one, each prefixed with who (e.g. "patient override ").
func checkOverrides(o Overrides, who string) ([]override, []error) {
	var ok []override
	var errs []error
	rules := make([]string, 0, len(o))
	for rule := range o {
		rules = append(rules, rule)
	}
	sort.Strings(rules)
	for _, rule := range rules {
		i, known := ruleByID(rule)
		switch {
		case !known:
			errs = append(errs, &OverrideError{Rule: rule, Err: fmt.Errorf("%s%s: unknown rule", who, rule)})
			continue
		case catalogue[i].category != alerts.Clinical:
			errs = append(errs, &OverrideError{Rule: rule,
				Err: fmt.Errorf("%s%s: a fault rule is set in the rules file only, not per team or patient", who, rule)})
			continue
		}
		keys := make([]string, 0, len(o[rule]))
		for key := range o[rule] {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			j := paramByKey(i, key)
			if j < 0 {
				var known []string
				for _, p := range catalogue[i].params {
					known = append(known, p.key)
				}
				if len(known) == 0 {
					errs = append(errs, &OverrideError{Rule: rule, Key: key,
						Err: fmt.Errorf("%s%s.%s: unknown threshold; %s has no thresholds", who, rule, key, rule)})
				} else {
					errs = append(errs, &OverrideError{Rule: rule, Key: key,
						Err: fmt.Errorf("%s%s.%s: unknown threshold; %s has %s", who, rule, key, rule, strings.Join(known, ", "))})
				}
				continue
			}
			v := o[rule][key]
			if msg := catalogue[i].params[j].check(v); msg != "" {
				errs = append(errs, &OverrideError{Rule: rule, Key: key, Err: fmt.Errorf("%s%s.%s: %s", who, rule, key, msg)})
				continue
			}
			ok = append(ok, override{ref{i, j}, v})
		}
	}
	return ok, errs
}

// ValidateOverrides checks overrides on their own against the rules file: unknown rules and
// keys, fault rules, values out of range, and a low threshold above a high one. Each error names
// the rule and key. To check a patient's overrides in the context of their team's, look at the
// error of Effective.
func (r *Rules) ValidateOverrides(o Overrides) error {
	_, err := r.Effective(nil, o)
	return err
}

// Effective returns the thresholds in force for a patient: the patient's overrides beat the
// team's, which beat the rules file. It always returns usable thresholds: an override that is
// invalid, or that would make bands cross (say, a patient's glucose_low.below under the team's
// glucose_very_low.below), is left out, and the error says which and why. With no overrides it
// returns Defaults, without allocating.
func (r *Rules) Effective(team, patient Overrides) (*Thresholds, error) {
	if len(team) == 0 && len(patient) == 0 {
		return &r.base, nil
	}
	t := r.base
	var errs []error
	for _, layer := range []struct {
		who string
		o   Overrides
	}{{"team override ", team}, {"patient override ", patient}} {
		ok, bad := checkOverrides(layer.o, layer.who)
		errs = append(errs, bad...)
		before := t
		for _, o := range ok {
			t.r[o.at.rule].p[o.at.param] = o.v
		}
		// Undo this layer's values that cross a band until none do. The thresholds before the
		// layer were consistent, so this ends.
		for changed := true; changed; {
			changed = false
			for _, ord := range orderings {
				err := ord.check(&t, "")
				if err == nil {
					continue
				}
				// The error is about the layer's own value: the one that moved.
				var set *ref
				for _, at := range []ref{ord.lo, ord.hi} {
					if t.r[at.rule].p[at.param] != before.r[at.rule].p[at.param] {
						t.r[at.rule].p[at.param] = before.r[at.rule].p[at.param]
						changed = true
						if set == nil {
							set = &at
						}
					}
				}
				if set == nil {
					set = &ord.lo
				}
				errs = append(errs, &OverrideError{Rule: catalogue[set.rule].id, Key: catalogue[set.rule].params[set.param].key,
					Err: fmt.Errorf("%s%w", layer.who, err)})
			}
		}
	}
	return &t, errors.Join(errs...)
}
