-- Device usage and where each device has been. Keep in step with ../postgres/0006_usage.sql.
--
-- device_periods: a device's life as stretches at one site with one status, each from_ms until
-- until_ms (NULL: still so), without gaps from when it entered service. Devices that exist
-- already get one open period from the beginning of time at their current site and status.
-- device_uses: one row per counted use (a device's reading at a measurement time), kept for the
-- deduplication window after recorded_ms, so that a reading delivered again counts once.
-- device_usage: the count of uses per device, site and local day.

ALTER TABLE devices ADD COLUMN in_service_ms INTEGER; -- NULL: since it was registered

CREATE TABLE device_periods (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT    NOT NULL REFERENCES devices (id),
    site_id   TEXT    NOT NULL,
    status    TEXT    NOT NULL,
    from_ms   INTEGER NOT NULL,
    until_ms  INTEGER,                   -- NULL: still so
    CHECK (until_ms IS NULL OR until_ms >= from_ms)
);
CREATE INDEX device_periods_device ON device_periods (device_id, from_ms);
CREATE INDEX device_periods_until ON device_periods (until_ms);
CREATE UNIQUE INDEX device_periods_open ON device_periods (device_id) WHERE until_ms IS NULL;
INSERT INTO device_periods (device_id, site_id, status, from_ms)
    SELECT id, site_id, status, 0 FROM devices ORDER BY id;

CREATE TABLE device_uses (
    device_id   TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    site_id     TEXT    NOT NULL,
    day         TEXT    NOT NULL,         -- YYYY-MM-DD in the site's time zone
    recorded_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, at_ms)
) WITHOUT ROWID;
CREATE INDEX device_uses_recorded ON device_uses (recorded_ms);
CREATE INDEX device_uses_day ON device_uses (day);

CREATE TABLE device_usage (
    device_id TEXT    NOT NULL,
    site_id   TEXT    NOT NULL,
    day       TEXT    NOT NULL,           -- YYYY-MM-DD in the site's time zone
    uses      INTEGER NOT NULL,
    PRIMARY KEY (device_id, day, site_id)
);
CREATE INDEX device_usage_day ON device_usage (day, site_id);
