package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

const assignmentColumns = `device_id, patient_id, from_ms, until_ms`

func scanAssignment(sc scanner) (devices.Assignment, error) {
	var a devices.Assignment
	var from int64
	var until sql.NullInt64
	err := sc.Scan(&a.DeviceID, &a.PatientID, &from, &until)
	a.From = time.UnixMilli(from).UTC()
	a.Until = fromMillis(until)
	return a, err
}

// lastAssignment returns the device's latest assignment, open or closed. Assignments of a
// device do not overlap, so the latest is the only one a new assignment must respect.
func lastAssignment(ctx context.Context, tx *sql.Tx, deviceID string) (devices.Assignment, bool, error) {
	a, err := scanAssignment(tx.QueryRowContext(ctx, `SELECT `+assignmentColumns+` FROM assignments
		WHERE device_id = $1 ORDER BY from_ms DESC LIMIT 1`, deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return a, false, nil
	}
	return a, err == nil, err
}

// openAssignment returns the device's assignment that has no end.
func openAssignment(ctx context.Context, tx *sql.Tx, deviceID string) (devices.Assignment, bool, error) {
	a, ok, err := lastAssignment(ctx, tx, deviceID)
	return a, ok && a.Until.IsZero(), err
}

// assignmentDetail is an assignment as the audit log records it.
type assignmentDetail struct {
	Patient string    `json:"patient"`
	From    time.Time `json:"from"`
	Until   time.Time `json:"until,omitzero"`
}

// AssignDevice lends a home device to a patient from the given time on. An active, home-mode
// device and a known patient are required. If the device is lent to someone already, that
// assignment ends at from, which must be after it started; otherwise from must not be before
// the end of the device's last assignment. Times are kept to the millisecond.
func (s *Registry) AssignDevice(ctx context.Context, deviceID, patientID string, from time.Time) error {
	if !reading.ValidID(deviceID) || !reading.ValidID(patientID) {
		return errcode.Errorf(errcode.Invalid, "device %q or patient %q is not a valid id", deviceID, patientID)
	}
	if from.IsZero() {
		return errcode.Errorf(errcode.Invalid, "an assignment needs its start time")
	}
	from = time.UnixMilli(from.UnixMilli()).UTC()
	return s.change(ctx, "device.assign", "device/"+deviceID, func(tx *sql.Tx) (any, error) {
		d, err := getOne(ctx, tx, "device", deviceID, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, scanDevice)
		if err != nil {
			return nil, err
		}
		if d.Mode != devices.Home {
			return nil, errcode.Errorf(errcode.Invalid, "device %s is a %s device; only home devices are lent to patients", d.ID, d.Mode)
		}
		if d.Status != devices.Active {
			return nil, errcode.Errorf(errcode.Invalid, "device %s is %s; only an active device can be lent", d.ID, d.Status)
		}
		if err := mustExist(ctx, tx, "patient", patientID, `SELECT 1 FROM patients WHERE id = $1`); err != nil {
			return nil, err
		}
		detail := struct {
			assignmentDetail
			Ended *assignmentDetail `json:"ended,omitempty"`
		}{assignmentDetail: assignmentDetail{Patient: patientID, From: from}}
		last, ok, err := lastAssignment(ctx, tx, deviceID)
		if err != nil {
			return nil, err
		}
		switch {
		case ok && last.Until.IsZero():
			if !from.After(last.From) {
				return nil, errcode.Errorf(errcode.Invalid, "device %s is lent to patient %s since %s; a new assignment must start after that",
					deviceID, last.PatientID, last.From.Format(time.RFC3339Nano))
			}
			if _, err := tx.ExecContext(ctx, `UPDATE assignments SET until_ms = $2 WHERE device_id = $1 AND until_ms IS NULL`,
				deviceID, from.UnixMilli()); err != nil {
				return nil, err
			}
			detail.Ended = &assignmentDetail{Patient: last.PatientID, From: last.From, Until: from}
		case ok && from.Before(last.Until):
			return nil, errcode.Errorf(errcode.Invalid, "device %s was lent to patient %s until %s; a new assignment cannot start before that",
				deviceID, last.PatientID, last.Until.Format(time.RFC3339Nano))
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO assignments (device_id, patient_id, from_ms) VALUES ($1, $2, $3)`,
			deviceID, patientID, from.UnixMilli())
		return detail, err
	})
}

// ReturnDevice ends the device's current assignment at the given time, which must be after it
// started; NotFound if the device does not exist or is not lent.
func (s *Registry) ReturnDevice(ctx context.Context, deviceID string, at time.Time) error {
	if at.IsZero() {
		return errcode.Errorf(errcode.Invalid, "a return needs its time")
	}
	at = time.UnixMilli(at.UnixMilli()).UTC()
	return s.change(ctx, "device.return", "device/"+deviceID, func(tx *sql.Tx) (any, error) {
		if err := mustFind(ctx, tx, "device", deviceID, `SELECT 1 FROM devices WHERE id = $1`); err != nil {
			return nil, err
		}
		open, ok, err := openAssignment(ctx, tx, deviceID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errcode.Errorf(errcode.NotFound, "device %s is not lent to anyone", deviceID)
		}
		if !at.After(open.From) {
			return nil, errcode.Errorf(errcode.Invalid, "device %s is lent to patient %s since %s; it cannot be returned before that",
				deviceID, open.PatientID, open.From.Format(time.RFC3339Nano))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE assignments SET until_ms = $2 WHERE device_id = $1 AND until_ms IS NULL`,
			deviceID, at.UnixMilli()); err != nil {
			return nil, err
		}
		return assignmentDetail{Patient: open.PatientID, From: open.From, Until: at}, nil
	})
}

// Assignments returns the device's assignments, oldest first; NotFound if there is no such
// device.
func (s *Registry) Assignments(ctx context.Context, deviceID string) ([]devices.Assignment, error) {
	found, err := exists(ctx, s.readers, `SELECT 1 FROM devices WHERE id = $1`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("assignments of %s: %w", deviceID, err)
	}
	if !found {
		return nil, notFound("device", deviceID)
	}
	as, err := queryAll(ctx, s.readers, `SELECT `+assignmentColumns+` FROM assignments WHERE device_id = $1 ORDER BY from_ms`,
		[]any{deviceID}, scanAssignment)
	if err != nil {
		return nil, fmt.Errorf("assignments of %s: %w", deviceID, err)
	}
	return as, nil
}
