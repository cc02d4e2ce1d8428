package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// The lifecycle of an alert (docs/design.md "Alerts"):
//   - A finding raises an alert of (rule, subject), or repeats the open one: count, last value
//     and last seen, evidence (bounded), and the severity if it is higher. Only a new alert or
//     a rise in severity notifies, and never a late finding (a backlog: recorded at info) or
//     one in doubt (a flagged reading, a device with an open fault) or silenced (its patient
//     or device has a silence in force, or the device is under maintenance: Silenced names
//     why, on the finding and the alert); a clean finding later notifies what the quiet ones
//     did not. A finding whose readings the open alert holds already (a reading the broker
//     delivered again after an instance died before acknowledging it: Alert.Holds) changes
//     nothing.
//   - A resolving finding resolves the open alert as the system: a fault whose condition
//     cleared, or a clinical alert whose rule says a reading clears it. Today that is one case,
//     a normal blood-pressure retest after a crisis reading, which the issue says "resolves it
//     with a note": it is resolved automatically, with the finding's note. Every other clinical
//     alert is resolved by a person, with a note.
//   - A person acknowledges an open alert and resolves an open or acknowledged one: open ->
//     acknowledged -> resolved, or open -> resolved. A rise in severity after acknowledgement
//     notifies again but leaves the alert acknowledged.
//
// Each change is one Event, written with the alert in one transaction by the store, and
// published to the hub (notify.Hub).

// Raise is the new open alert of f, measured at f.At, recorded at now, and its event.
func Raise(f Finding, now time.Time) (Alert, Event) {
	sev := FindingSeverity(f)
	a := Alert{Rule: f.Rule, RuleVersion: f.RuleVersion, Category: f.Category, Severity: sev, Subject: f.Subject,
		Patient: f.Patient, Device: f.Device, Team: f.Team, Site: f.Site, State: Open,
		FirstSeen: f.At.UTC(), LastSeen: f.At.UTC(), Count: 1, LastValue: f.Value, Thresholds: f.Thresholds,
		Evidence: KeepEvidence(nil, f.Evidence), Late: f.Late, Doubt: f.Doubt, Silenced: f.Silenced, CreatedAt: now, UpdatedAt: now}
	notify := !Quiet(f)
	if notify {
		a.NotifiedSeverity = sev
	}
	return a, Event{Type: EventRaised, At: now, Actor: SystemActor, Note: f.Note, Severity: sev, Notify: notify}
}

// Repeat updates the open alert a with a repeat of its condition, f, and returns the event:
// severity_raised if f's severity is higher, else updated. A finding measured before the
// alert's last seen (out of order) widens its times but does not replace its last value. The
// routing follows the latest finding, so that a transferred patient's open alert moves with
// them on the next reading.
func (a *Alert) Repeat(f Finding, now time.Time) Event {
	sev := FindingSeverity(f)
	typ := EventUpdated
	if sev > a.Severity {
		a.Severity, typ = sev, EventSeverityRaised
	}
	notify := !Quiet(f) && sev > a.NotifiedSeverity
	if notify {
		a.NotifiedSeverity = sev
	}
	a.Count++
	at := f.At.UTC()
	if at.Before(a.FirstSeen) {
		a.FirstSeen = at
	}
	if !at.Before(a.LastSeen) {
		a.LastSeen = at
		if f.Value != "" {
			a.LastValue = f.Value
		}
	}
	if f.Thresholds != nil {
		a.Thresholds = f.Thresholds
	}
	if f.RuleVersion != 0 {
		a.RuleVersion = f.RuleVersion
	}
	for _, r := range []struct {
		to   *string
		from string
	}{{&a.Patient, f.Patient}, {&a.Device, f.Device}, {&a.Team, f.Team}, {&a.Site, f.Site}} {
		if r.from != "" {
			*r.to = r.from
		}
	}
	a.Evidence = KeepEvidence(a.Evidence, f.Evidence)
	a.Late = a.Late && f.Late
	if a.Doubt == "" || f.Doubt == "" {
		a.Doubt = ""
	} else {
		a.Doubt = f.Doubt
	}
	if a.Silenced == "" || f.Silenced == "" {
		a.Silenced = ""
	} else {
		a.Silenced = f.Silenced
	}
	a.UpdatedAt = now
	return Event{Type: typ, At: now, Actor: SystemActor, Note: f.Note, Severity: a.Severity, Notify: notify}
}

// Holds reports whether a has counted f already: f has evidence, every reading of it is in a's
// evidence, and it was measured no later than a's last seen. That is a reading delivered again:
// an instance wrote it and raised or repeated the alert, and died before ingest acknowledged
// the message, which the broker then delivered again, to a standby or to the instance
// restarted. Such a finding changes nothing, so that a reading counts once however often it is
// delivered. A finding without evidence (a missed measurement) or measured after the last seen
// (the daily home average, judged again on a later day) is a new finding. Only the evidence
// kept is compared (KeepEvidence: the first readings and the latest), so a reading delivered
// again after many later findings of the same alert counts again.
func (a *Alert) Holds(f Finding) bool {
	if len(f.Evidence) == 0 || f.At.After(a.LastSeen) {
		return false
	}
	for _, e := range f.Evidence {
		if !slices.ContainsFunc(a.Evidence, e.Same) {
			return false
		}
	}
	return true
}

