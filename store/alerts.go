package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Alerts keeps alerts, their events, their escalation and their burden figures.
type Alerts struct {
	*DB
	population *populationCache // the burden's, per registry version
	// burdenSplit is how many parts a burden is read in at most; 0: GOMAXPROCS (at most
	// readerConns). Tests set it.
	burdenSplit int
	// burdenSorted has PostgreSQL sort a burden's alerts however few (see burdenHashRows).
	// Tests set it.
	burdenSorted bool
}

// NewAlerts returns an Alerts over db.
func NewAlerts(db *DB) *Alerts { return &Alerts{DB: db, population: &populationCache{}} }

// Alerts (alerts.Alert) and their events (migration 0009). The rules, in both dialects:
//   - One open alert per (rule, subject) is the unique index alerts_open. A finding reads the
//     open alert and locks it (PostgreSQL: FOR UPDATE; SQLite: the transaction takes the write
//     lock first), or inserts a new one with ON CONFLICT DO NOTHING. An insert that loses the
//     race to another instance's inserts nothing; the finding is then tried again and repeats
//     the alert the other instance raised.
//   - Every change writes one alert_events row in its transaction. Event IDs are handed out in
//     commit order: SQLite has one writer at a time, and in PostgreSQL each transaction takes
//     an advisory lock just before it writes its event and holds it until it commits, so no
//     event can commit after a higher one is visible. The live feed relies on it.
//   - A person's acknowledgement or resolution also writes an audit_log row (alert.acknowledge,
//     alert.resolve on "alert/<id>"), with the actor from WithActor. Findings are the system's
//     and are not audited: the events are their record.
//   - Alerts do not take the registry version's lock: they are not the registry.

// alertEventsLock is the key of the PostgreSQL advisory lock that orders event IDs by commit.
const alertEventsLock = 0x616c7274 // "alrt"

const alertColumns = `id, rule, rule_version, category, severity, notified_severity, subject, patient, device, team, site,
	state, first_seen_ms, last_seen_ms, count, last_value, thresholds, evidence, late, doubt, created_ms, updated_ms,
	acknowledged_by, acknowledged_ms, acknowledge_note, resolved_by, resolved_ms, resolution_note, escalation_level, silenced`

// alertListColumns are alertColumns without the evidence, which lists leave out.
var alertListColumns = strings.Replace(alertColumns, "evidence", "'[]'", 1)

// scanAlert reads an alert's row.
func scanAlert(sc scanner) (alerts.Alert, error) {
	var a alerts.Alert
	var subject, thresholds, evidence string
	var first, last, created, updated int64
	var acked, resolved sql.NullInt64
	var late int
	err := sc.Scan(&a.ID, &a.Rule, &a.RuleVersion, &a.Category, &a.Severity, &a.NotifiedSeverity, &subject,
		&a.Patient, &a.Device, &a.Team, &a.Site, &a.State, &first, &last, &a.Count, &a.LastValue, &thresholds,
		&evidence, &late, &a.Doubt, &created, &updated, &a.AcknowledgedBy, &acked, &a.AcknowledgeNote,
		&a.ResolvedBy, &resolved, &a.ResolutionNote, &a.EscalationLevel, &a.Silenced)
	if err != nil {
		return a, err
	}
	a.Subject.Kind, a.Subject.ID, _ = strings.Cut(subject, "/")
	a.FirstSeen, a.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	a.CreatedAt, a.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	a.AcknowledgedAt, a.ResolvedAt = fromMillis(acked), fromMillis(resolved)
	a.Late = late == 1
	if err := json.Unmarshal([]byte(thresholds), &a.Thresholds); err != nil {
		return a, fmt.Errorf("alert %d: thresholds: %w", a.ID, err)
	}
	if len(a.Thresholds) == 0 {
		a.Thresholds = nil
	}
	if err := json.Unmarshal([]byte(evidence), &a.Evidence); err != nil {
		return a, fmt.Errorf("alert %d: evidence: %w", a.ID, err)
	}
	if len(a.Evidence) == 0 {
		a.Evidence = nil
	}
	return a, nil
}

