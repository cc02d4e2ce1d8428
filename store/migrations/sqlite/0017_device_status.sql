-- The devices' live state (package devices/status), which each instance saves every few
-- seconds from its memory and reads back to learn what the others saw. Keep in step with
-- ../postgres/0017_device_status.sql.
--
-- device_status: one row per device. Times are Unix milliseconds, 0 for never. A save merges
-- each field with the row's, the newer time winning (store/devicestatus.go), so that instances
-- that each saw part of a device's messages agree. event is the latest connection event.
--
-- device_status_hours: accepted readings and dead letters received per device and UTC hour
-- (hours since the Unix epoch). A save adds its counts to the row's; rows older than a day are
-- pruned.
--
-- rev: device_status_rev counts saves. Each save takes the next number first, which also
-- orders the saves of all instances one after the other, and marks the rows it writes with it,
-- so that an instance reads only the rows saved since the number it last read.

CREATE TABLE device_status (
    device_id          TEXT    PRIMARY KEY,
    last_message_ms    INTEGER NOT NULL DEFAULT 0,
    last_telemetry_ms  INTEGER NOT NULL DEFAULT 0,
    battery            REAL    NOT NULL DEFAULT 0,
    battery_ms         INTEGER NOT NULL DEFAULT 0,
    signal             REAL    NOT NULL DEFAULT 0,
    signal_ms          INTEGER NOT NULL DEFAULT 0,
    firmware           TEXT    NOT NULL DEFAULT '',
    firmware_ms        INTEGER NOT NULL DEFAULT 0,
    clock_offset_ms    INTEGER NOT NULL DEFAULT 0,
    clock_offset_at_ms INTEGER NOT NULL DEFAULT 0,
    event              TEXT    NOT NULL DEFAULT '',
    event_ms           INTEGER NOT NULL DEFAULT 0,
    rev                INTEGER NOT NULL
);
CREATE INDEX device_status_by_rev ON device_status (rev);

CREATE TABLE device_status_hours (
    device_id    TEXT    NOT NULL,
    hour         INTEGER NOT NULL,
    readings     INTEGER NOT NULL,
    dead_letters INTEGER NOT NULL,
    rev          INTEGER NOT NULL,
    PRIMARY KEY (device_id, hour)
);
CREATE INDEX device_status_hours_by_rev ON device_status_hours (rev);
CREATE INDEX device_status_hours_by_hour ON device_status_hours (hour);

CREATE TABLE device_status_rev (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    rev INTEGER NOT NULL
);
INSERT INTO device_status_rev (id, rev) VALUES (1, 0);
