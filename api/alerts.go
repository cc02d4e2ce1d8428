package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Alerts over HTTP: list, detail, acknowledge, resolve, and the live feed of alert events as
// Server-Sent Events. Every role has business with alerts, so access is decided by the id (404
// when there is no such alert) and then the scope:
//   - a doctor sees and acts on the clinical alerts routed to their teams;
//   - a fleet manager sees and acts on the fault alerts routed to their sites;
//   - an admin, on every alert.
//
// Anything else is 403. The routing is the alert's own (its team or site), as the latest
// finding set it.

// AlertStore is what the API needs of the alert store; package store implements it.
type AlertStore interface {
	GetAlert(ctx context.Context, id int64) (alerts.Alert, error)
	ListAlerts(ctx context.Context, f alerts.Filter) ([]alerts.Alert, error)
	AlertHistory(ctx context.Context, id int64) ([]alerts.Event, error)
	AlertEvents(ctx context.Context, afterID int64, scope alerts.Scope, limit int) ([]alerts.Event, error)
	AcknowledgeAlert(ctx context.Context, id int64, note string) (alerts.Alert, alerts.Event, error)
	ResolveAlert(ctx context.Context, id int64, note string) (alerts.Alert, alerts.Event, error)
	AlertBurden(ctx context.Context, f alerts.BurdenFilter) ([]alerts.Burden, error)
}

// defaultHeartbeat is how often the alert stream sends a comment when it has nothing to say,
// so that proxies keep the connection and a client notices a dead one.
const defaultHeartbeat = 15 * time.Second

// alertJSON is an alert as the API shows it. People are named as in the audit log
// (user:<user id>); the system's own changes as "system".
type alertJSON struct {
	ID          int64              `json:"id"`
	Rule        string             `json:"rule"`
	RuleVersion int                `json:"rule_version"`
	Category    string             `json:"category"`
	Severity    string             `json:"severity"`
	Subject     string             `json:"subject"` // patient/<id>, device/<id> or site/<id>
	Patient     string             `json:"patient,omitempty"`
	Device      string             `json:"device,omitempty"`
	Team        string             `json:"team,omitempty"` // where a clinical alert is routed
	Site        string             `json:"site,omitempty"` // where a fault is routed
	State       string             `json:"state"`
	FirstSeen   time.Time          `json:"first_seen"` // measurement time of the first reading
	LastSeen    time.Time          `json:"last_seen"`  // and of the latest
	Count       int                `json:"count"`
	LastValue   string             `json:"last_value,omitempty"`
	Thresholds  map[string]float64 `json:"thresholds,omitempty"`
	// Evidence is the readings that raised and repeated the alert (the first 5 and the latest
	// 20), as recorded with it; in an alert's detail, as InfluxDB holds them, with the patient's
	// other readings in the alert's window (see getAlert). Absent from lists.
	Evidence         []evidenceJSON `json:"evidence,omitempty"`
	Late             bool           `json:"late,omitempty"`
	Doubt            string         `json:"doubt,omitempty"`
	Silenced         string         `json:"silenced,omitempty"` // the reason it notified nobody: a silence
	NotifiedSeverity string         `json:"notified_severity,omitempty"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	AcknowledgedBy   string         `json:"acknowledged_by,omitempty"`
	AcknowledgedAt   time.Time      `json:"acknowledged_at,omitzero"`
	AcknowledgeNote  string         `json:"acknowledge_note,omitempty"`
	ResolvedBy       string         `json:"resolved_by,omitempty"`
	ResolvedAt       time.Time      `json:"resolved_at,omitzero"`
	ResolutionNote   string         `json:"resolution_note,omitempty"`
	EscalationLevel  int            `json:"escalation_level"`
}

// evidenceJSON is one reading of an alert's evidence.
type evidenceJSON struct {
	Device      string    `json:"device"`
	Measurement string    `json:"measurement"` // empty: a device's flags, of whatever it measured
	Time        time.Time `json:"time"`        // measurement time
	Value       float64   `json:"value,omitempty"`
	Systolic    float64   `json:"systolic,omitempty"`
	Diastolic   float64   `json:"diastolic,omitempty"`
	Flags       []string  `json:"flags,omitempty"`
	// Recorded says the reading was recorded with the alert as its evidence; false for another
	// reading of the patient in the alert's window, which only InfluxDB knows.
	Recorded bool `json:"recorded"`
	// InInfluxDB says whether InfluxDB still has the reading (it may have been deleted, or its
	// retention ended); absent when InfluxDB was not read.
	InInfluxDB *bool `json:"in_influxdb,omitempty"`
	// Tags and Fields are the point as InfluxDB stores it (pulse, context, seq, site, ...);
	// absent when it was not read from InfluxDB.
	Tags   map[string]string `json:"tags,omitempty"`
	Fields map[string]any    `json:"fields,omitempty"`
}

// alertEventJSON is one change of an alert, in its detail.
type alertEventJSON struct {
	ID       int64     `json:"id"`
	Type     string    `json:"type"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Note     string    `json:"note,omitempty"`
	Severity string    `json:"severity"` // the alert's, after the change
	Notify   bool      `json:"notify"`
}