// alertValues are the values of an alert's columns after id, in alertColumns' order.
func alertValues(a alerts.Alert) ([]any, error) {
	thresholds, err := json.Marshal(a.Thresholds)
	if err != nil {
		return nil, err
	}
	if a.Thresholds == nil {
		thresholds = []byte("{}")
	}
	evidence := []byte("[]")
	if len(a.Evidence) > 0 {
		if evidence, err = json.Marshal(a.Evidence); err != nil {
			return nil, err
		}
	}
	late := 0
	if a.Late {
		late = 1
	}
	return []any{a.Rule, a.RuleVersion, string(a.Category), int(a.Severity), int(a.NotifiedSeverity), a.Subject.String(),
		a.Patient, a.Device, a.Team, a.Site, string(a.State), a.FirstSeen.UnixMilli(), a.LastSeen.UnixMilli(), a.Count,
		a.LastValue, string(thresholds), string(evidence), late, a.Doubt, a.CreatedAt.UnixMilli(), a.UpdatedAt.UnixMilli(),
		a.AcknowledgedBy, millis(a.AcknowledgedAt), a.AcknowledgeNote, a.ResolvedBy, millis(a.ResolvedAt),
		a.ResolutionNote, a.EscalationLevel, a.Silenced}, nil
}

// errLostRace says that another transaction raised the alert a finding was about to raise.
var errLostRace = errors.New("the open alert was raised by another transaction")

// ApplyFinding records f: it raises a new open alert of (f.Rule, f.Subject), repeats the open
// one, or, for a resolving finding, resolves it (see alerts/lifecycle.go for the rules). It
// returns the alert after the change, the event written with it, and whether the change
// notifies. A resolving finding with no open alert changes nothing and returns an Event with
// ID 0, and so does a finding whose readings the open alert holds already (alerts.Alert.Holds:
// a reading delivered again). Safe when several instances record the same findings at once:
// the unique index keeps one open alert, and exactly one of them raises it.
func (s *Alerts) ApplyFinding(ctx context.Context, f alerts.Finding) (alerts.Alert, alerts.Event, bool, error) {
	if err := alerts.CheckFinding(f); err != nil {
		return alerts.Alert{}, alerts.Event{}, false, err
	}
	for attempt := 1; ; attempt++ {
		a, ev, err := s.applyFinding(ctx, f)
		if errors.Is(err, errLostRace) && attempt < 5 {
			continue
		}
		if err != nil {
			return alerts.Alert{}, alerts.Event{}, false, fmt.Errorf("apply finding %s: %w", f.Rule, err) // no subject: a patient id stays out of logs
		}
		return a, ev, ev.Notify, nil
	}
}

// applyFinding is one attempt at ApplyFinding, in one transaction: a findingBatch of one.
func (s *Alerts) applyFinding(ctx context.Context, f alerts.Finding) (alerts.Alert, alerts.Event, error) {
	tx, err := s.beginAlertWrite(ctx)
	if err != nil {
		return alerts.Alert{}, alerts.Event{}, err
	}
	defer tx.Rollback()
	b := newFindingBatch(s, 1)
	wrote, err := b.apply(ctx, tx, 0, f)
	if err == nil {
		var held bool
		held, err = b.finish(ctx, tx)
		wrote = wrote || held
	}
	d := b.done[0]
	if err != nil || !wrote {
		return d.Alert, d.Event, err // nothing written
	}
	return d.Alert, d.Event, tx.Commit()
}

// readOpen reads the open alert of f's rule and subject in q, or nil if there is none.
func (s *Alerts) readOpen(ctx context.Context, q querier, f alerts.Finding) (*batchAlert, error) {
	a, err := scanAlert(q.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE rule = $1 AND subject = $2 AND state <> 'resolved'`+s.forUpdate(), f.Rule, f.Subject.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	before, err := alertValues(a)
	if err != nil {
		return nil, err
	}
	return &batchAlert{a: a, before: before, held: -1}, nil
}

// beginAlertWrite begins a transaction that will change alerts. In SQLite it takes the write
// lock first, with a write that changes nothing: a transaction that has read cannot wait for
// the lock later, it fails at once if another connection (another instance on the same file)
// holds it.
func (s *DB) beginAlertWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if s.dialect == sqlite {
		if err := s.execKept(ctx, tx, takeWriteLock); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// takeWriteLock is beginAlertWrite's write that changes nothing.
const takeWriteLock = `UPDATE alerts SET id = id WHERE id < 0`

// execKept runs query, a statement without arguments, in tx, prepared if s keeps it
// (lockStatements) and so not parsed again.
func (s *DB) execKept(ctx context.Context, tx *sql.Tx, query string) error {
	var err error
	if st := s.statements.get(query); st != nil {
		_, err = tx.StmtContext(ctx, st).ExecContext(ctx)
	} else {
		_, err = tx.ExecContext(ctx, query)
	}
	return err
}

// lockStatements are the statements that begin SQLite's writing transactions by taking the
// write lock, one of them in every transaction of ingest's: OpenDB keeps them prepared.
var lockStatements = []string{takeWriteLock, takeUsageLock}

// forUpdate locks the rows a PostgreSQL query reads; SQLite's transaction holds the write lock.
func (s *DB) forUpdate() string {
	if s.dialect == postgres {
		return ` FOR UPDATE`
	}
	return ""
}

// insertAlert inserts a new open alert and returns its id, or errLostRace if another
// transaction committed an open alert of the same rule and subject first.
func insertAlert(ctx context.Context, tx querier, a alerts.Alert) (int64, error) {
	vals, err := alertValues(a)
	if err != nil {
		return 0, err
	}
	columns := strings.TrimPrefix(alertColumns, "id, ")
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO alerts (`+columns+`) VALUES (`+placeholders(1, len(vals))+`)
		ON CONFLICT (rule, subject) WHERE state <> 'resolved' DO NOTHING RETURNING id`, vals...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errLostRace
	}
	return id, err
}

