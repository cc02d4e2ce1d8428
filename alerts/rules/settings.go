package rules

import "github.com/vitalwatch/vitalwatch/alerts"

// Setting is one threshold of a clinical rule, which a team or a patient may override: what
// it takes, the range it accepts, the guideline default of docs/domain.md and the value the
// rules file sets. Durations are in seconds.
type Setting struct {
	Rule, Key string
	// Kind is "number" (in Unit), "duration" (seconds; a Go duration such as "20m" in
	// overrides), "count" (a whole number) or "hour" (of the local day, 0-24).
	Kind      string
	Unit      string
	Min, Max  float64
	Guideline float64
	Value     float64
}

// kindNames are the words of the kinds of parameter.
var kindNames = [...]string{number: "number", duration: "duration", count: "count", hour: "hour"}

// ClinicalSettings lists the thresholds of the clinical rules, the ones teams and patients may
// override, in the order of the catalogue and of each rule's keys.
func (r *Rules) ClinicalSettings() []Setting {
	var out []Setting
	for i := range catalogue {
		spec := &catalogue[i]
		if spec.category != alerts.Clinical {
			continue
		}
		for j, p := range spec.params {
			out = append(out, Setting{Rule: spec.id, Key: p.key, Kind: kindNames[p.kind], Unit: p.unit, Min: p.min, Max: p.max,
				Guideline: p.def, Value: r.base.r[i].p[j]})
		}
	}
	return out
}
