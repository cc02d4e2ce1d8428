-- The devices' live state saved as a log. Keep in step with ../sqlite/0018_device_status_log.sql,
-- which explains it.

CREATE TABLE device_status_log (
    rev      BIGINT PRIMARY KEY,
    instance TEXT   NOT NULL,
    saved_ms BIGINT NOT NULL,
    records  BYTEA  NOT NULL
);
CREATE INDEX device_status_log_saved ON device_status_log (saved_ms);

ALTER TABLE device_status_rev ADD COLUMN folded BIGINT NOT NULL DEFAULT 0;

DROP INDEX device_status_by_rev;
DROP INDEX device_status_hours_by_rev;