// alertUpdateColumns are the columns updateAlert can set, in alertValues' order.
var alertUpdateColumns = func() []string {
	var cols []string
	for _, c := range strings.Split(strings.TrimPrefix(alertColumns, "id, "), ",") {
		cols = append(cols, strings.TrimSpace(c))
	}
	return cols
}()

// updateAlert writes the columns of a whose values differ from before, alertValues of the row
// as read in the same transaction (taken before a was changed). Only those: SQLite rewrites the entry of every index on a column named in SET,
// changed or not, and the alerts have a dozen; a repeat of an open alert, most of what ingest
// writes, changes its count, last seen, value and evidence, which two of them hold.
func updateAlert(ctx context.Context, tx querier, before []any, a alerts.Alert) error {
	vals, err := alertValues(a)
	if err != nil {
		return err
	}
	var q strings.Builder
	args := []any{a.ID}
	for i, v := range vals {
		if v == before[i] {
			continue
		}
		args = append(args, v)
		if len(args) == 2 {
			q.WriteString("UPDATE alerts SET ")
		} else {
			q.WriteString(", ")
		}
		q.WriteString(alertUpdateColumns[i] + " = $" + strconv.Itoa(len(args)))
	}
	if len(args) == 1 {
		return nil // nothing changed; the row was read in this transaction
	}
	q.WriteString(" WHERE id = $1")
	res, err := tx.ExecContext(ctx, q.String(), args...)
	if err != nil {
		return err
	}
	return updated(res, "alert", strconv.FormatInt(a.ID, 10))
}

// addAlertEvent writes ev, the change that made a, and sets its ID and alert.
func (s *Alerts) addAlertEvent(ctx context.Context, tx querier, a alerts.Alert, ev *alerts.Event) error {
	ev.AlertID = a.ID
	ev.Alert = a
	ev.Alert.Evidence = nil
	snapshot, err := json.Marshal(ev.Alert)
	if err != nil {
		return err
	}
	if s.dialect == postgres {
		// Held until commit, so that IDs are in commit order (see the top of the file).
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, alertEventsLock); err != nil {
			return err
		}
	}
	notify := 0
	if ev.Notify {
		notify = 1
	}
	return tx.QueryRowContext(ctx, `INSERT INTO alert_events (alert_id, type, at_ms, actor, note, severity, notify, category, team, site, alert)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		a.ID, string(ev.Type), ev.At.UnixMilli(), ev.Actor, ev.Note, int(ev.Severity), notify,
		string(a.Category), a.Team, a.Site, string(snapshot)).Scan(&ev.ID)
}

// AcknowledgeAlert acknowledges the open alert id for the context's actor, with an optional
// note, and returns the alert and the event. NotFound if there is no such alert; Conflict,
// naming its state, if it is not open; Invalid without an actor or with a note too long.
func (s *Alerts) AcknowledgeAlert(ctx context.Context, id int64, note string) (alerts.Alert, alerts.Event, error) {
	return s.actOnAlert(ctx, id, "alert.acknowledge", func(a *alerts.Alert, actor string, now time.Time) (alerts.Event, error) {
		return a.Acknowledge(actor, note, now)
	})
}

// ResolveAlert resolves the open or acknowledged alert id for the context's actor, with a note
// (required for a clinical alert: Invalid without one), and returns the alert and the event.
// Conflict if it is already resolved.
func (s *Alerts) ResolveAlert(ctx context.Context, id int64, note string) (alerts.Alert, alerts.Event, error) {
	return s.actOnAlert(ctx, id, "alert.resolve", func(a *alerts.Alert, actor string, now time.Time) (alerts.Event, error) {
		return a.Resolve(actor, note, now)
	})
}

// actOnAlert runs a person's action on alert id in one transaction: the alert, its event and
// an audit row.
func (s *Alerts) actOnAlert(ctx context.Context, id int64, action string,
	act func(a *alerts.Alert, actor string, now time.Time) (alerts.Event, error)) (alerts.Alert, alerts.Event, error) {
	actor := audit.Actor(ctx)
	if actor == "" {
		return alerts.Alert{}, alerts.Event{}, errcode.Errorf(errcode.Invalid, "no actor: an alert action must say who takes it")
	}
	subject := alertSubject(id)
	fail := func(err error) (alerts.Alert, alerts.Event, error) {
		var de *errcode.Error
		if errors.As(err, &de) {
			return alerts.Alert{}, alerts.Event{}, err
		}
		return alerts.Alert{}, alerts.Event{}, fmt.Errorf("%s %s: %w", action, subject, err)
	}
	tx, err := s.beginAlertWrite(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	a, err := scanAlert(tx.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`+s.forUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return fail(errcode.Errorf(errcode.NotFound, "alert %d not found", id))
	}
	if err != nil {
		return fail(err)
	}
	before, err := alertValues(a)
	if err != nil {
		return fail(err)
	}
	was := a.State
	ev, err := act(&a, actor, s.nowMillis())
	if err != nil {
		return fail(err)
	}
	if err := updateAlert(ctx, tx, before, a); err != nil {
		return fail(err)
	}
	if err := s.addAlertEvent(ctx, tx, a, &ev); err != nil {
		return fail(err)
	}
	detail := struct {
		Was   alerts.State `json:"was"`
		State alerts.State `json:"state"`
		Note  string       `json:"note,omitempty"`
	}{was, a.State, ev.Note}
	if err := s.audit(ctx, tx, actor, action, subject, detail); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return a, ev, nil
}

