-- Threshold overrides and silences of alerts. Keep in step with ../postgres/0012_overrides.sql.
--
-- overrides: a team's or a patient's thresholds that differ from the rules file, as the JSON of
-- alerts.Overrides ({"glucose_low": {"below": 4.5}}; durations in seconds). Keyed by the
-- patient's id, so a transfer keeps them. Changes are registry changes: audited, and they bump
-- registry_version so that every instance reads them again.
--
-- silences: a patient's or a device's alerts recorded without notifying anyone from from_ms
-- (inclusive) until until_ms (exclusive), Unix milliseconds, with the reason. subject is
-- "patient/<id>" or "device/<id>", split into kind and id for scoping lists by team and site.
--
-- alerts.silenced: the silence reason of the alert's findings, kept while every one was silenced.

CREATE TABLE overrides (
    kind       TEXT    NOT NULL CHECK (kind IN ('team', 'patient')),
    id         TEXT    NOT NULL,
    overrides  TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE silences (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind TEXT    NOT NULL CHECK (subject_kind IN ('patient', 'device')),
    subject_id   TEXT    NOT NULL,
    from_ms      INTEGER NOT NULL,
    until_ms     INTEGER NOT NULL CHECK (until_ms > from_ms),
    reason       TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL
);
CREATE INDEX silences_until ON silences (until_ms);
CREATE INDEX silences_subject ON silences (subject_kind, subject_id, id);

ALTER TABLE alerts ADD COLUMN silenced TEXT NOT NULL DEFAULT '';
