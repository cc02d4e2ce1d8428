// Package alerts is the vocabulary of clinical and device-fault alerts (docs/design.md "Alerts"):
// findings and the alerts they open, with their severities, categories and events; the lifecycle
// that records findings as alerts; the rule ids, silences, the escalation policy and the burden
// figures. The rules file and the engine that raise findings from readings are package
// alerts/rules; telling people (the live feed's hub, escalation, webhooks) is package
// alerts/notify; storage and the HTTP API are adapters elsewhere.
package alerts

import (
	"fmt"
	"slices"
	"time"
)

// Severity orders how much an alert needs someone: info < warning < urgent < critical.
type Severity int

// Severities, in rising order.
const (
	Info Severity = iota + 1
	Warning
	Urgent
	Critical
)

var severityNames = []string{Info: "info", Warning: "warning", Urgent: "urgent", Critical: "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name.
func ParseSeverity(name string) (Severity, error) {
	if i := slices.Index(severityNames, name); i >= int(Info) {
		return Severity(i), nil
	}
	return 0, fmt.Errorf("severity %q is not one of info, warning, urgent, critical", name)
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// State is where an alert is in its life: open -> acknowledged -> resolved.
type State string

// States.
const (
	Open         State = "open"
	Acknowledged State = "acknowledged"
	Resolved     State = "resolved"
)

// Category says who an alert is for: a clinical alert is about a patient and goes to the
// patient's team; a fault is about a device and goes to the fleet managers of its site. An SOS
// or a fall from a device lent to nobody (sos_unassigned, fall_unassigned) has no patient and
// no team, so it is routed as a fault: about the device, to its site. The fleet's notice that a
// centre's patients on a plan grew (centre_growth) is routed as a fault too: about the site
// itself, to its fleet managers.
type Category string

// Categories.
const (
	Clinical Category = "clinical"
	Fault    Category = "fault"
)

// Subject is what an alert is about: a patient (clinical), a device (fault), or a site (a
// centre-level notice such as centre_growth, routed as a fault to that site). There is at most
// one open alert per rule and subject.
type Subject struct {
	Kind string // "patient", "device" or "site"
	ID   string
}

// Subject kinds.
const (
	SubjectPatient = "patient"
	SubjectDevice  = "device"
	SubjectSite    = "site"
)

// String is "patient/ID", "device/ID" or "site/ID".
func (s Subject) String() string { return s.Kind + "/" + s.ID }

// Evidence is one reading that raised or updated an alert.
type Evidence struct {
	Device      string    `json:"device"`
	Measurement string    `json:"measurement"` // the InfluxDB measurement (reading type)
	Time        time.Time `json:"time"`        // measurement time
	Value       float64   `json:"value,omitempty"`
	Systolic    float64   `json:"systolic,omitempty"`
	Diastolic   float64   `json:"diastolic,omitempty"`
	Flags       []string  `json:"flags,omitempty"`
}

// Finding is what the engine concludes from a reading: raise (or update) the alert of Rule on
// Subject at Severity, or resolve it.
type Finding struct {
	Rule        string
	RuleVersion int
	Category    Category
	Severity    Severity
	Subject     Subject
	Patient     string // the patient, for clinical findings
	Device      string // the device whose reading it is
	Team        string // routing: the patient's team (clinical)
	Site        string // routing: the device's site (fault)
	At          time.Time
	// Value is the headline value, e.g. "2.7 mmol/L" or "185/110 mm[Hg]".
	Value string
	// Thresholds are the thresholds the rule used, by name, as the rules file names them;
	// durations (windows) in seconds.
	Thresholds map[string]float64
	Evidence   []Evidence
	// Resolve says the condition cleared: the open alert, if any, resolves itself (faults) or
	// gets the note (a normal BP retest, a fall cancelled late, a missed measurement made up).
	// A resolving finding has severity info.
	Resolve bool
	Note    string
	// Late marks a finding about an event long over (a backlog uploaded late): it is recorded
	// at severity info and pages nobody.
	Late bool
	// Doubt names a data-quality doubt: a quality flag on the reading, or an open fault of the
	// device (sensor malfunction, calibration overdue).
	Doubt string
	// Location is where a fall or SOS happened, when the device sent it.
	Location *Location
	// Silenced is the reason of a silence of the finding's subject at its time (a patient in
	// hospital, a device under maintenance): the finding is recorded but notifies nobody.
	Silenced string
}

// Location is a point on the earth, in degrees (WGS 84, as devices send it).
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}
