-- The devices' live state saved as a log. Keep in step with ../postgres/0018_device_status_log.sql.
--
-- Merging every changed device into device_status on each save cost an upsert per device every
-- few seconds, whatever the message rate. Now a save appends one row to device_status_log that
-- holds the records it saves, encoded (store/devicestatuslog.go); instances read the rows
-- appended since they last looked. Once a minute the rows older than a few minutes are folded
-- into device_status and device_status_hours (merged field by field, counts added) and deleted;
-- device_status_rev.folded is the last row folded. rev numbers the log's rows; the rev columns
-- of the folded tables now name the fold that last wrote them, and nothing reads by them.

CREATE TABLE device_status_log (
    rev      INTEGER PRIMARY KEY,
    instance TEXT    NOT NULL,
    saved_ms INTEGER NOT NULL,
    records  BLOB    NOT NULL
);
CREATE INDEX device_status_log_saved ON device_status_log (saved_ms);

ALTER TABLE device_status_rev ADD COLUMN folded INTEGER NOT NULL DEFAULT 0;

DROP INDEX device_status_by_rev;
DROP INDEX device_status_hours_by_rev;
