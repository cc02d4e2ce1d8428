-- Webhooks, their outbox of deliveries and the cursor over the alert events. Keep in step with
-- ../postgres/0010_webhooks.sql.
--
-- webhooks: a receiver of the alert events of one team (clinical) or one site (faults), not
-- both. secret is kept as given: the HMAC signature of every body needs it (it is shown once,
-- at creation, and never listed). min_severity 0 sends every severity. from_event is the last
-- alert event before the webhook was created: only later events are sent to it.
--
-- webhook_cursor: one row, the id of the last alert event whose deliveries were written. It
-- starts at the last event there is, so that an upgrade does not send the past. Writing a
-- batch of deliveries and moving the cursor is one transaction that checks the cursor did not
-- move (compare and set), so two instances never both write a batch.
--
-- webhook_deliveries: the outbox and the delivery log. payload is the exact body and idem_key
-- the idempotency key, both fixed when the row is written, so that every retry is the same
-- request. A pending row is due at next_ms; a sender claims it by setting lease_owner and
-- lease_until_ms where the lease has run out, and records the outcome only under that claim.
-- Times are Unix milliseconds.

CREATE TABLE webhooks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    team         TEXT    NOT NULL DEFAULT '',
    site         TEXT    NOT NULL DEFAULT '',
    url          TEXT    NOT NULL,
    secret       TEXT    NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    min_severity INTEGER NOT NULL DEFAULT 0 CHECK (min_severity BETWEEN 0 AND 4),
    from_event   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    CHECK ((team = '') <> (site = ''))
);
CREATE INDEX webhooks_team ON webhooks (team, id);
CREATE INDEX webhooks_site ON webhooks (site, id);

CREATE TABLE webhook_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    event_id INTEGER NOT NULL
);
INSERT INTO webhook_cursor (id, event_id) SELECT 1, COALESCE(MAX(id), 0) FROM alert_events;

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id       INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         INTEGER NOT NULL,
    event_type       TEXT    NOT NULL,
    idem_key         TEXT    NOT NULL UNIQUE,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status      INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    created_ms       INTEGER NOT NULL,
    first_attempt_ms INTEGER,
    last_attempt_ms  INTEGER,
    next_ms          INTEGER,
    delivered_ms     INTEGER,
    lease_owner      TEXT    NOT NULL DEFAULT '',
    lease_until_ms   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_ms);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
