package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// RecordPastMaintenance records that the device was under repair (maintenance) from from until
// until, both in the past, at the site where it then was: an import of its history, such as
// `vitalwatch registry import` of a maintenance.csv. The active period that holds [from, until)
// is split in three: active until from, maintenance from..until, active again from until. So
// the repair must lie inside the device's time in service, within one active period (it
// overlaps no other repair, move or retirement, and does not start before the device entered
// service), and the device's current site and status stay as they are. The audit log records
// it as an import of history. Anything else is Invalid, saying why.
func (s *Registry) RecordPastMaintenance(ctx context.Context, deviceID string, from, until time.Time) error {
	from, until = from.Truncate(time.Millisecond), until.Truncate(time.Millisecond)
	when := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch {
	case from.IsZero() || until.IsZero():
		return errcode.Errorf(errcode.Invalid, "a repair needs its from and its until")
	case !from.Before(until):
		return errcode.FieldErrorf(errcode.Invalid, "until", "the repair ends (%s) before it starts (%s)", when(until), when(from))
	case until.After(s.now()):
		return errcode.FieldErrorf(errcode.Invalid, "until", "the repair ends (%s) in the future: only a past repair is history", when(until))
	}
	return s.change(ctx, "device.history_import", "device/"+deviceID, func(tx *sql.Tx) (any, error) {
		if err := mustFind(ctx, tx, "device", deviceID, `SELECT 1 FROM devices WHERE id = $1`); err != nil {
			return nil, onField("device", err)
		}
		// The periods that overlap [from, until), or touch it at its start: the one holding it.
		ps, err := queryAll(ctx, tx, `SELECT `+periodColumns+` FROM device_periods
			WHERE device_id = $1 AND from_ms < $2 AND (until_ms IS NULL OR until_ms > $3) ORDER BY from_ms`,
			[]any{deviceID, until.UnixMilli(), from.UnixMilli()}, scanPeriod)
		if err != nil {
			return nil, err
		}
		switch {
		case len(ps) == 0 || ps[0].From.After(from):
			first, err := getOne(ctx, tx, "device period", deviceID,
				`SELECT `+periodColumns+` FROM device_periods WHERE device_id = $1 ORDER BY from_ms LIMIT 1`, scanPeriod)
			if err != nil {
				return nil, err
			}
			return nil, errcode.FieldErrorf(errcode.Invalid, "from", "device %s entered service at %s, after the repair starts (%s)",
				deviceID, when(first.From), when(from))
		case len(ps) > 1 || ps[0].Status != devices.Active:
			p := ps[0]
			if p.Status == devices.Active {
				p = ps[1]
			}
			end := "on"
			if !p.Until.IsZero() {
				end = "until " + when(p.Until)
			}
			return nil, errcode.Errorf(errcode.Invalid, "device %s was %s at %s from %s %s, which the repair %s..%s overlaps: a past repair must lie within one time the device was active",
				deviceID, p.Status, p.SiteID, when(p.From), end, when(from), when(until))
		}
		p := ps[0]
		if p.From.Equal(from) { // under repair from its first moment: no active part before
			if _, err := tx.ExecContext(ctx, `UPDATE device_periods SET status = $3, until_ms = $4 WHERE device_id = $1 AND from_ms = $2`,
				deviceID, p.From.UnixMilli(), devices.Maintenance, until.UnixMilli()); err != nil {
				return nil, err
			}
		} else {
			if _, err := tx.ExecContext(ctx, `UPDATE device_periods SET until_ms = $3 WHERE device_id = $1 AND from_ms = $2`,
				deviceID, p.From.UnixMilli(), from.UnixMilli()); err != nil {
				return nil, err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO device_periods (device_id, site_id, status, from_ms, until_ms) VALUES ($1, $2, $3, $4, $5)`,
				deviceID, p.SiteID, devices.Maintenance, from.UnixMilli(), until.UnixMilli()); err != nil {
				return nil, err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_periods (device_id, site_id, status, from_ms, until_ms) VALUES ($1, $2, $3, $4, $5)`,
			deviceID, p.SiteID, devices.Active, until.UnixMilli(), millis(p.Until)); err != nil {
			return nil, err
		}
		return struct {
			Imported string         `json:"imported"`
			Site     string         `json:"site"`
			Status   devices.Status `json:"status"`
			From     time.Time      `json:"from"`
			Until    time.Time      `json:"until"`
		}{"history", p.SiteID, devices.Maintenance, from.UTC(), until.UTC()}, nil
	})
}
