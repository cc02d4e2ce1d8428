-- Transfers of patients between teams (a resident who moves): from which team to which, when, by
-- whom, and whether the home devices lent to the patient travelled along or were returned.
-- Times are Unix milliseconds. Keep in step with ../postgres/0004_patient_transfers.sql.

CREATE TABLE patient_transfers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id    TEXT    NOT NULL REFERENCES patients (id),
    from_team     TEXT    NOT NULL REFERENCES teams (id),
    to_team       TEXT    NOT NULL REFERENCES teams (id),
    at_ms         INTEGER NOT NULL,
    actor         TEXT    NOT NULL,
    device_policy TEXT    NOT NULL CHECK (device_policy IN ('travel', 'return'))
);
CREATE INDEX patient_transfers_patient ON patient_transfers (patient_id, id);
