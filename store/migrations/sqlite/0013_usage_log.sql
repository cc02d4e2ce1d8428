-- Counted uses as a log of groups. Keep in step with ../postgres/0013_usage_log.sql.
--
-- Until now each counted use was a row of device_uses, its key, inserted into three indexes as
-- ingest recorded it: a third of ingest's work. Now a transaction of ingest appends one row to
-- usage_log that holds all its new uses, encoded (store/uselog.go), and the store keeps the keys
-- of the deduplication window in memory, loaded from the log and kept current by reading the
-- rows other instances append (usage.KeySet). The counts per device and day in device_usage are
-- folded from the log a group at a time: usage_folded.seq is the last row folded, and readers
-- add the rows after it.
--
-- kind: 'uses' rows are uses to count and remember; 'keys' rows keys to remember only and
-- 'forget' rows forget the keys of the days from_day..to_day (a rebuild writes a 'forget' row
-- and then the rebuilt keys). keys: how many uses the row holds.
--
-- device_uses is no longer written. Its keys are still read and pruned with the log's, so the
-- uses recorded before this migration are recognised until they leave the window.

CREATE TABLE usage_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_ms INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('uses', 'keys', 'forget')),
    from_day    TEXT,
    to_day      TEXT,
    keys        INTEGER NOT NULL,
    uses        BLOB    NOT NULL
);
CREATE INDEX usage_log_recorded ON usage_log (recorded_ms);

CREATE TABLE usage_folded (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO usage_folded (id, seq) VALUES (1, 0);
