package simulators

import (
	"fmt"
	"strings"
)

// Expectation is an alert a script must raise. Rule, Subject and Severity always count; State,
// Count, Late and Doubt only when the script gives them.
type Expectation struct {
	Line     int    // in the file
	Rule     string // e.g. glucose_low
	Subject  string // patient/{id} or device/{id}
	Severity string // info, warning, urgent or critical: the alert's, the highest it reached
	State    string // open, acknowledged or resolved; "" for any
	Count    int    // findings that raised and repeated it; 0 for any
	Late     *bool  // whether every finding of it was late (a backlog)
	Doubt    *bool  // whether it carries a data-quality doubt
}

// ObservedAlert is an alert as the platform reports it (GET /api/v1/alerts), in the fields an
// Expectation compares.
type ObservedAlert struct {
	ID       int64
	Rule     string
	Subject  string
	Severity string
	State    string
	Count    int
	Late     bool
	Doubt    string
}

// Matches reports whether a is the alert e expects.
func (e Expectation) Matches(a ObservedAlert) bool {
	return e.Rule == a.Rule && e.Subject == a.Subject && e.Severity == a.Severity &&
		(e.State == "" || e.State == a.State) &&
		(e.Count == 0 || e.Count == a.Count) &&
		(e.Late == nil || *e.Late == a.Late) &&
		(e.Doubt == nil || *e.Doubt == (a.Doubt != ""))
}

// String writes the expectation as a test reports it.
func (e Expectation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s, %s", e.Rule, e.Subject, e.Severity)
	if e.State != "" {
		b.WriteString(", " + e.State)
	}
	if e.Count != 0 {
		fmt.Fprintf(&b, ", count %d", e.Count)
	}
	if e.Late != nil {
		fmt.Fprintf(&b, ", late %v", *e.Late)
	}
	if e.Doubt != nil {
		fmt.Fprintf(&b, ", doubt %v", *e.Doubt)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// String writes the alert as a test reports it.
func (a ObservedAlert) String() string {
	s := fmt.Sprintf("alert %d: %s on %s, %s, %s, count %d", a.ID, a.Rule, a.Subject, a.Severity, a.State, a.Count)
	if a.Late {
		s += ", late"
	}
	if a.Doubt != "" {
		s += ", doubt: " + a.Doubt
	}
	return s
}

// MatchAlerts pairs each expectation with an alert it matches, each alert used once, and returns
// the expectations left without one and the alerts nobody expected. Both empty means the alerts
// are exactly the expected ones. The pairing is a maximum matching, so an expectation that
// leaves a field open never takes the alert a stricter one needs.
func MatchAlerts(want []Expectation, got []ObservedAlert) (missing []Expectation, extra []ObservedAlert) {
	owner := make([]int, len(got)) // the expectation each alert is paired with, or -1
	for j := range owner {
		owner[j] = -1
	}
	// augment looks for an alternating path from expectation i to a free alert (Kuhn's
	// algorithm); a script expects a few dozen alerts at most.
	var augment func(i int, seen []bool) bool
	augment = func(i int, seen []bool) bool {
		for j := range got {
			if seen[j] || !want[i].Matches(got[j]) {
				continue
			}
			seen[j] = true
			if owner[j] < 0 || augment(owner[j], seen) {
				owner[j] = i
				return true
			}
		}
		return false
	}
	paired := make([]bool, len(want))
	for i := range want {
		paired[i] = augment(i, make([]bool, len(got)))
	}
	for i, ok := range paired {
		if !ok {
			missing = append(missing, want[i])
		}
	}
	for j, i := range owner {
		if i < 0 {
			extra = append(extra, got[j])
		}
	}
	return missing, extra
}
