package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/usage"
)

// Usage is kept in two tables (migration 0006): device_uses holds the key of every use counted
// in the deduplication window, so that a use delivered again is not counted twice, and
// device_usage holds the count per device, site and local day. Neither is part of the registry:
// writing them bumps no registry version and writes no audit row. Migration 0008 orders the
// keys by time, then device, so that recording the uses of fresh readings appends to the table.

// rowsPerStatement bounds the rows of one multi-row INSERT, far under the parameter limits
// (SQLite 32,766, PostgreSQL 65,535) at 4 or 5 a row. PostgreSQL gains from fewer round trips up
// to a few hundred rows; SQLite (modernc) gains little beyond a hundred.
func (s *Store) rowsPerStatement() int {
	if s.dialect == sqlite {
		return rowsPerStatementSQLite
	}
	return 256
}

// rowsPerStatementSQLite was measured: of 32, 128 and 500 rows, 128 cost least per use.
const rowsPerStatementSQLite = 128

// values returns the VALUES list of rows rows of cols parameters each. SQLite gets anonymous
// "?" parameters: modernc looks up the name of every numbered parameter by a linear search,
// which makes a long statement with $n parameters cost in the square of its length.
func (s *Store) values(rows, cols int) string {
	var b strings.Builder
	b.Grow(rows * (cols*7 + 4))
	n := 1
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			if s.dialect == sqlite {
				b.WriteByte('?')
			} else {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(n))
			}
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// chunked runs a multi-row statement over n rows in tx, s.rowsPerStatement() rows at a time:
// query(k) is its text for k rows, and bind appends the parameters of rows [from, to) to args.
// The full-size statement is prepared once. With scan, the statement's result rows are passed
// to it.
func (s *Store) chunked(ctx context.Context, tx *sql.Tx, n int, query func(rows int) string,
	bind func(args []any, from, to int) []any, scan func(*sql.Rows) error) error {
	per := s.rowsPerStatement()
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, 5*min(n, per))
	for from := 0; from < n; from += per {
		to := min(from+per, n)
		args = bind(args[:0], from, to)
		var rows *sql.Rows
		var err error
		switch {
		case to-from < per:
			if scan == nil {
				_, err = tx.ExecContext(ctx, query(to-from), args...)
			} else {
				rows, err = tx.QueryContext(ctx, query(to-from), args...)
			}
		default:
			if full == nil {
				if full, err = tx.PrepareContext(ctx, query(per)); err != nil {
					return err
				}
			}
			if scan == nil {
				_, err = full.ExecContext(ctx, args...)
			} else {
				rows, err = full.QueryContext(ctx, args...)
			}
		}
		if err != nil {
			return err
		}
		if rows != nil {
			for rows.Next() {
				if err := scan(rows); err != nil {
					rows.Close()
					return err
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertNewUses is the statement that inserts rows use keys, ignoring those already there,
// and with returning, returns the inserted ones. In SQLite, OR IGNORE rather than ON CONFLICT
// DO NOTHING: a statement that cannot abort needs no statement journal, which makes it a
// quarter cheaper.
func (s *Store) insertNewUses(rows int, returning bool) string {
	var q string
	if s.dialect == sqlite {
		q = `INSERT OR IGNORE INTO device_uses (device_id, at_ms, site_id, day, recorded_ms) VALUES ` + s.values(rows, 5)
	} else {
		q = `INSERT INTO device_uses (device_id, at_ms, site_id, day, recorded_ms) VALUES ` + s.values(rows, 5) +
			` ON CONFLICT (device_id, at_ms) DO NOTHING`
	}
	if returning {
		q += ` RETURNING device_id, site_id, day`
	}
	return q
}

// bindUses appends the parameters of uses, recorded at recorded, for insertNewUses.
func bindUses(args []any, uses []usage.Use, recorded int64) []any {
	for i := range uses {
		u := &uses[i]
		args = append(args, u.Device, u.At.UnixMilli(), u.Site, string(u.Day), recorded)
	}
	return args
}

// maxZoneOffset is the farthest a time zone is from UTC (UTC+14, UTC-12).
const maxZoneOffset = 14 * time.Hour

type usageKey struct {
	device, site string
	day          usage.Day
}

// RecordUses counts uses, in one transaction: the uses whose device and measurement time are
// not yet recorded (within the deduplication window; see PruneUses) are added to their day's
// count; the others, and repeats within uses, are ignored. It returns how many were added.
func (s *Store) RecordUses(ctx context.Context, uses []usage.Use) (added int, err error) {
	if len(uses) == 0 {
		return 0, nil
	}
	// In key order (time, then device; migration 0008), each insert lands next to the one
	// before, on the same few pages.
	uses = slices.Clone(uses)
	slices.SortFunc(uses, func(a, b usage.Use) int {
		return cmp.Or(cmp.Compare(a.At.UnixMilli(), b.At.UnixMilli()), strings.Compare(a.Device, b.Device))
	})
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("record uses: %w", err)
	}
	defer tx.Rollback()
	counts := map[usageKey]int{}
	recorded := s.now().UnixMilli()
	err = s.chunked(ctx, tx, len(uses),
		func(rows int) string { return s.insertNewUses(rows, true) },
		func(args []any, from, to int) []any { return bindUses(args, uses[from:to], recorded) },
		func(rows *sql.Rows) error {
			var k usageKey
			if err := rows.Scan(&k.device, &k.site, &k.day); err != nil {
				return err
			}
			counts[k]++
			added++
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("record uses: %w", err)
	}
	add := make([]usage.DayCount, 0, len(counts))
	for k, n := range counts {
		add = append(add, usage.DayCount{Device: k.device, Site: k.site, Day: k.day, Uses: n})
	}
	if err := s.insertCounts(ctx, tx, add,
		` ON CONFLICT (device_id, day, site_id) DO UPDATE SET uses = device_usage.uses + excluded.uses`); err != nil {
		return 0, fmt.Errorf("record uses: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("record uses: %w", err)
	}
	return added, nil
}

// insertCounts inserts counts into device_usage; tail is what to do with a count that exists.
func (s *Store) insertCounts(ctx context.Context, tx *sql.Tx, counts []usage.DayCount, tail string) error {
	return s.chunked(ctx, tx, len(counts),
		func(rows int) string {
			return `INSERT INTO device_usage (device_id, site_id, day, uses) VALUES ` + s.values(rows, 4) + tail
		},
		func(args []any, from, to int) []any {
			for _, c := range counts[from:to] {
				args = append(args, c.Device, c.Site, string(c.Day), c.Uses)
			}
			return args
		}, nil)
}

// DayCounts returns the uses per device, site and day that q selects, ordered by device, day
// and site. A day without uses has no count.
func (s *Store) DayCounts(ctx context.Context, q usage.Query) ([]usage.DayCount, error) {
	if err := q.Validate(); err != nil {
		return nil, devices.Errorf(devices.Invalid, "usage query: %v", err)
	}
	if len(q.Devices) == 0 {
		return s.dayCounts(ctx, q, nil)
	}
	// Devices in byte order, a statement's worth at a time: the results then follow one another
	// in the order the query sorts by.
	ids := slices.Clone(q.Devices)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := []usage.DayCount{}
	for start := 0; start < len(ids); start += devicesPerQuery {
		part, err := s.dayCounts(ctx, q, ids[start:min(start+devicesPerQuery, len(ids))])
		if err != nil {
			return nil, err
		}
		out = append(out, part...)
	}
	return out, nil
}

// devicesPerQuery bounds the device ids of one DayCounts statement.
const devicesPerQuery = 1000

// dayCounts is DayCounts for the devices ids, or every device when ids is nil.
func (s *Store) dayCounts(ctx context.Context, q usage.Query, ids []string) ([]usage.DayCount, error) {
	var w where
	w.add("day >= ?", string(q.From))
	w.add("day <= ?", string(q.To))
	if q.Site != "" {
		w.add("site_id = ?", q.Site)
	}
	if len(ids) > 0 {
		marks := make([]string, len(ids))
		for i, d := range ids {
			marks[i] = w.arg(d)
		}
		w.conds = append(w.conds, "device_id IN ("+strings.Join(marks, ", ")+")")
	}
	out, err := queryAll(ctx, s.db, `SELECT device_id, site_id, day, uses FROM device_usage`+w.sql()+
		` ORDER BY device_id, day, site_id`, w.args, func(sc scanner) (usage.DayCount, error) {
		var c usage.DayCount
		err := sc.Scan(&c.Device, &c.Site, &c.Day, &c.Uses)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("day counts: %w", err)
	}
	return out, nil
}

// ReplaceUsage makes counts and keys the whole usage of the days from to to, in one
// transaction: the counts and use keys stored for those days are deleted and the given ones
// inserted (their use keys recorded now). Every count and key must fall within the days, and
// a device, site and day may have one count. It is how a rebuild from InfluxDB lands.
func (s *Store) ReplaceUsage(ctx context.Context, from, to usage.Day, counts []usage.DayCount, keys []usage.Use) error {
	if err := (usage.Query{From: from, To: to}).Validate(); err != nil {
		return devices.Errorf(devices.Invalid, "replace usage: %v", err)
	}
	for _, c := range counts {
		if c.Day < from || c.Day > to || c.Uses <= 0 {
			return devices.Errorf(devices.Invalid, "replace usage: count %+v is not a positive count within %s..%s", c, from, to)
		}
	}
	for _, k := range keys {
		if k.Day < from || k.Day > to {
			return devices.Errorf(devices.Invalid, "replace usage: use of %s at %s on %s is outside %s..%s",
				k.Device, k.At.UTC().Format(time.RFC3339Nano), k.Day, from, to)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_usage WHERE day >= $1 AND day <= $2`, string(from), string(to)); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	// The keys are found by time: a local day lies within 14 hours of the same day in UTC.
	first := from.Start(time.UTC).Add(-maxZoneOffset).UnixMilli()
	end := to.Start(time.UTC).AddDate(0, 0, 1).Add(maxZoneOffset).UnixMilli()
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_uses WHERE at_ms >= $1 AND at_ms < $2 AND day >= $3 AND day <= $4`,
		first, end, string(from), string(to)); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	if err := s.insertCounts(ctx, tx, counts, ""); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	// A key may exist already for a day outside the period (its site's time zone changed); it
	// keeps that day.
	recorded := s.now().UnixMilli()
	err = s.chunked(ctx, tx, len(keys),
		func(rows int) string { return s.insertNewUses(rows, false) },
		func(args []any, from, to int) []any { return bindUses(args, keys[from:to], recorded) }, nil)
	if err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	return nil
}

// PruneUses forgets the use keys recorded before recordedBefore, and returns how many. Their
// counts stay; a use delivered again after its key is forgotten would be counted again, so the
// window must outlast any redelivery (the broker's queue, a device's backlog).
func (s *Store) PruneUses(ctx context.Context, recordedBefore time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM device_uses WHERE recorded_ms < $1`, recordedBefore.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("prune uses: %w", err)
	}
	return res.RowsAffected()
}
