package alerts

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Silence keeps the findings about a patient or a device from notifying anyone from From until
// Until, for a reason (a patient in hospital, a device sent for repair). Silenced findings are
// still recorded: the alert exists, with the reason, and nobody is paged for it.
type Silence struct {
	ID      int64
	Subject Subject // a patient or a device
	From    time.Time
	Until   time.Time
	Reason  string
	// CreatedBy and CreatedAt say who made it and when, as the audit log names them.
	CreatedBy string
	CreatedAt time.Time
}

// MaxSilence bounds how long one silence lasts: a silence is for an episode, not a way to
// switch a patient's alerts off.
const MaxSilence = 366 * 24 * time.Hour

// MaintenanceReason is the silence reason of a device fault while the device is under
// maintenance: its maintenance window is the time its registry status says so.
const MaintenanceReason = "device under maintenance"

// Covers reports whether the silence is in force for subject at t: from From, inclusive, to
// Until, exclusive.
func (s Silence) Covers(subject Subject, t time.Time) bool {
	return s.Subject == subject && !t.Before(s.From) && t.Before(s.Until)
}

// Check refuses a silence that cannot be kept (Invalid, naming the field): a subject that is
// not patient/ID or device/ID, no reason or one longer than MaxNote, an until not after from,
// or a span longer than MaxSilence.
func (s Silence) Check() error {
	switch {
	case s.Subject.Kind != "patient" && s.Subject.Kind != "device":
		return errcode.Errorf(errcode.Invalid, "subject: %q is not patient/ID or device/ID", s.Subject.String())
	case !reading.ValidID(s.Subject.ID):
		return errcode.Errorf(errcode.Invalid, "subject: %q is not a valid id", s.Subject.ID)
	case strings.TrimSpace(s.Reason) == "":
		return errcode.FieldErrorf(errcode.Invalid, "reason", "reason: required, e.g. \"in hospital\"")
	case utf8.RuneCountInString(s.Reason) > MaxNote:
		return errcode.FieldErrorf(errcode.Invalid, "reason", "reason: at most %d characters", MaxNote)
	case s.From.IsZero() || s.Until.IsZero():
		return errcode.Errorf(errcode.Invalid, "from and until: both required")
	case !s.Until.After(s.From):
		return errcode.FieldErrorf(errcode.Invalid, "until", "until: %s is not after from %s", s.Until.Format(time.RFC3339), s.From.Format(time.RFC3339))
	case s.Until.Sub(s.From) > MaxSilence:
		return errcode.FieldErrorf(errcode.Invalid, "until", "until: a silence lasts at most %s, not %s", MaxSilence, s.Until.Sub(s.From))
	}
	return nil
}

// ParseSubject reads "patient/ID" or "device/ID".
func ParseSubject(s string) (Subject, bool) {
	kind, id, ok := strings.Cut(s, "/")
	if !ok || (kind != "patient" && kind != "device") || !reading.ValidID(id) {
		return Subject{}, false
	}
	return Subject{Kind: kind, ID: id}, true
}

// SilenceReason returns the reason f is silenced by one of silences at its time, or "": a
// silence of its subject, of its patient (clinical) or of its device (faults). A resolving
// finding is never silenced: it notifies nobody anyway. Nor is a call for help from a device
// lent to nobody: a device's silence is for its faults, not for a person in need.
func SilenceReason(f Finding, silences []Silence) string {
	if f.Resolve || CallForHelp(f) {
		return ""
	}
	subjects := []Subject{f.Subject}
	switch {
	case f.Category == Clinical && f.Patient != "":
		subjects = append(subjects, Subject{Kind: "patient", ID: f.Patient})
	case f.Category == Fault && f.Device != "":
		subjects = append(subjects, Subject{Kind: "device", ID: f.Device})
	}
	for _, s := range silences {
		for _, subj := range subjects {
			if s.Covers(subj, f.At) {
				return s.Reason
			}
		}
	}
	return ""
}

// CallForHelp reports whether f is an SOS or a fall from a device lent to nobody at its time
// (sos_unassigned, fall_unassigned): a person's call for help routed to the device's site. A
// silence or maintenance of the device does not hold it back.
func CallForHelp(f Finding) bool {
	return f.Category == Fault && (f.Rule == RuleSOSUnassigned || f.Rule == RuleFallUnassigned)
}
