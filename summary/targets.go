package summary

import (
	"slices"
	"strings"
)

// TargetSet names the CGM targets that apply to a patient.
type TargetSet string

// The target sets of the international consensus on time in range (Battelino 2019; ADA
// Standards of Care section 6, Table 6.2).
const (
	// StandardTargets are those for most adults with type 1 or type 2 diabetes.
	StandardTargets TargetSet = "standard"
	// OlderHighRiskTargets are those for older or high-risk adults, whose hypoglycaemia costs
	// more: a lower time in range, and less time below 3.9.
	OlderHighRiskTargets TargetSet = "older_high_risk"
)

// Metric names a CGM figure that a target applies to.
type Metric string

// The CGM metrics with consensus targets. Times are % of the CGM data's time.
const (
	MetricTimeInRange   Metric = "time_in_range"   // 3.9-10.0 mmol/L
	MetricTimeBelow3_9  Metric = "time_below_3.9"  // below 3.9, levels 1 and 2
	MetricTimeBelow3_0  Metric = "time_below_3.0"  // level 2
	MetricTimeAbove10_0 Metric = "time_above_10.0" // above 10.0, levels 1 and 2
	MetricTimeAbove13_9 Metric = "time_above_13.9" // level 2
	MetricCV            Metric = "cv"              // coefficient of variation, %
)

// Op says how a value meets its target's limit.
type Op string

// The comparisons of the consensus targets.
const (
	OpAbove  Op = "above"   // value > limit
	OpBelow  Op = "below"   // value < limit
	OpAtMost Op = "at_most" // value <= limit
)

// Target is one consensus target: Metric Op Limit.
type Target struct {
	Metric Metric
	Op     Op
	Limit  float64
}

// Met reports whether v meets the target.
func (t Target) Met(v float64) bool {
	switch t.Op {
	case OpAbove:
		return v > t.Limit
	case OpBelow:
		return v < t.Limit
	default:
		return v <= t.Limit
	}
}

// TargetCheck is a target with the patient's value.
type TargetCheck struct {
	Target
	Value float64
	Met   bool
}

// Targets returns the targets of a set (docs/domain.md "CGM daily summary"). For older or
// high-risk adults the 2019 consensus sets time in range > 50%, below 3.9 < 1% and above 13.9
// < 10%, and no separate target for below 3.0 or above 10.0.
func Targets(set TargetSet) []Target {
	if set == OlderHighRiskTargets {
		return []Target{
			{MetricTimeInRange, OpAbove, 50},
			{MetricTimeBelow3_9, OpBelow, 1},
			{MetricTimeAbove13_9, OpBelow, 10},
			{MetricCV, OpAtMost, 36},
		}
	}
	return []Target{
		{MetricTimeInRange, OpAbove, 70},
		{MetricTimeBelow3_9, OpBelow, 4},
		{MetricTimeBelow3_0, OpBelow, 1},
		{MetricTimeAbove10_0, OpBelow, 25},
		{MetricTimeAbove13_9, OpBelow, 5},
		{MetricCV, OpAtMost, 36},
	}
}

// glucosePlan and olderHighRisk are the phrases of a care plan that asks for the older or
// high-risk targets: a glucose plan (as the alert rules read plans, or one that names diabetes)
// that also names the patient's risk, such as "insulin-treated diabetes, older adult: CGM".
var (
	glucosePlan   = []string{"glucose", "blood sugar", "cgm", "insulin", "diabetes"}
	olderHighRisk = []string{"older", "elderly", "frail", "high risk"}
)

// TargetSetFor returns the targets a patient's care plans ask for: OlderHighRiskTargets when a
// glucose plan says the patient is older or at high risk, StandardTargets otherwise. Phrases
// match whole words in any case; punctuation separates words, so "high-risk" is "high risk".
func TargetSetFor(plans []string) TargetSet {
	for _, plan := range plans {
		if hasPhrase(plan, glucosePlan) && hasPhrase(plan, olderHighRisk) {
			return OlderHighRiskTargets
		}
	}
	return StandardTargets
}

// hasPhrase reports whether text contains one of phrases as whole words, the way the alert
// rules read care plans.
func hasPhrase(text string, phrases []string) bool {
	words := " " + strings.Join(strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	}), " ") + " "
	return slices.ContainsFunc(phrases, func(ph string) bool { return strings.Contains(words, " "+ph+" ") })
}
