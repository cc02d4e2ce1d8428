package fhir

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/reading"
)

// A clinical alert as a Flag, which tells whoever opens the patient's record, with a
// DetectedIssue (linked by the flag-detail extension) that holds what was found and the
// readings that showed it (evidence.detail, Observations). Fault alerts are about devices and
// go to fleet managers: they are no Flag.

// isFlag reports whether a is served as a Flag: a clinical alert about a patient.
func isFlag(a alerts.Alert) bool { return a.Category == alerts.Clinical && a.Patient != "" }

// alertID is the id of an alert's Flag and DetectedIssue.
func alertID(a alerts.Alert) string { return strconv.FormatInt(a.ID, 10) }

// ruleCode is the rule of a as a code, with the rule and its thresholds in words as text.
func ruleCode(a alerts.Alert) CodeableConcept {
	title := ruleTitles[a.Rule]
	if title == "" {
		title = strings.ReplaceAll(a.Rule, "_", " ")
	}
	return CodeableConcept{Coding: []Coding{{System: systemRule, Code: a.Rule, Display: title}}, Text: ruleWords(title, a)}
}

// ruleWords is the rule's title with the thresholds the alert was judged by, each in its unit:
// "Very low glucose (below 3 mmol/L)".
func ruleWords(title string, a alerts.Alert) string {
	if len(a.Thresholds) == 0 {
		return title
	}
	var parts []string
	for _, s := range rules.DefaultRules().ClinicalSettings() {
		v, ok := a.Thresholds[s.Key]
		if s.Rule != a.Rule || !ok {
			continue
		}
		key := strings.ReplaceAll(s.Key, "_", " ")
		switch s.Kind {
		case "duration":
			parts = append(parts, key+" "+shortDuration(time.Duration(v*float64(time.Second))))
		case "hour":
			parts = append(parts, key+" "+strconv.FormatFloat(v, 'f', -1, 64)+" h")
		case "number":
			parts = append(parts, strings.TrimSpace(key+" "+strconv.FormatFloat(v, 'f', -1, 64)+" "+s.Unit))
		default:
			parts = append(parts, key+" "+strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	if len(parts) == 0 {
		return title
	}
	return title + " (" + strings.Join(parts, ", ") + ")"
}

// shortDuration writes d as 15m or 1h30m rather than 15m0s or 1h30m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// flagPriority is an alert's severity as a flag priority (IHE alert priority).
func flagPriority(s alerts.Severity) Coding {
	switch {
	case s >= alerts.Urgent:
		return Coding{System: systemPriority, Code: "PH", Display: "High priority"}
	case s == alerts.Warning:
		return Coding{System: systemPriority, Code: "PM", Display: "Medium priority"}
	}
	return Coding{System: systemPriority, Code: "PL", Display: "Low priority"}
}

// issueSeverity is an alert's severity as a DetectedIssue's.
func issueSeverity(s alerts.Severity) string {
	switch {
	case s >= alerts.Urgent:
		return "high"
	case s == alerts.Warning:
		return "moderate"
	}
	return "low"
}

// flagResource is a clinical alert as a Flag: active while open or acknowledged, inactive once
// resolved; its period runs from the first reading that raised it to its resolution.
func flagResource(a alerts.Alert) Flag {
	id := alertID(a)
	f := Flag{ResourceType: "Flag", ID: id, Identifier: []Identifier{{System: systemAlert, Value: id}},
		Status:   "active",
		Category: []CodeableConcept{{Coding: []Coding{{System: systemFlagCat, Code: "clinical", Display: "Clinical"}}}},
		Code:     ruleCode(a), Subject: patientRef(a.Patient), Period: &Period{Start: fhirTime(a.FirstSeen)},
		Extension: []Extension{
			{URL: extFlagDetail, ValueReference: &Reference{Reference: "DetectedIssue/" + id}},
			{URL: extFlagPrio, ValueCodeableConcept: &CodeableConcept{Coding: []Coding{flagPriority(a.Severity)}, Text: a.Severity.String()}},
		}}
	if a.State == alerts.Resolved {
		f.Status = "inactive"
		if !a.ResolvedAt.IsZero() {
			f.Period.End = fhirTime(a.ResolvedAt)
		}
	}
	return f
}

// detectedIssueResource is what a clinical alert found, with the readings recorded as its
// evidence (the first 5 and the latest 20) as references to their Observations. A reading of
// an event (a fall, an SOS call) has no Observation and is only counted in the detail.
func detectedIssueResource(a alerts.Alert) DetectedIssue {
	id := alertID(a)
	code := ruleCode(a)
	patient := patientRef(a.Patient)
	d := DetectedIssue{ResourceType: "DetectedIssue", ID: id, Identifier: []Identifier{{System: systemAlert, Value: id}},
		Status: "final", Code: &code, Severity: issueSeverity(a.Severity), Patient: &patient,
		IdentifiedDateTime: fhirTime(a.FirstSeen)}
	var refs []Reference
	for _, e := range a.Evidence {
		t := reading.Type(e.Measurement)
		k := kindOfType(t, false)
		if k == nil || e.Device == "" {
			continue
		}
		ref := Reference{Reference: "Observation/" + readingID(k.typeCode, e.Time, e.Device)}
		if !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	if len(refs) > 0 {
		d.Evidence = []DetectedIssueEvidence{{Detail: refs}}
	}
	d.Detail = issueDetail(a, len(refs))
	return d
}

// issueDetail says what the alert found, in words.
func issueDetail(a alerts.Alert, readings int) string {
	var b strings.Builder
	b.WriteString(code0(a))
	if a.LastValue != "" {
		fmt.Fprintf(&b, "; last value %s", a.LastValue)
	}
	fmt.Fprintf(&b, "; %s, seen %d times from %s to %s; %s", a.Severity, a.Count, fhirTime(a.FirstSeen), fhirTime(a.LastSeen), a.State)
	if a.Late {
		b.WriteString("; late (measured long before it arrived): notified no one")
	}
	if a.Doubt != "" {
		b.WriteString("; in doubt: " + a.Doubt)
	}
	if a.Silenced != "" {
		b.WriteString("; silenced: " + a.Silenced)
	}
	if a.ResolutionNote != "" {
		b.WriteString("; resolved: " + a.ResolutionNote)
	}
	fmt.Fprintf(&b, "; %d readings as evidence", readings)
	return b.String()
}

// code0 is the text of the alert's rule code.
func code0(a alerts.Alert) string { return ruleCode(a).Text }