// alertSubject is an alert's subject in the audit log.
func alertSubject(id int64) string { return "alert/" + strconv.FormatInt(id, 10) }

// GetAlert returns the alert with its evidence; NotFound if there is none.
func (s *Alerts) GetAlert(ctx context.Context, id int64) (alerts.Alert, error) {
	a, err := scanAlert(s.readers.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, errcode.Errorf(errcode.NotFound, "alert %d not found", id)
	}
	if err != nil {
		return a, fmt.Errorf("get %s: %w", alertSubject(id), err)
	}
	return a, nil
}

// ListAlerts returns the alerts that f selects, newest first, without their evidence.
func (s *Alerts) ListAlerts(ctx context.Context, f alerts.Filter) ([]alerts.Alert, error) {
	w := &where{}
	scopeWhere(w, f.Scope)
	for _, c := range []struct {
		col, value string
	}{{"state", string(f.State)}, {"rule", f.Rule}, {"category", string(f.Category)}, {"patient", f.Patient},
		{"device", f.Device}, {"team", f.Team}, {"site", f.Site}} {
		if c.value != "" {
			w.add(c.col+" = ?", c.value)
		}
	}
	if f.MinSeverity > 0 {
		w.add("severity >= ?", int(f.MinSeverity))
	}
	seen, from, order, err := s.lastSeenRange(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	if !f.Since.IsZero() {
		w.add(seen+" >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		w.add(seen+" < ?", f.Until.UnixMilli())
	}
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	q := `SELECT ` + alertListColumns + ` FROM ` + from + w.sql() + ` ORDER BY ` + order + ` DESC LIMIT ` + w.arg(pageSize(f.Limit))
	out, err := queryAll(ctx, s.readers, q, w.args, scanAlert)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// rangeProbe is the most alerts of a range of last seen that the alert list reads through
// alerts_last_seen and sorts by id; from a range with more, it reads the alerts newest first.
const rangeProbe = 50_000

// lastSeenRange says how ListAlerts writes a range of last seen: the column in its conditions,
// the table it reads and what it orders by. Neither database's planner knows that the alerts of
// a range of last seen are not spread over the ids but bunched: SQLite (without statistics)
// guesses, reading a range with both ends through alerts_last_seen and sorting it by id (slow for
// a range of most alerts) but one with an end only newest first (slow for the first days of a
// year); PostgreSQL takes a range of 2% of the alerts to be met every 50 alerts when it reads
// them newest first, and so reads almost all of them when the range is a week a year ago. So a
// probe counts, through the index, up to rangeProbe alerts of the range. With fewer, the list
// reads the range through the index (SQLite: INDEXED BY; PostgreSQL: ordered by "id + 0", which
// it cannot take from the primary key); with as many, newest first (SQLite: "+last_seen_ms",
// which keeps its planner from the index).
func (s *Alerts) lastSeenRange(ctx context.Context, f alerts.Filter) (column, from, order string, err error) {
	if f.Since.IsZero() && f.Until.IsZero() {
		return "last_seen_ms", "alerts", "id", nil
	}
	w := &where{}
	if !f.Since.IsZero() {
		w.add("last_seen_ms >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		w.add("last_seen_ms < ?", f.Until.UnixMilli())
	}
	indexed := "alerts"
	if s.dialect == sqlite {
		indexed = "alerts INDEXED BY alerts_last_seen"
	}
	var n int
	err = s.readers.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM `+indexed+w.sql()+
		` LIMIT `+w.arg(rangeProbe)+`) AS probe`, w.args...).Scan(&n)
	switch {
	case err != nil:
		return "", "", "", err
	case n >= rangeProbe && s.dialect == sqlite:
		return "+last_seen_ms", "alerts", "id", nil
	case n >= rangeProbe:
		return "last_seen_ms", "alerts", "id", nil
	case s.dialect == postgres:
		return "last_seen_ms", "alerts", "id + 0", nil
	}
	return "last_seen_ms", indexed, "id", nil
}

// scopeWhere limits w to what sc covers: the clinical alerts (or their events) of its teams
// and the faults of its sites.
func scopeWhere(w *where, sc alerts.Scope) { scopeWhereIn(w, sc, "category", "team", "site") }

// scopeWhereIn is scopeWhere on the columns named: the category, and the team of a clinical
// row and the site of a fault (which may be one column).
func scopeWhereIn(w *where, sc alerts.Scope, category, team, site string) {
	if sc.All {
		return
	}
	in := func(vs []string) string {
		ps := make([]string, len(vs))
		for i, v := range vs {
			ps[i] = w.arg(v)
		}
		return strings.Join(ps, ", ")
	}
	var either []string
	if len(sc.Teams) > 0 {
		either = append(either, "("+category+" = 'clinical' AND "+team+" IN ("+in(sc.Teams)+"))")
	}
	if len(sc.Sites) > 0 {
		either = append(either, "("+category+" = 'fault' AND "+site+" IN ("+in(sc.Sites)+"))")
	}
	if len(either) == 0 {
		either = []string{"1 = 0"}
	}
	w.conds = append(w.conds, "("+strings.Join(either, " OR ")+")")
}

const alertEventColumns = `id, alert_id, type, at_ms, actor, note, severity, notify, alert`

// scanAlertEvent reads an event's row.
func scanAlertEvent(sc scanner) (alerts.Event, error) {
	var ev alerts.Event
	var at int64
	var notify int
	var snapshot string
	if err := sc.Scan(&ev.ID, &ev.AlertID, &ev.Type, &at, &ev.Actor, &ev.Note, &ev.Severity, &notify, &snapshot); err != nil {
		return ev, err
	}
	ev.At, ev.Notify = time.UnixMilli(at).UTC(), notify == 1
	if err := json.Unmarshal([]byte(snapshot), &ev.Alert); err != nil {
		return ev, fmt.Errorf("alert event %d: %w", ev.ID, err)
	}
	return ev, nil
}

// AlertHistory returns the events of alert id, oldest first; NotFound if there is no such
// alert.
func (s *Alerts) AlertHistory(ctx context.Context, id int64) ([]alerts.Event, error) {
	evs, err := queryAll(ctx, s.readers, `SELECT `+alertEventColumns+` FROM alert_events WHERE alert_id = $1 ORDER BY id`,
		[]any{id}, scanAlertEvent)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", alertSubject(id), err)
	}
	if len(evs) == 0 {
		return nil, errcode.Errorf(errcode.NotFound, "alert %d not found", id)
	}
	return evs, nil
}

// AlertEvents returns up to limit (1-1000; default 100) events with an ID above afterID that
// scope covers, by the alert's routing at the time of the event, in ID order: the live feed's
// replay and the hub's poll.
func (s *Alerts) AlertEvents(ctx context.Context, afterID int64, scope alerts.Scope, limit int) ([]alerts.Event, error) {
	w := &where{}
	w.add("id > ?", afterID)
	scopeWhere(w, scope)
	q := `SELECT ` + alertEventColumns + ` FROM alert_events` + w.sql() + ` ORDER BY id LIMIT ` + w.arg(pageSize(limit))
	evs, err := queryAll(ctx, s.db, q, w.args, scanAlertEvent)
	if err != nil {
		return nil, fmt.Errorf("alert events after %d: %w", afterID, err)
	}
	return evs, nil
}

// LastAlertEventID returns the highest alert event ID, 0 if there is none.
func (s *Alerts) LastAlertEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM alert_events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("last alert event: %w", err)
	}
	return id, nil
}
