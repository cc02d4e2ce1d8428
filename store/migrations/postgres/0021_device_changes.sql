-- Which devices each registry change touched. Keep in step with ../sqlite/0021_device_changes.sql.
--
-- device_changes: each device's last registry version that changed its row, its periods or its
-- loans, written by triggers in the transaction of the change (which has incremented
-- registry_version first, and holds its row until it commits), so that no path that writes them
-- can forget it. A reader that holds what it needs of the devices as of one version asks for
-- those changed after it (Registry.DevicesChangedSince) and reads them again, instead of every
-- device. A device that never changed since this migration has no row: a reader starts from a
-- full read.

CREATE TABLE device_changes (
    device_id TEXT   NOT NULL PRIMARY KEY,
    version   BIGINT NOT NULL
);
CREATE INDEX device_changes_version ON device_changes (version);

-- device_changed records the row's device: its id in devices, its device_id elsewhere.
CREATE FUNCTION device_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO device_changes (device_id, version)
        SELECT CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
    RETURN NULL;
END;
$$;
CREATE FUNCTION device_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO device_changes (device_id, version)
        SELECT CASE WHEN TG_OP = 'DELETE' THEN OLD.device_id ELSE NEW.device_id END, version FROM registry_version WHERE id = 1
        ON CONFLICT (device_id) DO UPDATE SET version = excluded.version;
    RETURN NULL;
END;
$$;

CREATE TRIGGER devices_changed AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION device_changed();
CREATE TRIGGER device_periods_changed AFTER INSERT OR UPDATE OR DELETE ON device_periods
    FOR EACH ROW EXECUTE FUNCTION device_row_changed();
CREATE TRIGGER assignments_changed AFTER INSERT OR UPDATE OR DELETE ON assignments
    FOR EACH ROW EXECUTE FUNCTION device_row_changed();
