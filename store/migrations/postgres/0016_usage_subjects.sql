-- Numbered subjects for the usage log. Keep in step with ../sqlite/0016_usage_subjects.sql,
-- which explains the table.

CREATE TABLE usage_subjects (
    id        INTEGER PRIMARY KEY,
    device_id TEXT COLLATE "C" NOT NULL,
    site_id   TEXT COLLATE "C" NOT NULL,
    UNIQUE (device_id, site_id)
);
