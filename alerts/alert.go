package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Alert is an alert as stored: one per (Rule, Subject) while it is open or acknowledged. Times
// are UTC; FirstSeen and LastSeen are measurement times of the readings, the others are when
// the change was made.
type Alert struct {
	ID          int64              `json:"id"`
	Rule        string             `json:"rule"`
	RuleVersion int                `json:"rule_version"`
	Category    Category           `json:"category"`
	Severity    Severity           `json:"severity"`
	Subject     Subject            `json:"subject"`
	Patient     string             `json:"patient,omitempty"`
	Device      string             `json:"device,omitempty"`
	Team        string             `json:"team,omitempty"` // routing of a clinical alert
	Site        string             `json:"site,omitempty"` // routing of a fault
	State       State              `json:"state"`
	FirstSeen   time.Time          `json:"first_seen"`
	LastSeen    time.Time          `json:"last_seen"`
	Count       int                `json:"count"` // findings that raised or repeated it
	LastValue   string             `json:"last_value,omitempty"`
	Thresholds  map[string]float64 `json:"thresholds,omitempty"` // those of the latest finding
	// Evidence holds the readings that raised and repeated it, bounded as KeepEvidence does.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Late is true while every finding of the alert was late (a backlog): it never notified.
	Late bool `json:"late,omitempty"`
	// Doubt is the data-quality doubt of the latest finding, kept while every finding had one.
	Doubt string `json:"doubt,omitempty"`
	// Silenced is the silence reason of the latest finding, kept while every finding was
	// silenced.
	Silenced string `json:"silenced,omitempty"`
	// NotifiedSeverity is the highest severity anyone was notified of; 0 if none.
	NotifiedSeverity Severity  `json:"notified_severity,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
	AcknowledgedBy   string    `json:"acknowledged_by,omitempty"`
	AcknowledgedAt   time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgeNote  string    `json:"acknowledge_note,omitempty"`
	ResolvedBy       string    `json:"resolved_by,omitempty"`
	ResolvedAt       time.Time `json:"resolved_at,omitzero"`
	ResolutionNote   string    `json:"resolution_note,omitempty"`
	// EscalationLevel is the escalation reached: 0 none, 1 the team lead, 2 and on the on-call
	// roster in order (see notify.Escalator).
	EscalationLevel int `json:"escalation_level,omitempty"`
}

// EventType names a change of an alert.
type EventType string

// Event types. EventEscalated records an escalation; its note is the user paged.
const (
	EventRaised         EventType = "raised"
	EventUpdated        EventType = "updated"         // a repeat: count, last value, evidence
	EventSeverityRaised EventType = "severity_raised" // a repeat at a higher severity
	EventAcknowledged   EventType = "acknowledged"
	EventResolved       EventType = "resolved"
	EventEscalated      EventType = "escalated"
)

// EventTypes lists the event types.
var EventTypes = []EventType{EventRaised, EventUpdated, EventSeverityRaised, EventAcknowledged, EventResolved, EventEscalated}

// Event is one change of an alert. Its ID orders every event of every alert: events are
// numbered in the order they were committed, so a reader that has seen up to ID n has missed
// nothing below it. It is the id of the live feed.
type Event struct {
	ID       int64
	AlertID  int64
	Type     EventType
	At       time.Time // when the change was made
	Actor    string    // "system" for findings, else the person as in the audit log
	Note     string
	Severity Severity // the alert's severity after the change
	// Notify says the change should reach people now: a new alert or a rise in severity, of
	// a finding that is neither late nor in doubt.
	Notify bool
	// Alert is the alert after the change, without its evidence.
	Alert Alert
}

// Scope is what a viewer may see: every alert, or the clinical alerts of Teams and the fault
// alerts of Sites.
type Scope struct {
	All   bool
	Teams []string
	Sites []string
}

// Allows reports whether the scope covers an alert of category routed to team or site.
func (s Scope) Allows(c Category, team, site string) bool {
	switch {
	case s.All:
		return true
	case c == Clinical:
		return team != "" && slices.Contains(s.Teams, team)
	case c == Fault:
		return site != "" && slices.Contains(s.Sites, site)
	}
	return false
}

// Empty reports whether the scope covers nothing.
func (s Scope) Empty() bool { return !s.All && len(s.Teams) == 0 && len(s.Sites) == 0 }

// ScopeOf is what p may see: an admin every alert, a doctor the clinical alerts of their teams,
// a fleet manager the fault alerts of their sites; anyone else nothing.
func ScopeOf(p *access.Principal) Scope {
	switch p.Role {
	case access.Admin:
		return Scope{All: true}
	case access.Doctor:
		return Scope{Teams: p.Teams}
	case access.FleetManager:
		return Scope{Sites: p.Sites}
	}
	return Scope{}
}

// SystemActor is the actor of the changes that findings make.
const SystemActor = "system"

// Evidence kept per alert: the first readings, which raised it, and the latest ones.
const (
	EvidenceFirst  = 5
	EvidenceLatest = 20
)

// KeepEvidence appends add to kept and bounds the result: the first EvidenceFirst readings
// stay, and of the rest only the latest EvidenceLatest. kept must itself be such a result.
func KeepEvidence(kept, add []Evidence) []Evidence {
	all := append(slices.Clone(kept), add...)
	if len(all) <= EvidenceFirst+EvidenceLatest {
		return all
	}
	return append(all[:EvidenceFirst:EvidenceFirst], all[len(all)-EvidenceLatest:]...)
}

// MaxNote bounds a note, in characters.
const MaxNote = 1000

// CheckNote refuses a note longer than MaxNote.
func CheckNote(note string) error {
	if n := utf8.RuneCountInString(note); n > MaxNote {
		return errcode.FieldErrorf(errcode.Invalid, "note", "a note is at most %d characters, not %d", MaxNote, n)
	}
	return nil
}

// CanAcknowledge refuses to acknowledge an alert that is not open (Conflict, naming its state).
func (a Alert) CanAcknowledge() error {
	if a.State != Open {
		return errcode.Errorf(errcode.Conflict, "alert %d is %s; it can be acknowledged only when open", a.ID, a.State)
	}
	return nil
}

// CanResolve refuses to resolve an alert that is already resolved (Conflict), and a clinical
// alert without a note (Invalid): a person resolves it and says why.
func (a Alert) CanResolve(note string) error {
	if a.State == Resolved {
		return errcode.Errorf(errcode.Conflict, "alert %d is resolved; it can be resolved only when open or acknowledged", a.ID)
	}
	if a.Category == Clinical && strings.TrimSpace(note) == "" {
		return errcode.FieldErrorf(errcode.Invalid, "note", "note: required to resolve a clinical alert")
	}
	return nil
}

// CheckFinding refuses a finding that cannot be stored: no rule, an unknown category, subject
// kind or severity, or a site subject not routed as a fault to that site.
func CheckFinding(f Finding) error {
	switch {
	case strings.TrimSpace(f.Rule) == "":
		return errcode.Errorf(errcode.Invalid, "finding: no rule")
	case f.Category != Clinical && f.Category != Fault:
		return errcode.Errorf(errcode.Invalid, "finding of %s: category %q is not clinical or fault", f.Rule, f.Category)
	case f.Subject.Kind != SubjectPatient && f.Subject.Kind != SubjectDevice && f.Subject.Kind != SubjectSite || f.Subject.ID == "":
		return errcode.Errorf(errcode.Invalid, "finding of %s: subject %q is not patient/ID, device/ID or site/ID", f.Rule, f.Subject)
	case f.Subject.Kind == SubjectSite && (f.Category != Fault || f.Site != f.Subject.ID):
		return errcode.Errorf(errcode.Invalid, "finding of %s: a site's notice is routed to that site as a fault, not %s to site %q", f.Rule, f.Category, f.Site)
	case !f.Resolve && !f.Late && (f.Severity < Info || f.Severity > Critical):
		return errcode.Errorf(errcode.Invalid, "finding of %s: %v", f.Rule, f.Severity)
	}
	return CheckNote(f.Note)
}

// FindingSeverity is the severity a finding is recorded at: info for a late one.
func FindingSeverity(f Finding) Severity {
	if f.Late {
		return Info
	}
	return f.Severity
}

// Quiet reports whether a finding must not notify anyone: it is late, in doubt or silenced.
func Quiet(f Finding) bool { return f.Late || f.Doubt != "" || f.Silenced != "" }

// String is "alert ID (rule on subject, state)", for logs.
func (a Alert) String() string {
	return fmt.Sprintf("alert %d (%s on %s, %s)", a.ID, a.Rule, a.Subject, a.State)
}
