CREATE TABLE dead_letters (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms  INTEGER NOT NULL,
    device       TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    reading      INTEGER NOT NULL,
    payload      BLOB    NOT NULL,
    payload_size INTEGER NOT NULL
);
CREATE INDEX dead_letters_device ON dead_letters (device, id);
CREATE INDEX dead_letters_reason ON dead_letters (reason, id);
