-- The keys of counted uses ordered by time, then device. Keep in step with
-- ../postgres/0008_usage_keys_by_time.sql.
--
-- Ingest records the uses of readings that have just been taken: ordered by time, each
-- transaction's keys go at the end of the table, a few pages written, instead of into every
-- device's corner of it (ordered by device first, a transaction of 10,000 uses from 2,000
-- devices dirtied thousands of pages). The key is the same, (device, time), so a use is still
-- recognised once. Rebuilds find a period's keys by time too, so the index by day goes.

CREATE TABLE device_uses_by_time (
    device_id   TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    site_id     TEXT    NOT NULL,
    day         TEXT    NOT NULL,         -- YYYY-MM-DD in the site's time zone
    recorded_ms INTEGER NOT NULL,
    PRIMARY KEY (at_ms, device_id)
) WITHOUT ROWID;
INSERT INTO device_uses_by_time (device_id, at_ms, site_id, day, recorded_ms)
    SELECT device_id, at_ms, site_id, day, recorded_ms FROM device_uses;
DROP TABLE device_uses;
ALTER TABLE device_uses_by_time RENAME TO device_uses;
CREATE INDEX device_uses_recorded ON device_uses (recorded_ms);
