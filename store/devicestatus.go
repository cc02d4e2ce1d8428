package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/devices/status"
)

// DeviceStatus keeps the devices' live state that each instance's tracker (package
// devices/status) saves every few seconds, for the others and for the next start (migrations
// 0017 and 0018): each save is a row of device_status_log, and the rows older than a few
// minutes are folded into one row per device (device_status) and per device and hour
// (device_status_hours). It is not part of the registry: writing it bumps no registry version
// and writes no audit row.
type DeviceStatus struct{ *DB }

// NewDeviceStatus returns a DeviceStatus over db.
func NewDeviceStatus(db *DB) *DeviceStatus { return &DeviceStatus{db} }

// deviceStatusRows bounds the rows of one multi-row statement: 14 parameters a row stay far
// under both dialects' limits.
const deviceStatusRows = 200

// mergeNewer is the SET of one field of device_status that the newer time wins: the value of
// col when excluded's time column at is newer than the row's.
func mergeNewer(col, at string) string {
	return col + ` = CASE WHEN excluded.` + at + ` > device_status.` + at + ` THEN excluded.` + col + ` ELSE device_status.` + col + ` END`
}

// upsertDeviceStatus merges rows into device_status field by field, as status.Record.Merge
// does; the rows are marked with the fold's number.
var upsertDeviceStatus = `INSERT INTO device_status (device_id, last_message_ms, last_telemetry_ms, battery, battery_ms,
	signal, signal_ms, firmware, firmware_ms, clock_offset_ms, clock_offset_at_ms, event, event_ms, rev) VALUES %s
	ON CONFLICT (device_id) DO UPDATE SET ` + strings.Join([]string{
	mergeNewer("last_message_ms", "last_message_ms"), mergeNewer("last_telemetry_ms", "last_telemetry_ms"),
	mergeNewer("battery", "battery_ms"), mergeNewer("battery_ms", "battery_ms"),
	mergeNewer("signal", "signal_ms"), mergeNewer("signal_ms", "signal_ms"),
	mergeNewer("firmware", "firmware_ms"), mergeNewer("firmware_ms", "firmware_ms"),
	mergeNewer("clock_offset_ms", "clock_offset_at_ms"), mergeNewer("clock_offset_at_ms", "clock_offset_at_ms"),
	mergeNewer("event", "event_ms"), mergeNewer("event_ms", "event_ms"),
	"rev = excluded.rev"}, ", ")

// addDeviceHours adds counts to device_status_hours.
const addDeviceHours = `INSERT INTO device_status_hours (device_id, hour, readings, dead_letters, rev) VALUES %s
	ON CONFLICT (device_id, hour) DO UPDATE SET readings = device_status_hours.readings + excluded.readings,
	dead_letters = device_status_hours.dead_letters + excluded.dead_letters, rev = excluded.rev`

// AppendDeviceStatus saves recs as one row of device_status_log, numbered by
// device_status_rev. Taking the number also makes the saves (and folds) of every instance wait
// for each other, so that they commit in the order of their numbers and a reader that has read
// up to n has missed nothing below it (PostgreSQL holds the row lock, SQLite its write lock, to
// the commit).
func (s *DeviceStatus) AppendDeviceStatus(ctx context.Context, instance string, recs []status.Record) error {
	if len(recs) == 0 {
		return nil
	}
	body := appendStatusRecords(make([]byte, 0, 64*len(recs)), recs)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save device status: %w", err)
	}
	defer tx.Rollback()
	var rev int64
	if err := tx.QueryRowContext(ctx, `UPDATE device_status_rev SET rev = rev + 1 WHERE id = 1 RETURNING rev`).Scan(&rev); err != nil {
		return fmt.Errorf("save device status: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO device_status_log (rev, instance, saved_ms, records) VALUES ($1, $2, $3, $4)`,
		rev, instance, s.now().UnixMilli(), body); err != nil {
		return fmt.Errorf("save device status: %w", err)
	}
	return tx.Commit()
}

// readSnapshot begins a read-only transaction that sees one snapshot (PostgreSQL's read
// committed would give each statement its own; SQLite's single connection sees one).
func (s *DeviceStatus) readSnapshot(ctx context.Context) (*sql.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return s.db.BeginTx(ctx, opts)
}

// logRows reads the rows of device_status_log after rev after, in order.
func logRows(ctx context.Context, tx *sql.Tx, after int64) ([]status.LogEntry, error) {
	var out []status.LogEntry
	err := eachRow(ctx, tx, `SELECT rev, instance, records FROM device_status_log WHERE rev > $1 ORDER BY rev`, []any{after},
		func(sc scanner) error {
			var rev int64
			var e status.LogEntry
			var body []byte
			if err := sc.Scan(&rev, &e.Instance, &body); err != nil {
				return err
			}
			recs, err := decodeStatusRecords(body)
			if err != nil {
				return fmt.Errorf("row %d: %w", rev, err)
			}
			e.Records = recs
			out = append(out, e)
			return nil
		})
	return out, err
}

