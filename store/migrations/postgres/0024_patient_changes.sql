-- Which patients each registry change touched, as device_changes (migration 0021) does for the
-- devices: each patient's last registry version that changed its row, written by triggers in
-- the transaction of the change. A registry view is brought to a new version by reading again
-- only the devices and patients changed after its own (Registry.LoadDirectorySince). Keep in
-- step with ../sqlite/0024_patient_changes.sql.

CREATE TABLE patient_changes (
    patient_id TEXT   NOT NULL PRIMARY KEY,
    version    BIGINT NOT NULL
);
CREATE INDEX patient_changes_version ON patient_changes (version);

CREATE FUNCTION patient_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO patient_changes (patient_id, version) SELECT OLD.id, version FROM registry_version WHERE id = 1
            ON CONFLICT (patient_id) DO UPDATE SET version = excluded.version;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO patient_changes (patient_id, version) SELECT NEW.id, version FROM registry_version WHERE id = 1
            ON CONFLICT (patient_id) DO UPDATE SET version = excluded.version;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER patients_changed AFTER INSERT OR UPDATE OR DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION patient_changed();