// alertDetailJSON is an alert with its evidence and its history, oldest first.
type alertDetailJSON struct {
	alertJSON
	// EvidenceSource says where the evidence comes from: "influxdb" when it was read back, or
	// "recorded" when it is as recorded with the alert (InfluxDB not configured, unreachable,
	// or nothing to read).
	EvidenceSource string `json:"evidence_source"`
	// EvidenceWarning says why the evidence could not be read from InfluxDB.
	EvidenceWarning string `json:"evidence_warning,omitempty"`
	// EvidenceTruncated says the patient had more readings in the alert's window than the
	// detail shows: the oldest are left out.
	EvidenceTruncated bool             `json:"evidence_truncated,omitempty"`
	Events            []alertEventJSON `json:"events"`
}

// alertNoteRequest acknowledges or resolves an alert, with a note of up to 1000 characters.
type alertNoteRequest struct {
	Note string `json:"note"`
}

func alertOut(a alerts.Alert) alertJSON {
	out := alertJSON{ID: a.ID, Rule: a.Rule, RuleVersion: a.RuleVersion, Category: string(a.Category),
		Severity: a.Severity.String(), Subject: a.Subject.String(), Patient: a.Patient, Device: a.Device,
		Team: a.Team, Site: a.Site, State: string(a.State), FirstSeen: a.FirstSeen, LastSeen: a.LastSeen,
		Count: a.Count, LastValue: a.LastValue, Thresholds: a.Thresholds, Late: a.Late, Doubt: a.Doubt, Silenced: a.Silenced,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, AcknowledgedBy: a.AcknowledgedBy, AcknowledgedAt: a.AcknowledgedAt,
		AcknowledgeNote: a.AcknowledgeNote, ResolvedBy: a.ResolvedBy, ResolvedAt: a.ResolvedAt,
		ResolutionNote: a.ResolutionNote, EscalationLevel: a.EscalationLevel}
	if a.NotifiedSeverity > 0 {
		out.NotifiedSeverity = a.NotifiedSeverity.String()
	}
	for _, e := range a.Evidence {
		out.Evidence = append(out.Evidence, recordedEvidenceOut(e))
	}
	return out
}

// recordedEvidenceOut is a reading as recorded with its alert.
func recordedEvidenceOut(e alerts.Evidence) evidenceJSON {
	return evidenceJSON{Device: e.Device, Measurement: e.Measurement, Time: e.Time.UTC(), Value: e.Value,
		Systolic: e.Systolic, Diastolic: e.Diastolic, Flags: e.Flags, Recorded: true}
}

func alertEventOut(ev alerts.Event) alertEventJSON {
	return alertEventJSON{ID: ev.ID, Type: string(ev.Type), At: ev.At, Actor: ev.Actor, Note: ev.Note,
		Severity: ev.Severity.String(), Notify: ev.Notify}
}

// mayAlert refuses p an alert outside its scope, saying why.
func mayAlert(p *access.Principal, al alerts.Alert) error {
	if alerts.ScopeOf(p).Allows(al.Category, al.Team, al.Site) {
		return nil
	}
	switch {
	case p.Role == access.Doctor && al.Subject.Kind == alerts.SubjectSite:
		return forbidden("alert %d is a notice to the fleet managers of site %s; a doctor sees the clinical alerts of their teams", al.ID, al.Site)
	case p.Role == access.Doctor && al.Category == alerts.Fault:
		return forbidden("alert %d is a device fault; a doctor sees the clinical alerts of their teams", al.ID)
	case p.Role == access.Doctor:
		return forbidden("alert %d is for team %s, not one of yours", al.ID, al.Team)
	case p.Role == access.FleetManager && al.Category == alerts.Clinical:
		return forbidden("alert %d is clinical; a fleet manager sees the device faults of their sites", al.ID)
	case p.Role == access.FleetManager && al.Subject.Kind == alerts.SubjectSite:
		return forbidden("alert %d is about site %s, not one of yours", al.ID, al.Site)
	case p.Role == access.FleetManager:
		return forbidden("alert %d is about a device at site %s, not one of yours", al.ID, al.Site)
	}
	return forbidden("a %s may not see alerts", p.Role)
}

// alertFor returns the alert of the path's id when the caller may see it: 400 for an id that is
// not one, 404 if there is none, 403 if it is outside the caller's scope.
func (a *API) alertFor(c *call) (alerts.Alert, error) {
	return byNumber(c, "an alert", a.opts.Alerts.GetAlert, func(al alerts.Alert) error { return mayAlert(c.p, al) })
}

