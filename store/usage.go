package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/usage"
)

// Usage keeps the uses counted and the day counts they fold into. It holds the keys of recent
// uses in memory (uselog.go); several Usages over one database catch up with each other's.
type Usage struct {
	*DB
	uses     useKeys  // the keys of recently counted uses: uselog.go
	subjects subjects // the usage log's numbered subjects: uselog.go
}

// NewUsage returns a Usage over db.
func NewUsage(db *DB) *Usage { return &Usage{DB: db} }

// Usage is kept in device_usage, the count per device, site and local day (migration 0006), and
// usage_log, the uses recorded and not yet folded into those counts, and the keys of the
// deduplication window that make a use delivered again count once (migration 0013; uselog.go).
// Neither is part of the registry: writing them bumps no registry version and writes no audit
// row.

// rowsPerStatement bounds the rows of one multi-row INSERT, far under the parameter limits
// (SQLite 32,766, PostgreSQL 65,535) at 4 or 5 a row. PostgreSQL gains from fewer round trips up
// to a few hundred rows; SQLite (modernc) gains little beyond a hundred.
func (s *Usage) rowsPerStatement() int {
	if s.dialect == sqlite {
		return rowsPerStatementSQLite
	}
	return 256
}

// rowsPerStatementSQLite was measured: of 32, 128 and 500 rows, 128 cost least per use.
const rowsPerStatementSQLite = 128

