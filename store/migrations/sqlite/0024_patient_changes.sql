-- Which patients each registry change touched, as device_changes (migration 0021) does for the
-- devices: each patient's last registry version that changed its row, written by triggers in
-- the transaction of the change. A registry view is brought to a new version by reading again
-- only the devices and patients changed after its own (Registry.LoadDirectorySince). Keep in
-- step with ../postgres/0024_patient_changes.sql.

CREATE TABLE patient_changes (
    patient_id TEXT    NOT NULL PRIMARY KEY,
    version    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX patient_changes_version ON patient_changes (version);

CREATE TRIGGER patients_changed_insert AFTER INSERT ON patients BEGIN
    INSERT INTO patient_changes (patient_id, version) SELECT NEW.id, version FROM registry_version WHERE id = 1
        ON CONFLICT (patient_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER patients_changed_update AFTER UPDATE ON patients BEGIN
    INSERT INTO patient_changes (patient_id, version) SELECT NEW.id, version FROM registry_version WHERE id = 1
        ON CONFLICT (patient_id) DO UPDATE SET version = excluded.version;
    INSERT INTO patient_changes (patient_id, version) SELECT OLD.id, version FROM registry_version WHERE id = 1
        ON CONFLICT (patient_id) DO UPDATE SET version = excluded.version;
END;
CREATE TRIGGER patients_changed_delete AFTER DELETE ON patients BEGIN
    INSERT INTO patient_changes (patient_id, version) SELECT OLD.id, version FROM registry_version WHERE id = 1
        ON CONFLICT (patient_id) DO UPDATE SET version = excluded.version;
END;