// Same reports whether e and o are the same reading: device, measurement, time, values and
// flags.
func (e Evidence) Same(o Evidence) bool {
	return e.Device == o.Device && e.Measurement == o.Measurement && e.Time.Equal(o.Time) && e.Value == o.Value &&
		e.Systolic == o.Systolic && e.Diastolic == o.Diastolic && slices.Equal(e.Flags, o.Flags)
}

// Clear resolves the open alert a as the system because f says its condition cleared; the
// resolving readings join its evidence. The note is f's, or says the condition cleared.
func (a *Alert) Clear(f Finding, now time.Time) Event {
	note := strings.TrimSpace(f.Note)
	if note == "" {
		note = "resolved automatically: the condition cleared"
	}
	a.State, a.ResolvedBy, a.ResolvedAt, a.ResolutionNote = Resolved, SystemActor, now, note
	a.Evidence = KeepEvidence(a.Evidence, f.Evidence)
	a.UpdatedAt = now
	return Event{Type: EventResolved, At: now, Actor: SystemActor, Note: note, Severity: a.Severity}
}

// Acknowledge acknowledges the open alert a for actor, with an optional note.
func (a *Alert) Acknowledge(actor, note string, now time.Time) (Event, error) {
	if err := CheckNote(note); err != nil {
		return Event{}, err
	}
	if err := a.CanAcknowledge(); err != nil {
		return Event{}, err
	}
	a.State, a.AcknowledgedBy, a.AcknowledgedAt, a.AcknowledgeNote, a.UpdatedAt = Acknowledged, actor, now, note, now
	return Event{Type: EventAcknowledged, At: now, Actor: actor, Note: note, Severity: a.Severity}, nil
}

// Resolve resolves the open or acknowledged alert a for actor, with a note (required for a
// clinical alert).
func (a *Alert) Resolve(actor, note string, now time.Time) (Event, error) {
	if err := CheckNote(note); err != nil {
		return Event{}, err
	}
	if err := a.CanResolve(note); err != nil {
		return Event{}, err
	}
	a.State, a.ResolvedBy, a.ResolvedAt, a.ResolutionNote, a.UpdatedAt = Resolved, actor, now, note, now
	return Event{Type: EventResolved, At: now, Actor: actor, Note: note, Severity: a.Severity}, nil
}

// FindingStore records findings (store.Store): it raises, repeats or resolves the alert of
// each, and returns the alert after the change, the event written with it (ID 0 when nothing
// changed: a resolving finding with no open alert, or a finding the open alert holds already,
// Alert.Holds) and whether it notifies.
type FindingStore interface {
	ApplyFinding(ctx context.Context, f Finding) (Alert, Event, bool, error)
}

// BatchFindingStore is a FindingStore that also records many findings at once (store.Store):
// what ApplyFinding would do with each, in order, and for each what it did.
type BatchFindingStore interface {
	FindingStore
	ApplyFindings(ctx context.Context, fs []Finding) []Applied
}

// Applied is what a BatchFindingStore did with one finding: ApplyFinding's results.
type Applied struct {
	Alert  Alert
	Event  Event
	Notify bool
	Err    error
}

// Change is what one finding did to its alert.
type Change struct {
	Alert  Alert
	Event  Event
	Notify bool
}

// Publisher passes the events the lifecycle wrote on to those who follow them live (the hub
// behind the live feed, notify.Hub).
type Publisher interface {
	Publish(events ...Event)
}

// Lifecycle records the engine's findings and publishes the changes they make.
type Lifecycle struct {
	store FindingStore
	hub   Publisher
	log   *slog.Logger
}

// NewLifecycle returns a lifecycle that records findings in store and publishes their events
// to hub (none if nil).
func NewLifecycle(store FindingStore, hub Publisher, log *slog.Logger) *Lifecycle {
	return &Lifecycle{store: store, hub: hub, log: log.With("component", "alerts")}
}

// Apply records each finding, in order (all at once when the store can), and publishes the
// events they wrote. A finding that cannot be recorded does not stop the others; Apply returns
// the changes made and every error.
func (l *Lifecycle) Apply(ctx context.Context, findings []Finding) ([]Change, error) {
	var changes []Change
	var errs []error
	var events []Event
	var applied []Applied
	if b, ok := l.store.(BatchFindingStore); ok && len(findings) > 0 {
		applied = b.ApplyFindings(ctx, findings)
	}
	for i, f := range findings {
		var a Alert
		var ev Event
		var notify bool
		var err error
		if applied != nil {
			a, ev, notify, err = applied[i].Alert, applied[i].Event, applied[i].Notify, applied[i].Err
		} else {
			a, ev, notify, err = l.store.ApplyFinding(ctx, f)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("finding %s: %w", f.Rule, err)) // no subject: a patient id stays out of logs
			continue
		}
		if ev.ID == 0 {
			continue // a resolving finding with nothing open, or a reading delivered again
		}
		notify = notify && !Quiet(f)
		changes = append(changes, Change{Alert: a, Event: ev, Notify: notify})
		events = append(events, ev)
		l.log.Debug("alert changed", "alert", a.ID, "rule", a.Rule, "subject", a.Subject.String(), "event", ev.Type,
			"severity", a.Severity.String(), "notify", notify)
	}
	if l.hub != nil && len(events) > 0 {
		l.hub.Publish(events...)
	}
	return changes, errors.Join(errs...)
}
