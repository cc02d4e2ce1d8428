-- Moves of devices between sites, with their chain of custody: proposed, then approved or
-- rejected by the donor site, dispatched (its devices in transit) and received by the receiving
-- site; or cancelled. Each step's actor (as in the audit log) and time, in Unix milliseconds.
-- Keep in step with ../postgres/0007_moves.sql.
--
-- move_devices: the devices of each move. holds is 1 while the move is open (proposed,
-- approved or in transit) and 0 once it ends, so that a device is held by one open move at most.

CREATE TABLE moves (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,
    from_site     TEXT    NOT NULL REFERENCES sites (id),
    to_site       TEXT    NOT NULL REFERENCES sites (id),
    state         TEXT    NOT NULL CHECK (state IN ('proposed', 'approved', 'rejected', 'in_transit', 'received', 'cancelled')),
    reason        TEXT    NOT NULL,
    proposed_by   TEXT    NOT NULL,
    proposed_ms   INTEGER NOT NULL,
    decided_by    TEXT    NOT NULL DEFAULT '',
    decided_ms    INTEGER,
    decision_note TEXT    NOT NULL DEFAULT '',
    dispatched_by TEXT    NOT NULL DEFAULT '',
    dispatched_ms INTEGER,
    received_by   TEXT    NOT NULL DEFAULT '',
    received_ms   INTEGER,
    cancelled_by  TEXT    NOT NULL DEFAULT '',
    cancelled_ms  INTEGER,
    cancel_note   TEXT    NOT NULL DEFAULT '',
    CHECK (from_site <> to_site)
);
CREATE INDEX moves_from ON moves (from_site, id);
CREATE INDEX moves_to ON moves (to_site, id);
CREATE INDEX moves_state ON moves (state, id);

CREATE TABLE move_devices (
    move_id   INTEGER NOT NULL REFERENCES moves (id),
    device_id TEXT    NOT NULL REFERENCES devices (id),
    holds     INTEGER NOT NULL DEFAULT 1 CHECK (holds IN (0, 1)),
    PRIMARY KEY (move_id, device_id)
);
CREATE INDEX move_devices_device ON move_devices (device_id, move_id);
CREATE UNIQUE INDEX move_devices_held ON move_devices (device_id) WHERE holds = 1;
