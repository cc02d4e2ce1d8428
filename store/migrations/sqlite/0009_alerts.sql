-- Alerts and their history of changes. Keep in step with ../postgres/0009_alerts.sql.
--
-- alerts: one row per alert. subject is "patient/<id>" or "device/<id>"; severity is 1 info,
-- 2 warning, 3 urgent, 4 critical; notified_severity is the highest severity anyone was
-- notified of (0: none yet, e.g. a late or doubtful alert). first_seen_ms and last_seen_ms are
-- measurement times; the other times are when the change was made, all Unix milliseconds.
-- thresholds is a JSON object, evidence a JSON array of readings (the first few and the latest
-- few). patient, device, team and site are not foreign keys: an alert outlives the routing it
-- was raised with.
--
-- alerts_open makes "one open alert per (rule, subject)" a fact of the database, so that two
-- instances evaluating the same readings cannot both raise it.
--
-- alert_events: every change of an alert, written in the same transaction. Its id is the id of
-- the live feed (Server-Sent Events): ids are handed out in commit order (SQLite has one writer;
-- PostgreSQL takes a lock for it), so a reader that has seen id n has missed nothing below n.
-- category, team and site are the alert's routing at the change, for scoping the feed; alert
-- is JSON of the alert after the change, without its evidence.

CREATE TABLE alerts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    rule              TEXT    NOT NULL,
    rule_version      INTEGER NOT NULL DEFAULT 0,
    category          TEXT    NOT NULL CHECK (category IN ('clinical', 'fault')),
    severity          INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
    notified_severity INTEGER NOT NULL DEFAULT 0 CHECK (notified_severity BETWEEN 0 AND 4),
    subject           TEXT    NOT NULL,
    patient           TEXT    NOT NULL DEFAULT '',
    device            TEXT    NOT NULL DEFAULT '',
    team              TEXT    NOT NULL DEFAULT '',
    site              TEXT    NOT NULL DEFAULT '',
    state             TEXT    NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    first_seen_ms     INTEGER NOT NULL,
    last_seen_ms      INTEGER NOT NULL,
    count             INTEGER NOT NULL,
    last_value        TEXT    NOT NULL DEFAULT '',
    thresholds        TEXT    NOT NULL DEFAULT '{}',
    evidence          TEXT    NOT NULL DEFAULT '[]',
    late              INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),
    doubt             TEXT    NOT NULL DEFAULT '',
    created_ms        INTEGER NOT NULL,
    updated_ms        INTEGER NOT NULL,
    acknowledged_by   TEXT    NOT NULL DEFAULT '',
    acknowledged_ms   INTEGER,
    acknowledge_note  TEXT    NOT NULL DEFAULT '',
    resolved_by       TEXT    NOT NULL DEFAULT '',
    resolved_ms       INTEGER,
    resolution_note   TEXT    NOT NULL DEFAULT '',
    escalation_level  INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX alerts_open ON alerts (rule, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_state ON alerts (state, id);
CREATE INDEX alerts_team ON alerts (team, id);
CREATE INDEX alerts_site ON alerts (site, id);
CREATE INDEX alerts_patient ON alerts (patient, id);
CREATE INDEX alerts_device ON alerts (device, id);

CREATE TABLE alert_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    type     TEXT    NOT NULL CHECK (type IN ('raised', 'updated', 'severity_raised', 'acknowledged', 'resolved', 'escalated')),
    at_ms    INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    note     TEXT    NOT NULL DEFAULT '',
    severity INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
    notify   INTEGER NOT NULL CHECK (notify IN (0, 1)),
    category TEXT    NOT NULL,
    team     TEXT    NOT NULL DEFAULT '',
    site     TEXT    NOT NULL DEFAULT '',
    alert    TEXT    NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);
