package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

const deviceColumns = `id, kind, model, serial, firmware, site_id, mode, status, rated_uses_per_day,
	next_calibration_ms, secret_hash, in_service_ms`

func scanDevice(sc scanner) (devices.Device, error) {
	var d devices.Device
	var calibration, inService sql.NullInt64
	err := sc.Scan(&d.ID, &d.Kind, &d.Model, &d.Serial, &d.Firmware, &d.SiteID, &d.Mode, &d.Status,
		&d.RatedUsesPerDay, &calibration, &d.SecretHash, &inService)
	d.NextCalibration = fromMillis(calibration)
	d.InService = fromMillis(inService)
	return d, err
}

// deviceDetail is a device as the audit log records it: everything but the secret's hash.
func deviceDetail(d devices.Device) any {
	return struct {
		Kind            devices.Kind   `json:"kind"`
		Model           string         `json:"model"`
		Serial          string         `json:"serial"`
		Firmware        string         `json:"firmware"`
		Site            string         `json:"site"`
		Mode            devices.Mode   `json:"mode"`
		Status          devices.Status `json:"status"`
		RatedUsesPerDay int            `json:"rated_uses_per_day"`
		NextCalibration time.Time      `json:"next_calibration,omitzero"`
		InService       time.Time      `json:"in_service,omitzero"`
	}{d.Kind, d.Model, d.Serial, d.Firmware, d.SiteID, d.Mode, d.Status, d.RatedUsesPerDay, d.NextCalibration.UTC(), d.InService.UTC()}
}

// CreateDevice adds a device at an existing site. Its SecretHash is required (see
// devices.HashSecret); Conflict if the id is taken.
func (s *Registry) CreateDevice(ctx context.Context, d devices.Device) error {
	if err := validateNewDevice(d); err != nil {
		return err
	}
	return s.change(ctx, "device.create", "device/"+d.ID, func(tx *sql.Tx) (any, error) {
		return s.insertDevice(ctx, tx, d)
	})
}

// CreateDevices creates every device in one transaction, or none of them: the first device that
// CreateDevice would refuse fails the whole call with a *devices.BatchError naming it. Each
// device gets its own audit row, as if created one by one.
func (s *Registry) CreateDevices(ctx context.Context, ds []devices.Device) error {
	return createBatch(ctx, s.DB, "device", ds, func(d devices.Device) string { return d.ID }, validateNewDevice, s.insertDevice)
}

// validateNewDevice checks a device's fields, that its id is one every broker takes and no
// platform MQTT user has (every way of creating a device comes through here), and that it comes
// with the hash of its secret.
func validateNewDevice(d devices.Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if err := devices.CheckNewDeviceID(d.ID); err != nil {
		return err
	}
	if d.SecretHash == "" {
		return errcode.Errorf(errcode.Invalid, "device %s needs the hash of its secret", d.ID)
	}
	return nil
}

