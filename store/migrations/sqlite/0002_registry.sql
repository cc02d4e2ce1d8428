-- The device registry: sites, teams, patients, devices, the lending of home devices to patients,
-- the audit log of every change, and a version that every change increments.
-- Times are Unix milliseconds. Keep in step with ../postgres/0002_registry.sql.

CREATE TABLE registry_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

CREATE TABLE sites (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    district      TEXT NOT NULL,
    address       TEXT NOT NULL,
    lat           REAL NOT NULL,
    lon           REAL NOT NULL,
    time_zone     TEXT NOT NULL,
    opening_hours TEXT NOT NULL
);

CREATE TABLE teams (
    id      TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites (id),
    name    TEXT NOT NULL
);
CREATE INDEX teams_site ON teams (site_id, id);

CREATE TABLE patients (
    id      TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id),
    plans   TEXT NOT NULL -- JSON array of strings
);
CREATE INDEX patients_team ON patients (team_id, id);

CREATE TABLE devices (
    id                  TEXT    PRIMARY KEY,
    kind                TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    serial              TEXT    NOT NULL,
    firmware            TEXT    NOT NULL,
    site_id             TEXT    NOT NULL REFERENCES sites (id),
    mode                TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    rated_uses_per_day  INTEGER NOT NULL,
    next_calibration_ms INTEGER,          -- NULL: not tracked
    secret_hash         TEXT    NOT NULL
);
CREATE INDEX devices_site ON devices (site_id, id);

CREATE TABLE assignments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id  TEXT    NOT NULL REFERENCES devices (id),
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    from_ms    INTEGER NOT NULL,
    until_ms   INTEGER,                   -- NULL: still lent
    CHECK (until_ms IS NULL OR until_ms > from_ms)
);
CREATE INDEX assignments_device ON assignments (device_id, from_ms);
CREATE INDEX assignments_patient ON assignments (patient_id);
-- A device is lent to one patient at a time.
CREATE UNIQUE INDEX assignments_open ON assignments (device_id) WHERE until_ms IS NULL;

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    detail  TEXT    NOT NULL -- JSON of the new values
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