// DeviceStatusLog returns the rows of device_status_log after rev after, oldest first, and the
// number to pass next time; status.ErrFolded when rows after it have been folded away.
func (s *DeviceStatus) DeviceStatusLog(ctx context.Context, after int64) ([]status.LogEntry, int64, error) {
	tx, err := s.readSnapshot(ctx)
	if err != nil {
		return nil, after, fmt.Errorf("read device status log: %w", err)
	}
	defer tx.Rollback()
	var upTo, folded int64
	if err := tx.QueryRowContext(ctx, `SELECT rev, folded FROM device_status_rev WHERE id = 1`).Scan(&upTo, &folded); err != nil {
		return nil, after, fmt.Errorf("read device status log: %w", err)
	}
	if folded > after {
		return nil, after, status.ErrFolded
	}
	if upTo <= after {
		return nil, upTo, tx.Commit()
	}
	out, err := logRows(ctx, tx, after)
	if err != nil {
		return nil, after, fmt.Errorf("read device status log: %w", err)
	}
	return out, upTo, tx.Commit()
}

// LoadDeviceStatus returns every folded record, with its hour counts from hour fromHour on,
// then the records of the log's rows not yet folded, and the number of the last row.
func (s *DeviceStatus) LoadDeviceStatus(ctx context.Context, fromHour int64) ([]status.Record, int64, error) {
	tx, err := s.readSnapshot(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("load device status: %w", err)
	}
	defer tx.Rollback()
	var upTo, folded int64
	if err := tx.QueryRowContext(ctx, `SELECT rev, folded FROM device_status_rev WHERE id = 1`).Scan(&upTo, &folded); err != nil {
		return nil, 0, fmt.Errorf("load device status: %w", err)
	}
	var out []status.Record
	index := map[string]int{}
	err = eachRow(ctx, tx, `SELECT device_id, last_message_ms, last_telemetry_ms, battery, battery_ms, signal, signal_ms,
		firmware, firmware_ms, clock_offset_ms, clock_offset_at_ms, event, event_ms FROM device_status`, nil, func(sc scanner) error {
		var r status.Record
		var ev string
		if err := sc.Scan(&r.Device, &r.LastMessage, &r.LastTelemetry, &r.Battery, &r.BatteryAt, &r.Signal, &r.SignalAt,
			&r.Firmware, &r.FirmwareAt, &r.ClockOffset, &r.ClockOffsetAt, &ev, &r.EventAt); err != nil {
			return err
		}
		r.Event = status.Event(ev)
		index[r.Device] = len(out)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("load device status: %w", err)
	}
	err = eachRow(ctx, tx, `SELECT device_id, hour, readings, dead_letters FROM device_status_hours
		WHERE hour >= $1 ORDER BY device_id, hour`, []any{fromHour}, func(sc scanner) error {
		var dev string
		var h status.Hour
		if err := sc.Scan(&dev, &h.Hour, &h.Readings, &h.DeadLetters); err != nil {
			return err
		}
		i, ok := index[dev]
		if !ok {
			i = len(out)
			index[dev] = i
			out = append(out, status.Record{Device: dev})
		}
		out[i].Hours = append(out[i].Hours, h)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("load device status hours: %w", err)
	}
	entries, err := logRows(ctx, tx, folded)
	if err != nil {
		return nil, 0, fmt.Errorf("load device status log: %w", err)
	}
	for _, e := range entries {
		out = append(out, e.Records...)
	}
	return out, upTo, tx.Commit()
}

// FoldDeviceStatus folds the rows of device_status_log saved more than olderThan ago (and any
// before them) into device_status and device_status_hours, in one transaction that holds the
// numbering lock: each field is kept with the newer of its time and the folded one's, and the
// hour counts are added. The folded rows are deleted.
func (s *DeviceStatus) FoldDeviceStatus(ctx context.Context, olderThan time.Duration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("fold device status: %w", err)
	}
	defer tx.Rollback()
	var rev, folded int64
	if err := tx.QueryRowContext(ctx, `UPDATE device_status_rev SET rev = rev WHERE id = 1 RETURNING rev, folded`).Scan(&rev, &folded); err != nil {
		return fmt.Errorf("fold device status: %w", err)
	}
	var upTo int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(rev), 0) FROM device_status_log WHERE saved_ms < $1`,
		s.now().Add(-olderThan).UnixMilli()).Scan(&upTo); err != nil {
		return fmt.Errorf("fold device status: %w", err)
	}
	if upTo <= folded {
		return tx.Commit()
	}
	// Each row is merged in as it is read: a fold of a city's minute holds one record a device,
	// not every record of every row.
	var f statusFold
	err = eachRow(ctx, tx, `SELECT rev, records FROM device_status_log WHERE rev > $1 AND rev <= $2 ORDER BY rev`, []any{folded, upTo},
		func(sc scanner) error {
			var n int64
			var body []byte
			if err := sc.Scan(&n, &body); err != nil {
				return err
			}
			recs, err := decodeStatusRecords(body)
			if err != nil {
				return fmt.Errorf("row %d: %w", n, err)
			}
			f.add(recs)
			return nil
		})
	if err != nil {
		return fmt.Errorf("fold device status: %w", err)
	}
	if err := s.foldRecords(ctx, tx, &f, upTo); err != nil {
		return fmt.Errorf("fold device status: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_status_log WHERE rev <= $1`, upTo); err != nil {
		return fmt.Errorf("fold device status: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE device_status_rev SET folded = $1 WHERE id = 1`, upTo); err != nil {
		return fmt.Errorf("fold device status: %w", err)
	}
	return tx.Commit()
}

