-- The devices' live state. Keep in step with ../sqlite/0017_device_status.sql, which explains
-- the tables.

CREATE TABLE device_status (
    device_id          TEXT COLLATE "C" PRIMARY KEY,
    last_message_ms    BIGINT           NOT NULL DEFAULT 0,
    last_telemetry_ms  BIGINT           NOT NULL DEFAULT 0,
    battery            DOUBLE PRECISION NOT NULL DEFAULT 0,
    battery_ms         BIGINT           NOT NULL DEFAULT 0,
    signal             DOUBLE PRECISION NOT NULL DEFAULT 0,
    signal_ms          BIGINT           NOT NULL DEFAULT 0,
    firmware           TEXT             NOT NULL DEFAULT '',
    firmware_ms        BIGINT           NOT NULL DEFAULT 0,
    clock_offset_ms    BIGINT           NOT NULL DEFAULT 0,
    clock_offset_at_ms BIGINT           NOT NULL DEFAULT 0,
    event              TEXT             NOT NULL DEFAULT '',
    event_ms           BIGINT           NOT NULL DEFAULT 0,
    rev                BIGINT           NOT NULL
);
CREATE INDEX device_status_by_rev ON device_status (rev);

CREATE TABLE device_status_hours (
    device_id    TEXT COLLATE "C" NOT NULL,
    hour         BIGINT NOT NULL,
    readings     BIGINT NOT NULL,
    dead_letters BIGINT NOT NULL,
    rev          BIGINT NOT NULL,
    PRIMARY KEY (device_id, hour)
);
CREATE INDEX device_status_hours_by_rev ON device_status_hours (rev);
CREATE INDEX device_status_hours_by_hour ON device_status_hours (hour);

CREATE TABLE device_status_rev (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    rev BIGINT NOT NULL
);
INSERT INTO device_status_rev (id, rev) VALUES (1, 0);