// insertDevice adds a valid device in tx and returns its audit detail; Conflict if the id is
// taken, Invalid if the site does not exist. Its first period starts when it entered service,
// or now.
func (s *Registry) insertDevice(ctx context.Context, tx *sql.Tx, d devices.Device) (any, error) {
	if err := mustBeNew(ctx, tx, "device", d.ID, `SELECT 1 FROM devices WHERE id = $1`); err != nil {
		return nil, onField("id", err)
	}
	if err := mustExist(ctx, tx, "site", d.SiteID, `SELECT 1 FROM sites WHERE id = $1`); err != nil {
		return nil, onField("site", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO devices (`+deviceColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		d.ID, d.Kind, d.Model, d.Serial, d.Firmware, d.SiteID, d.Mode, d.Status, d.RatedUsesPerDay,
		millis(d.NextCalibration), d.SecretHash, millis(d.InService))
	if err != nil {
		return nil, err
	}
	from := d.InService
	if from.IsZero() {
		from = s.now()
	}
	return deviceDetail(d), openPeriod(ctx, tx, d.ID, d.SiteID, d.Status, from)
}

// UpdateDevice replaces every field of the device with d.ID except its secret's hash, which
// only SetDeviceSecret changes; NotFound if there is no such device. A device lent to a patient
// must be returned before it becomes a station device or is retired. A change of site or status
// starts a new period now; a change of InService moves the start of the device's first period.
func (s *Registry) UpdateDevice(ctx context.Context, d devices.Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return s.change(ctx, "device.update", "device/"+d.ID, func(tx *sql.Tx) (any, error) {
		old, err := getOne(ctx, tx, "device", d.ID, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, scanDevice)
		if err != nil {
			return nil, err
		}
		if err := mustExist(ctx, tx, "site", d.SiteID, `SELECT 1 FROM sites WHERE id = $1`); err != nil {
			return nil, onField("site", err)
		}
		if d.Mode != devices.Home || d.Status == devices.Retired {
			open, ok, err := openAssignment(ctx, tx, d.ID)
			if err != nil {
				return nil, err
			}
			if ok {
				return nil, errcode.Errorf(errcode.Invalid, "device %s is lent to patient %s; return it before making it %s %s",
					d.ID, open.PatientID, d.Status, d.Mode)
			}
		}
		switch {
		case old.Status != devices.InTransit && d.Status == devices.InTransit:
			return nil, errcode.Errorf(errcode.Invalid, "a device goes in transit only when an approved move is dispatched")
		case old.Status == devices.InTransit && (d.Status != devices.InTransit || d.SiteID != old.SiteID):
			return nil, errcode.Errorf(errcode.Invalid, "device %s is in transit; its site and status change when the receiving site confirms its move", d.ID)
		}
		if !old.InService.Equal(d.InService) && !d.InService.IsZero() {
			if err := moveFirstPeriod(ctx, tx, d.ID, d.InService); err != nil {
				return nil, err
			}
		}
		if err := placeDevice(ctx, tx, d.ID, d.SiteID, d.Status, s.now()); err != nil {
			return nil, err
		}
		_, err = tx.ExecContext(ctx, `UPDATE devices SET kind = $2, model = $3, serial = $4, firmware = $5,
			mode = $6, rated_uses_per_day = $7, next_calibration_ms = $8, in_service_ms = $9
			WHERE id = $1`,
			d.ID, d.Kind, d.Model, d.Serial, d.Firmware, d.Mode, d.RatedUsesPerDay,
			millis(d.NextCalibration), millis(d.InService))
		return deviceDetail(d), err
	})
}

// moveFirstPeriod makes the device's first period start at from, which must be before that
// period ends.
func moveFirstPeriod(ctx context.Context, tx *sql.Tx, deviceID string, from time.Time) error {
	first, err := getOne(ctx, tx, "device period", deviceID,
		`SELECT `+periodColumns+` FROM device_periods WHERE device_id = $1 ORDER BY from_ms LIMIT 1`, scanPeriod)
	if err != nil {
		return err
	}
	if !first.Until.IsZero() && !from.Before(first.Until) {
		return errcode.Errorf(errcode.Invalid, "device %s was %s at %s until %s; it cannot have entered service at %s",
			deviceID, first.Status, first.SiteID, first.Until.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	_, err = tx.ExecContext(ctx, `UPDATE device_periods SET from_ms = $3 WHERE device_id = $1 AND from_ms = $2`,
		deviceID, first.From.UnixMilli(), from.UnixMilli())
	return err
}

// SetDeviceSecret replaces the hash of the device's secret, as when the secret is rotated;
// NotFound if there is no such device. The audit log records that it changed, not the hash.
func (s *Registry) SetDeviceSecret(ctx context.Context, id, hash string) error {
	if hash == "" {
		return errcode.Errorf(errcode.Invalid, "device %s needs the hash of its secret", id)
	}
	return s.change(ctx, "device.secret_rotate", "device/"+id, func(tx *sql.Tx) (any, error) {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET secret_hash = $2 WHERE id = $1`, id, hash)
		if err != nil {
			return nil, err
		}
		return struct{}{}, updated(res, "device", id)
	})
}

// GetDevice returns the device with the id, with its secret's hash; NotFound if there is none.
func (s *Registry) GetDevice(ctx context.Context, id string) (devices.Device, error) {
	return getOne(ctx, s.readers, "device", id, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, scanDevice)
}

// ListDevices returns a page of devices by id, optionally only those at a site, of a kind, with
// a status or in a mode.
func (s *Registry) ListDevices(ctx context.Context, o devices.ListOptions) ([]devices.Device, error) {
	if err := only(o, "devices", "site", "kind", "status", "mode"); err != nil {
		return nil, err
	}
	w := &where{}
	if o.Site != "" {
		w.add("site_id = ?", o.Site)
	}
	if o.Kind != "" {
		if !devices.Kind(o.Kind).Valid() {
			return nil, errcode.Errorf(errcode.Invalid, "device kind %q is not one of %v", o.Kind, devices.Kinds)
		}
		w.add("kind = ?", o.Kind)
	}
	if o.Status != "" {
		if !devices.Status(o.Status).Valid() {
			return nil, errcode.Errorf(errcode.Invalid, "device status %q is not one of %v", o.Status, devices.Statuses)
		}
		w.add("status = ?", o.Status)
	}
	if o.Mode != "" {
		if m := devices.Mode(o.Mode); m != devices.Home && m != devices.StationMode {
			return nil, errcode.Errorf(errcode.Invalid, "device mode %q is not home or station", o.Mode)
		}
		w.add("mode = ?", o.Mode)
	}
	return list(ctx, s.DB, "devices", deviceColumns, "devices", "id", w, o, scanDevice)
}