// foldRecords merges f's records into device_status field by field, the newer time winning,
// and adds its hour counts to device_status_hours, in tx; the rows are marked with the fold's
// rev.
func (s *DeviceStatus) foldRecords(ctx context.Context, tx *sql.Tx, f *statusFold, rev int64) error {
	recs := f.recs
	if len(recs) == 0 {
		return nil
	}
	err := s.inChunks(ctx, tx, upsertDeviceStatus, 14, len(recs), func(args []any, i int) []any {
		r := recs[i]
		return append(args, r.Device, r.LastMessage, r.LastTelemetry, r.Battery, r.BatteryAt, r.Signal, r.SignalAt,
			r.Firmware, r.FirmwareAt, r.ClockOffset, r.ClockOffsetAt, string(r.Event), r.EventAt, rev)
	})
	if err != nil {
		return err
	}
	type deviceHour struct {
		device string
		count  status.Hour
	}
	hours := make([]deviceHour, 0, f.hours)
	for _, r := range recs {
		for _, h := range r.Hours {
			hours = append(hours, deviceHour{r.Device, h})
		}
	}
	return s.inChunks(ctx, tx, addDeviceHours, 5, len(hours), func(args []any, i int) []any {
		h := &hours[i]
		return append(args, h.device, h.count.Hour, h.count.Readings, h.count.DeadLetters, rev)
	})
}

// statusFold merges records into one a device (Record.Merge), each hour's counts added: a
// statement may not change a row twice. Each device's record is allocated once, so that the
// fold of a city's minute holds one record a device and copies none as it grows.
type statusFold struct {
	byDevice map[string]*status.Record
	recs     []*status.Record // in the order first seen
	hours    int              // of all the records
}

// add merges recs in; it keeps their hours' slices.
func (f *statusFold) add(recs []status.Record) {
	if f.byDevice == nil {
		f.byDevice = map[string]*status.Record{}
	}
	for i := range recs {
		r := &recs[i]
		m, ok := f.byDevice[r.Device]
		hs := r.Hours
		if ok {
			m.Merge(r)
		} else {
			// The record is taken whole; its hours are merged into its own slice, in place.
			m = new(status.Record)
			*m = *r
			m.Hours = hs[:0]
			f.byDevice[m.Device] = m
			f.recs = append(f.recs, m)
		}
		n := len(m.Hours)
		for _, h := range hs {
			m.Hours = status.AddHour(m.Hours, h)
		}
		f.hours += len(m.Hours) - n
	}
}

// inChunks runs query, whose %s is a VALUES list, over n rows of cols parameters in tx, at most
// deviceStatusRows at a time; bind appends the parameters of row i.
func (s *DeviceStatus) inChunks(ctx context.Context, tx *sql.Tx, query string, cols, n int, bind func(args []any, i int) []any) error {
	args := make([]any, 0, cols*min(n, deviceStatusRows))
	full := "" // the statement of a full chunk, written once
	for from := 0; from < n; from += deviceStatusRows {
		to := min(from+deviceStatusRows, n)
		args = args[:0]
		for i := from; i < to; i++ {
			args = bind(args, i)
		}
		q := full
		if to-from < deviceStatusRows || q == "" {
			q = fmt.Sprintf(query, s.dialect.values(to-from, cols))
			if to-from == deviceStatusRows {
				full = q
			}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// PruneDeviceStatusHours deletes the hour counts of hours before before.
func (s *DeviceStatus) PruneDeviceStatusHours(ctx context.Context, before int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM device_status_hours WHERE hour < $1`, before); err != nil {
		return fmt.Errorf("prune device status hours: %w", err)
	}
	return nil
}
