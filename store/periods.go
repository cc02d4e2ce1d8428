package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// A device's periods (devices.Period) record where it was and in what status, so that
// utilisation counts only the days a device was in service at a site. Every change of a
// device's site or status goes through placeDevice in the transaction that makes it.

const periodColumns = `device_id, site_id, status, from_ms, until_ms`

func scanPeriod(sc scanner) (devices.Period, error) {
	var p devices.Period
	var from int64
	var until sql.NullInt64
	err := sc.Scan(&p.DeviceID, &p.SiteID, &p.Status, &from, &until)
	p.From = time.UnixMilli(from).UTC()
	p.Until = fromMillis(until)
	return p, err
}

// placeDevice sets the device's site and status from at on, in tx: it updates the device row
// and closes its open period at at, opening one with the new site and status. Nothing changes
// when both are as they were. An at before the open period's start is taken as that start, so
// periods never overlap.
func placeDevice(ctx context.Context, tx *sql.Tx, deviceID, site string, status devices.Status, at time.Time) error {
	open, err := getOne(ctx, tx, "device period", deviceID,
		`SELECT `+periodColumns+` FROM device_periods WHERE device_id = $1 AND until_ms IS NULL`, scanPeriod)
	if err != nil {
		return err
	}
	if open.SiteID == site && open.Status == status {
		return nil
	}
	if at.Before(open.From) {
		at = open.From
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET site_id = $2, status = $3 WHERE id = $1`, deviceID, site, status); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE device_periods SET until_ms = $2 WHERE device_id = $1 AND until_ms IS NULL`,
		deviceID, at.UnixMilli()); err != nil {
		return err
	}
	return openPeriod(ctx, tx, deviceID, site, status, at)
}

// openPeriod starts the device's open period.
func openPeriod(ctx context.Context, tx *sql.Tx, deviceID, site string, status devices.Status, from time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO device_periods (device_id, site_id, status, from_ms) VALUES ($1, $2, $3, $4)`,
		deviceID, site, status, from.UnixMilli())
	return err
}

// DevicePeriods returns the periods of every device that overlap [from, to), by device and
// start; with deviceIDs, only those devices' periods.
func (s *Registry) DevicePeriods(ctx context.Context, from, to time.Time, deviceIDs ...string) ([]devices.Period, error) {
	q := `SELECT ` + periodColumns + ` FROM device_periods
		WHERE from_ms < $1 AND (until_ms IS NULL OR until_ms > $2)`
	args := []any{to.UnixMilli(), from.UnixMilli()}
	if len(deviceIDs) > 0 {
		q += ` AND device_id IN (` + placeholders(3, len(deviceIDs)) + `)`
		for _, id := range deviceIDs {
			args = append(args, id)
		}
	}
	out, err := queryAll(ctx, s.readers, q+` ORDER BY device_id, from_ms`, args, scanPeriod)
	if err != nil {
		return nil, fmt.Errorf("device periods: %w", err)
	}
	return out, nil
}

// placeholders returns "$first, $first+1, ..." for n parameters.
func placeholders(first, n int) string {
	b := make([]byte, 0, n*4)
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "$%d", first+i)
	}
	return string(b)
}

// DevicesChangedSince returns, by id, the devices whose row, periods or loans a registry change
// after version changed (the triggers of migration 0021 record them): all of them, or with a
// limit above 0, at most limit of them (any, when more changed). A device removed since is among them. Changes made before that
// migration are not: a reader of an older version must read every device again.
func (s *Registry) DevicesChangedSince(ctx context.Context, version int64, limit int) ([]string, error) {
	// By version, from its index, and sorted here: ordered by id, the store read every device's
	// row to find the few changed.
	q := `SELECT device_id FROM device_changes WHERE version > $1`
	args := []any{version}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	out, err := queryAll(ctx, s.readers, q, args, scanString)
	if err != nil {
		return nil, fmt.Errorf("devices changed since %d: %w", version, err)
	}
	slices.Sort(out)
	return out, nil
}
