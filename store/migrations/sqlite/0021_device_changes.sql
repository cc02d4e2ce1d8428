-- Which devices each registry change touched. Keep in step with ../postgres/0021_device_changes.sql.
--
-- device_changes: each device's last registry version that changed its row, its periods or its
-- loans, written by triggers in the transaction of the change (which has incremented
-- registry_version first), so that no path that writes them can forget it. A reader that holds
-- what it needs of the devices as of one version asks for those changed after it
-- (Registry.DevicesChangedSince) and reads them again, instead of every device. A device that
-- never changed since this migration has no row: a reader starts from a full read.

CREATE TABLE device_changes (
    device_id TEXT    NOT NULL PRIMARY KEY,
    version   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX device_changes_version ON device_changes (version);

CREATE TRIGGER devices_changed_insert AFTER INSERT ON devices BEGIN
    INSERT INTO device_changes (device_id, version) SELECT NEW.id, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER devices_changed_update AFTER UPDATE ON devices BEGIN
    INSERT INTO device_changes (device_id, version) SELECT NEW.id, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER devices_changed_delete AFTER DELETE ON devices BEGIN
    INSERT INTO device_changes (device_id, version) SELECT OLD.id, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER device_periods_changed_insert AFTER INSERT ON device_periods BEGIN
    INSERT INTO device_changes (device_id, version) SELECT NEW.device_id, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER device_periods_changed_update AFTER UPDATE ON device_periods BEGIN
    INSERT INTO device_changes (device_id, version) SELECT NEW.device_id, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER device_periods_changed_delete AFTER DELETE ON device_periods BEGIN
    INSERT INTO device_changes (device_id, version) SELECT OLD.device_id, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER assignments_changed_insert AFTER INSERT ON assignments BEGIN
    INSERT INTO device_changes (device_id, version) SELECT NEW.device_id, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER assignments_changed_update AFTER UPDATE ON assignments BEGIN
    INSERT INTO device_changes (device_id, version) SELECT NEW.device_id, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER assignments_changed_delete AFTER DELETE ON assignments BEGIN
    INSERT INTO device_changes (device_id, version) SELECT OLD.device_id, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
END;