// listAlerts serves GET /api/v1/alerts, newest first, of what the caller may see. A page's next
// is the cursor for before=.
func (a *API) listAlerts(c *call) error {
	p, q := c.p, c.q
	f := alerts.Filter{Scope: alerts.ScopeOf(p), State: alerts.State(q.Get("state")), Rule: q.Get("rule"),
		Category: alerts.Category(q.Get("category")), Patient: q.Get("patient"), Device: q.Get("device"),
		Team: q.Get("team"), Site: q.Get("site")}
	switch f.State {
	case "", alerts.Open, alerts.Acknowledged, alerts.Resolved:
	default:
		return invalid("state: " + strconv.Quote(string(f.State)) + " is not one of open, acknowledged, resolved")
	}
	switch f.Category {
	case "", alerts.Clinical, alerts.Fault:
	default:
		return invalid("category: " + strconv.Quote(string(f.Category)) + " is not clinical or fault")
	}
	var err error
	if v := q.Get("severity"); v != "" {
		if f.MinSeverity, err = alerts.ParseSeverity(v); err != nil {
			return invalid("severity: " + err.Error())
		}
	}
	if err := scopedIDParams(q, p, "rule", "patient", "device", "team", "site"); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			if *t.to, err = time.Parse(time.RFC3339, v); err != nil {
				return invalid(t.name + ": want an RFC 3339 time such as 2026-11-22T07:30:00+08:00")
			}
		}
	}
	if f.Before, f.Limit, err = pageParams(q, "before"); err != nil {
		return err
	}
	switch {
	case p.Role == access.Doctor && f.Category == alerts.Fault:
		return forbidden("a doctor sees the clinical alerts of their teams, not device faults")
	case p.Role == access.FleetManager && f.Category == alerts.Clinical:
		return forbidden("a fleet manager sees the device faults of their sites, not clinical alerts")
	}
	list, err := a.opts.Alerts.ListAlerts(c.Context(), f)
	if err != nil {
		return err
	}
	return c.reply(pageOf(list, f.Limit, func(al alerts.Alert) string { return strconv.FormatInt(al.ID, 10) }, alertOut))
}

// Alert burden: GET /api/v1/alerts/burden, the figures of alerts.Burden for the alerts the
// caller may see, so that a team can tune a rule that fires too often.

// Bounds of the burden's period.
const (
	defaultBurdenPeriod = 28 * 24 * time.Hour
	maxBurdenPeriod     = 366 * 24 * time.Hour
)

// getAlert serves GET /api/v1/alerts/{id}: the alert, its evidence and its history. The
// evidence is read back from InfluxDB (see readEvidence): the readings recorded with the alert,
// each marked with whether InfluxDB still has it, and for a patient's alert the patient's
// other readings of those measurements from first to last seen, the newest evidenceWindow of
// them. When InfluxDB is not configured or cannot be read within evidenceTimeout, the answer
// is still 200, with the evidence as recorded, evidence_source "recorded" and a warning: the
// alert matters more than its readings' provenance.
func (a *API) getAlert(c *call) error {
	al, err := a.alertFor(c)
	if err != nil {
		return err
	}
	history, err := a.opts.Alerts.AlertHistory(c.Context(), al.ID)
	if err != nil {
		return err
	}
	out := alertDetailJSON{alertJSON: alertOut(al), EvidenceSource: evidenceRecorded, Events: make([]alertEventJSON, 0, len(history))}
	for _, ev := range history {
		out.Events = append(out.Events, alertEventOut(ev))
	}
	switch {
	case a.opts.Readings == nil:
		if len(al.Evidence) > 0 {
			out.EvidenceWarning = "InfluxDB is not configured here: the evidence is as recorded with the alert"
		}
	default:
		ev, truncated, err := a.readEvidence(c.Context(), al)
		if err != nil {
			// InfluxDB's error can quote the query, which names the patient: the error itself
			// only at debug.
			a.log.Warn("alert detail: evidence not read from InfluxDB; answering with the recorded evidence", "alert", al.ID)
			a.log.Debug("evidence query failed", "alert", al.ID, "err", err)
			out.EvidenceWarning = "InfluxDB could not be read: the evidence is as recorded with the alert"
			break
		}
		if ev != nil {
			out.Evidence, out.EvidenceTruncated, out.EvidenceSource = ev, truncated, evidenceInfluxDB
		}
	}
	return c.reply(out)
}

// Sources of an alert's evidence (alertDetailJSON.EvidenceSource).
const (
	evidenceInfluxDB = "influxdb"
	evidenceRecorded = "recorded"
)

