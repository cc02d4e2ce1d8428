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

// TransferPatient moves a patient to another team at time at, in one registry change. The
// patient keeps its id, so its readings stay queryable under it, and its care plans. Every
// home device lent to the patient now either travels with it or is returned at at, as
// devicePolicy says. The move is recorded in patient_transfers and audited as patient.transfer
// on the patient, with a device.update (travel, when the site changes) or device.return row on
// each device.
//
// NotFound if there is no such patient; Invalid for a team that does not exist or is the
// patient's own, an unknown policy, no time, or a loan to return that starts at or after at.
func (s *Registry) TransferPatient(ctx context.Context, patientID, toTeam, devicePolicy string, at time.Time) error {
	switch {
	case !reading.ValidID(patientID) || !reading.ValidID(toTeam):
		return errcode.Errorf(errcode.Invalid, "patient %q or team %q is not a valid id", patientID, toTeam)
	case devicePolicy != devices.PolicyTravel && devicePolicy != devices.PolicyReturn:
		return errcode.Errorf(errcode.Invalid, "device policy %q is not %s or %s", devicePolicy, devices.PolicyTravel, devices.PolicyReturn)
	case at.IsZero():
		return errcode.Errorf(errcode.Invalid, "a transfer needs its time")
	}
	at = time.UnixMilli(at.UnixMilli()).UTC()
	return s.mutate(ctx, "transfer patient/"+patientID, func(tx *sql.Tx, actor string) error {
		p, err := getOne(ctx, tx, "patient", patientID, `SELECT `+patientColumns+` FROM patients p WHERE p.id = $1`, scanPatient)
		if err != nil {
			return err
		}
		if p.TeamID == toTeam {
			return errcode.Errorf(errcode.Invalid, "patient %s is already in team %s", patientID, toTeam)
		}
		team, err := getOne(ctx, tx, "team", toTeam, `SELECT `+teamColumns+` FROM teams WHERE id = $1`, scanTeam)
		var de *errcode.Error
		if errors.As(err, &de) && de.Code == errcode.NotFound {
			return errcode.Errorf(errcode.Invalid, "team %s does not exist", toTeam)
		}
		if err != nil {
			return err
		}
		loans, err := queryAll(ctx, tx, `SELECT `+assignmentColumns+` FROM assignments
			WHERE patient_id = $1 AND until_ms IS NULL ORDER BY device_id`, []any{patientID}, scanAssignment)
		if err != nil {
			return err
		}
		lent := []string{}
		for _, l := range loans {
			lent = append(lent, l.DeviceID)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE patients SET team_id = $2 WHERE id = $1`, patientID, toTeam); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO patient_transfers
			(patient_id, from_team, to_team, at_ms, actor, device_policy) VALUES ($1, $2, $3, $4, $5, $6)`,
			patientID, p.TeamID, toTeam, at.UnixMilli(), actor, devicePolicy); err != nil {
			return err
		}
		detail := struct {
			FromTeam     string    `json:"from_team"`
			ToTeam       string    `json:"to_team"`
			At           time.Time `json:"at"`
			DevicePolicy string    `json:"device_policy"`
			Devices      []string  `json:"devices"`
		}{p.TeamID, toTeam, at, devicePolicy, lent}
		if err := s.audit(ctx, tx, actor, "patient.transfer", "patient/"+patientID, detail); err != nil {
			return err
		}
		for _, l := range loans {
			if devicePolicy == devices.PolicyTravel {
				err = travel(ctx, s.DB, tx, actor, l.DeviceID, team.SiteID, at)
			} else {
				err = returnAt(ctx, s.DB, tx, actor, l, at)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// travel moves a lent device to site at at, leaving its loan as it is.
func travel(ctx context.Context, s *DB, tx *sql.Tx, actor, deviceID, site string, at time.Time) error {
	d, err := getOne(ctx, tx, "device", deviceID, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, scanDevice)
	if err != nil || d.SiteID == site {
		return err
	}
	if err := placeDevice(ctx, tx, deviceID, site, d.Status, at); err != nil {
		return err
	}
	d.SiteID = site
	return s.audit(ctx, tx, actor, "device.update", "device/"+deviceID, deviceDetail(d))
}

// returnAt ends a device's open loan at at.
func returnAt(ctx context.Context, s *DB, tx *sql.Tx, actor string, loan devices.Assignment, at time.Time) error {
	if !at.After(loan.From) {
		return errcode.Errorf(errcode.Invalid, "device %s is lent to patient %s since %s; a transfer at %s cannot return it",
			loan.DeviceID, loan.PatientID, loan.From.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE assignments SET until_ms = $2 WHERE device_id = $1 AND until_ms IS NULL`,
		loan.DeviceID, at.UnixMilli()); err != nil {
		return err
	}
	return s.audit(ctx, tx, actor, "device.return", "device/"+loan.DeviceID,
		assignmentDetail{Patient: loan.PatientID, From: loan.From, Until: at})
}

// Transfers returns the patient's transfers, oldest first; NotFound if there is no such patient.
func (s *Registry) Transfers(ctx context.Context, patientID string) ([]devices.Transfer, error) {
	found, err := exists(ctx, s.readers, `SELECT 1 FROM patients WHERE id = $1`, patientID)
	if err != nil {
		return nil, fmt.Errorf("transfers of %s: %w", patientID, err)
	}
	if !found {
		return nil, notFound("patient", patientID)
	}
	out, err := queryAll(ctx, s.readers, `SELECT id, patient_id, from_team, to_team, at_ms, actor, device_policy
		FROM patient_transfers WHERE patient_id = $1 ORDER BY id`, []any{patientID}, func(sc scanner) (devices.Transfer, error) {
		var t devices.Transfer
		var ms int64
		err := sc.Scan(&t.ID, &t.PatientID, &t.FromTeam, &t.ToTeam, &ms, &t.Actor, &t.DevicePolicy)
		t.At = time.UnixMilli(ms).UTC()
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("transfers of %s: %w", patientID, err)
	}
	return out, nil
}