// chunked runs a multi-row statement over n rows in tx, s.rowsPerStatement() rows at a time:
// query(k) is its text for k rows, and bind appends the parameters of rows [from, to) to args.
// The full-size statement is prepared once. With scan, the statement's result rows are passed
// to it.
func (s *Usage) chunked(ctx context.Context, tx *sql.Tx, n int, query func(rows int) string,
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

// maxZoneOffset is the farthest a time zone is from UTC (UTC+14, UTC-12).
const maxZoneOffset = 14 * time.Hour

// RecordUses counts uses, in one transaction: the uses whose device and measurement time are
// not yet recorded (within the deduplication window; see PruneUses) are added; the others, and
// repeats within uses, are ignored. It returns how many were added.
//
// The new uses go into one row of usage_log, and their keys into the Usage's memory, which it
// loads from the log on the first call; the counts per day are folded from the log later
// (FoldUses) and DayCounts adds what is not folded yet. So recording costs one insert per call,
// not one per use. Several Usages, in this process or others, may record uses into the same
// database: each reads the rows the others appended before it decides which uses are new.
func (s *Usage) RecordUses(ctx context.Context, uses []usage.Use) (added int, err error) {
	if len(uses) == 0 {
		return 0, nil
	}
	k := &s.uses
	k.mu.Lock()
	defer k.mu.Unlock()
	fresh := k.fresh[:0]
	defer func() {
		clear(fresh[:min(len(uses), cap(fresh))])
		if cap(fresh) > 4*usage.MaxGroup {
			fresh = nil // let a one-off huge call's buffer go
		}
		k.fresh = fresh[:0]
	}()
	for _, u := range uses {
		day, ok := u.Day.Number()
		if !ok {
			return 0, errcode.Errorf(errcode.Invalid, "record uses: use of %s at %s has day %q, not YYYY-MM-DD",
				u.Device, u.At.UTC().Format(time.RFC3339Nano), u.Day)
		}
		fresh = append(fresh, logUse{device: u.Device, site: u.Site, at: u.At.UnixMilli(), day: day})
	}
	tx, err := s.beginUsageWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("record uses: %w", err)
	}
	// Every call runs the same statements: catching up (which finds nothing new unless another
	// instance wrote) and the row's insert. They are prepared once, not parsed each time.
	q, end := s.prepared(ctx, tx)
	defer end()
	if err := s.catchUp(ctx, q); err != nil {
		return 0, fmt.Errorf("record uses: %w", err)
	}
	// The new uses' keys go into the set now, which also drops repeats within uses; they leave
	// it again if the transaction fails.
	recorded := s.now()
	n := 0
	for _, l := range fresh {
		if k.keys.Add(l.device, l.at, l.day, recorded) {
			fresh[n] = l
			n++
		}
	}
	fresh = fresh[:n]
	if n == 0 {
		return 0, nil
	}
	committed := false
	defer func() {
		if !committed {
			for _, l := range fresh {
				k.keys.Remove(l.device, l.at)
			}
		}
	}()
	num := s.subjects.numbering()
	seq, err := s.appendLog(ctx, tx, q, num, logUses, "", "", fresh)
	if err != nil {
		return 0, fmt.Errorf("record uses: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("record uses: %w", err)
	}
	committed = true
	k.seen = seq
	if _, err := s.subjects.add(num.first, num.added); err != nil {
		return n, fmt.Errorf("record uses: %w", err)
	}
	return n, nil
}

// FoldUses adds the uses recorded since the last fold to the counts per device and day, in
// one transaction, and returns how many. Counts read with DayCounts are the same before and
// after: folding keeps the log short, so that readers have little to add. The usage Recorder
// folds every few seconds.
func (s *Usage) FoldUses(ctx context.Context) (int, error) {
	tx, err := s.beginUsageWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("fold uses: %w", err)
	}
	defer tx.Rollback()
	n, err := s.fold(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("fold uses: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("fold uses: %w", err)
	}
	return n, nil
}

// insertCounts inserts counts into device_usage; tail is what to do with a count that exists.
func (s *Usage) insertCounts(ctx context.Context, tx *sql.Tx, counts []usage.DayCount, tail string) error {
	return s.chunked(ctx, tx, len(counts),
		func(rows int) string {
			return `INSERT INTO device_usage (device_id, site_id, day, uses) VALUES ` + s.dialect.values(rows, 4) + tail
		},
		func(args []any, from, to int) []any {
			for _, c := range counts[from:to] {
				args = append(args, c.Device, c.Site, string(c.Day), c.Uses)
			}
			return args
		}, nil)
}

// DayCounts returns the uses per device, site and day that q selects, ordered by device, day
// and site. A day without uses has no count. It reads the folded counts and the uses recorded
// since the last fold in one snapshot, so a fold running alongside changes nothing it returns.
func (s *Usage) DayCounts(ctx context.Context, q usage.Query) ([]usage.DayCount, error) {
	if err := q.Validate(); err != nil {
		return nil, errcode.Errorf(errcode.Invalid, "usage query: %v", err)
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.readers.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("day counts: %w", err)
	}
	defer tx.Rollback()
	out, err := s.dayCountsIn(ctx, tx, q)
	if err != nil {
		return nil, fmt.Errorf("day counts: %w", err)
	}
	return out, tx.Commit()
}

// dayCountsIn is DayCounts in tx.
func (s *Usage) dayCountsIn(ctx context.Context, tx *sql.Tx, q usage.Query) ([]usage.DayCount, error) {
	var folded int64
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM usage_folded WHERE id = 1`).Scan(&folded); err != nil {
		return nil, err
	}
	var wanted map[string]bool
	if len(q.Devices) > 0 {
		wanted = make(map[string]bool, len(q.Devices))
		for _, d := range q.Devices {
			wanted[d] = true
		}
	}
	from, _ := q.From.Number()
	to, _ := q.To.Number()
	pending, _, err := s.pendingCounts(ctx, tx, folded, func(l logUse) bool {
		return l.day >= from && l.day <= to && (q.Site == "" || l.site == q.Site) && (wanted == nil || wanted[l.device])
	})
	if err != nil {
		return nil, err
	}
	var out []usage.DayCount
	if len(q.Devices) == 0 {
		if out, err = s.dayCounts(ctx, tx, q, nil); err != nil {
			return nil, err
		}
	} else {
		// Devices in byte order, a statement's worth at a time: the results then follow one
		// another in the order the query sorts by.
		ids := slices.Clone(q.Devices)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		out = []usage.DayCount{}
		for start := 0; start < len(ids); start += devicesPerQuery {
			part, err := s.dayCounts(ctx, tx, q, ids[start:min(start+devicesPerQuery, len(ids))])
			if err != nil {
				return nil, err
			}
			out = append(out, part...)
		}
	}
	if len(pending) == 0 {
		return out, nil
	}
	return mergeCounts(out, pending), nil
}

// mergeCounts adds add to counts (ordered by device, day and site) and returns the sum in that
// order.
func mergeCounts(counts, add []usage.DayCount) []usage.DayCount {
	type key struct {
		device, site string
		day          usage.Day
	}
	at := make(map[key]int, len(counts))
	for i, c := range counts {
		at[key{c.Device, c.Site, c.Day}] = i
	}
	for _, c := range add {
		if i, ok := at[key{c.Device, c.Site, c.Day}]; ok {
			counts[i].Uses += c.Uses
		} else {
			counts = append(counts, c)
		}
	}
	slices.SortFunc(counts, func(a, b usage.DayCount) int {
		return cmp.Or(strings.Compare(a.Device, b.Device), strings.Compare(string(a.Day), string(b.Day)), strings.Compare(a.Site, b.Site))
	})
	return counts
}

// devicesPerQuery bounds the device ids of one DayCounts statement.
const devicesPerQuery = 1000

// dayCounts returns the folded counts q selects of the devices ids, or every device when ids is
// nil.
func (s *Usage) dayCounts(ctx context.Context, tx *sql.Tx, q usage.Query, ids []string) ([]usage.DayCount, error) {
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
	return queryAll(ctx, tx, `SELECT device_id, site_id, day, uses FROM device_usage`+w.sql()+
		` ORDER BY device_id, day, site_id`, w.args, func(sc scanner) (usage.DayCount, error) {
		var c usage.DayCount
		err := sc.Scan(&c.Device, &c.Site, &c.Day, &c.Uses)
		return c, err
	})
}

// ReplaceUsage makes counts and keys the whole usage of the days from to to, in one
// transaction: the counts stored for those days are deleted and the given ones inserted, and
// the keys of those days forgotten and the given ones remembered (recorded now). Every count
// and key must fall within the days, and a device, site and day may have one count. It is how
// a rebuild from InfluxDB lands.
func (s *Usage) ReplaceUsage(ctx context.Context, from, to usage.Day, counts []usage.DayCount, keys []usage.Use) error {
	if err := (usage.Query{From: from, To: to}).Validate(); err != nil {
		return errcode.Errorf(errcode.Invalid, "replace usage: %v", err)
	}
	for _, c := range counts {
		if c.Day < from || c.Day > to || c.Uses <= 0 {
			return errcode.Errorf(errcode.Invalid, "replace usage: count %+v is not a positive count within %s..%s", c, from, to)
		}
	}
	logged := make([]logUse, len(keys))
	for i, k := range keys {
		day, ok := k.Day.Number()
		if !ok || k.Day < from || k.Day > to {
			return errcode.Errorf(errcode.Invalid, "replace usage: use of %s at %s on %s is outside %s..%s",
				k.Device, k.At.UTC().Format(time.RFC3339Nano), k.Day, from, to)
		}
		logged[i] = logUse{device: k.Device, site: k.Site, at: k.At.UnixMilli(), day: day}
	}
	k := &s.uses
	k.mu.Lock()
	defer k.mu.Unlock()
	tx, err := s.beginUsageWrite(ctx)
	if err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	defer tx.Rollback()
	// The keys catch up first, so that what the log says next applies to all of them; and
	// the uses recorded so far are folded, so that the counts deleted are all there are.
	if err := s.catchUp(ctx, tx); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	if _, err := s.fold(ctx, tx); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_usage WHERE day >= $1 AND day <= $2`, string(from), string(to)); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	// Keys recorded before migration 0013, found by time: a local day lies within 14 hours of
	// the same day in UTC.
	first := from.Start(time.UTC).Add(-maxZoneOffset).UnixMilli()
	end := to.Start(time.UTC).AddDate(0, 0, 1).Add(maxZoneOffset).UnixMilli()
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_uses WHERE at_ms >= $1 AND at_ms < $2 AND day >= $3 AND day <= $4`,
		first, end, string(from), string(to)); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	if err := s.insertCounts(ctx, tx, counts, ""); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	if err := s.rebuildMonths(ctx, tx, from, to); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	num := s.subjects.numbering()
	seq, err := s.appendLog(ctx, tx, tx, num, logForget, from, to, nil)
	if err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	for start := 0; start < len(logged); start += maxKeysPerRow {
		if seq, err = s.appendLog(ctx, tx, tx, num, logKeys, "", "", logged[start:min(start+maxKeysPerRow, len(logged))]); err != nil {
			return fmt.Errorf("replace usage: %w", err)
		}
	}
	// Nothing after the fold counts: the rows just written are keys.
	if _, err := tx.ExecContext(ctx, `UPDATE usage_folded SET seq = $1 WHERE id = 1`, seq); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	if _, err := s.subjects.add(num.first, num.added); err != nil {
		return fmt.Errorf("replace usage: %w", err)
	}
	// The same change to the keys in memory as catchUp makes from the rows.
	f, _ := from.Number()
	t, _ := to.Number()
	k.keys.ForgetDays(f, t)
	recorded := s.now()
	for _, l := range logged {
		k.keys.Add(l.device, l.at, l.day, recorded)
	}
	k.seen = seq
	return nil
}

// PruneUses forgets the use keys recorded before recordedBefore (to the second), and returns
// how many. Their counts stay; a use delivered again after its key is forgotten would be
// counted again, so the window must outlast any redelivery (the broker's queue, a device's
// backlog). It folds first: only folded rows of the log are deleted.
func (s *Usage) PruneUses(ctx context.Context, recordedBefore time.Time) (int64, error) {
	cut := recordedBefore.Truncate(time.Second)
	k := &s.uses
	k.mu.Lock()
	defer k.mu.Unlock()
	tx, err := s.beginUsageWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune uses: %w", err)
	}
	defer tx.Rollback()
	if _, err := s.fold(ctx, tx); err != nil {
		return 0, fmt.Errorf("prune uses: %w", err)
	}
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT
		COALESCE((SELECT SUM(keys) FROM usage_log WHERE recorded_ms < $1 AND kind <> $2), 0) +
		(SELECT COUNT(*) FROM device_uses WHERE recorded_ms < $1)`, cut.UnixMilli(), logForget).Scan(&n); err != nil {
		return 0, fmt.Errorf("prune uses: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM usage_log WHERE recorded_ms < $1`, cut.UnixMilli()); err != nil {
		return 0, fmt.Errorf("prune uses: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_uses WHERE recorded_ms < $1`, cut.UnixMilli()); err != nil {
		return 0, fmt.Errorf("prune uses: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune uses: %w", err)
	}
	if k.keys != nil {
		k.keys.ForgetRecordedBefore(cut)
	}
	return n, nil
}