// evidenceWindow bounds a patient's readings in an alert's window that the detail shows,
// besides the recorded evidence; evidenceTimeout bounds reading them, so that a slow InfluxDB
// delays the detail by that much at most.
const (
	evidenceWindow  = 100
	evidenceTimeout = 5 * time.Second
)

// actOnAlert serves POST /api/v1/alerts/{id}/acknowledge and /resolve, with an optional note
// (required to resolve a clinical alert), and publishes the change to the live feed.
func (a *API) actOnAlert(action string) handler {
	return func(c *call) error {
		al, err := a.alertFor(c)
		if err != nil {
			return err
		}
		var req alertNoteRequest
		if _, err := c.decode(&req); err != nil {
			return err
		}
		var ev alerts.Event
		if action == "acknowledge" {
			al, ev, err = a.opts.Alerts.AcknowledgeAlert(c.Context(), al.ID, req.Note)
		} else {
			al, ev, err = a.opts.Alerts.ResolveAlert(c.Context(), al.ID, req.Note)
		}
		if err != nil {
			return err
		}
		if a.opts.AlertFeed != nil {
			a.opts.AlertFeed.Publish(ev)
		}
		return c.reply(alertOut(al))
	}
}

// alertStream serves GET /api/v1/alerts/stream: the events of the alerts the caller may see, as
// Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html), each
//
//	id: <event id>
//	event: <raised | updated | severity_raised | acknowledged | resolved | escalated>
//	data: <JSON of the alert after the change, without its evidence>
//
// With a Last-Event-ID header (which a browser's EventSource sends when it reconnects), the
// events after that id are replayed from the store first. The stream subscribes to the hub
// before it replays, and replays up to the last event the hub had delivered then, so that the
// live events follow with no gap and none twice. A comment line every heartbeat keeps the
// connection open. The stream ends when the client goes, when the server stops, or when the
// client falls too far behind: it then reconnects with Last-Event-ID and misses nothing.
func (a *API) alertStream(c *call) error {
	if a.opts.AlertFeed == nil {
		return apiError(errcode.Unavailable, "the live alert feed is not configured")
	}
	var after int64
	resume := c.Header.Get("Last-Event-ID")
	if resume != "" {
		n, err := strconv.ParseInt(resume, 10, 64)
		if err != nil || n < 0 {
			return invalid("Last-Event-ID: " + strconv.Quote(resume) + " is not an event id (a whole number)")
		}
		after = n
	}
	ctx, w, p := c.Context(), c.w, c.p
	scope := alerts.ScopeOf(p)
	sub, err := a.opts.AlertFeed.Subscribe(ctx, scope)
	if err != nil {
		if errors.Is(err, notify.ErrHubStopped) {
			return apiError(errcode.Unavailable, "the live alert feed has stopped")
		}
		return err
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives any write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		a.log.Warn("alert stream cannot flush", "err", err)
		return nil
	}
	// Errors from here on cannot be answered: the stream just ends.
	sent := after
	send := func(ev alerts.Event) bool {
		data, err := json.Marshal(alertOut(ev.Alert))
		if err == nil {
			_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data)
		}
		if err == nil {
			err = rc.Flush()
		}
		sent = ev.ID
		return err == nil
	}
	if resume != "" {
		for after < sub.From {
			evs, err := a.opts.Alerts.AlertEvents(ctx, after, scope, 500)
			if err != nil {
				if ctx.Err() == nil {
					a.log.Warn("alert stream: replay failed", "after", after, "err", err)
				}
				return nil
			}
			for _, ev := range evs {
				if ev.ID > sub.From {
					break
				}
				if !send(ev) {
					return nil
				}
			}
			if len(evs) < 500 {
				break
			}
			after = evs[len(evs)-1].ID
		}
	}
	every := a.opts.AlertHeartbeat
	if every <= 0 {
		every = defaultHeartbeat
	}
	heartbeat := time.NewTicker(every)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		case ev, ok := <-sub.Events():
			if !ok {
				if sub.Lagged() {
					a.log.Warn("alert stream fell behind; ended so that the client resumes", "user", p.UserID, "last", sent)
				}
				return nil
			}
			if ev.ID <= sent {
				continue // the client had it before it reconnected here
			}
			if !send(ev) {
				return nil
			}
		}
	}
}

// alertStateNames lists the states of an alert.
func alertStateNames() []string {
	return []string{string(alerts.Open), string(alerts.Acknowledged), string(alerts.Resolved)}
}

// alertSeverityNames lists the severities, in rising order.
func alertSeverityNames() []string {
	var out []string
	for s := alerts.Info; s <= alerts.Critical; s++ {
		out = append(out, s.String())
	}
	return out
}

// alertEventTypeNames lists the types of alert events.
func alertEventTypeNames() []string {
	var out []string
	for _, t := range alerts.EventTypes {
		out = append(out, string(t))
	}
	return out
}
