-- Numbered subjects for the usage log. Keep in step with ../postgres/0016_usage_subjects.sql.
--
-- A subject is a device at a site: what a use is counted for. A usage_log row of version 2
-- (store/uselog.go) names each use's subject by its id here, in a few bytes, instead of
-- spelling out the device and site ids with every use, which made the log's rows, and what
-- SQLite writes and checkpoints for them, several times larger. Subjects are written in the
-- same transaction as the first row that names them, in the order of their ids, and never
-- change or go: a device that moves gets a new subject for its new site. Rows of version 1
-- still spell the ids out and are read as before.

CREATE TABLE usage_subjects (
    id        INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    site_id   TEXT NOT NULL,
    UNIQUE (device_id, site_id)
);
