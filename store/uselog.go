package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/usage"
)

// The log of counted uses (migration 0013): each row holds a group of uses, encoded as
//
//	version byte (1), uvarint count, then per use:
//	uvarint len(device), device, uvarint len(site), site, varint at (Unix ms), uvarint day (Day.Number)
//
// A row costs one insert however many uses it holds; that is what makes counting uses cheap.

const useLogVersion = 1

// Kinds of usage_log rows.
const (
	logUses   = "uses"   // uses to count and remember
	logKeys   = "keys"   // keys to remember (a rebuild's)
	logForget = "forget" // forget the keys of the days from_day..to_day
)

// maxKeysPerRow bounds the keys of one 'keys' row, so that a rebuild of a city's month does not
// make one row of hundreds of megabytes.
const maxKeysPerRow = 100_000

// logUse is a use as the log keeps it.
type logUse struct {
	device, site string
	at           int64 // Unix milliseconds
	day          int   // usage.Day.Number
}

// appendUseLog appends the encoding of uses to b.
func appendUseLog(b []byte, uses []logUse) []byte {
	b = append(b, useLogVersion)
	b = binary.AppendUvarint(b, uint64(len(uses)))
	for _, u := range uses {
		b = binary.AppendUvarint(b, uint64(len(u.device)))
		b = append(b, u.device...)
		b = binary.AppendUvarint(b, uint64(len(u.site)))
		b = append(b, u.site...)
		b = binary.AppendVarint(b, u.at)
		b = binary.AppendUvarint(b, uint64(u.day))
	}
	return b
}

var errUseLog = errors.New("usage log row is corrupt")

// decodeUseLog calls fn with each use encoded in b, in order.
func decodeUseLog(b []byte, fn func(logUse)) error {
	if len(b) == 0 || b[0] != useLogVersion {
		return fmt.Errorf("%w: version %v", errUseLog, b[:min(len(b), 1)])
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return errUseLog
	}
	b = b[k:]
	str := func() (string, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return "", false
		}
		s := string(b[k : k+int(l)])
		b = b[k+int(l):]
		return s, true
	}
	for range n {
		var u logUse
		var ok bool
		if u.device, ok = str(); !ok {
			return errUseLog
		}
		if u.site, ok = str(); !ok {
			return errUseLog
		}
		at, k := binary.Varint(b)
		if k <= 0 {
			return errUseLog
		}
		b = b[k:]
		day, k := binary.Uvarint(b)
		if k <= 0 {
			return errUseLog
		}
		b = b[k:]
		u.at, u.day = at, int(day)
		fn(u)
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last use", errUseLog, len(b))
	}
	return nil
}

// useKeys is a Store's copy of the keys of the uses counted in the deduplication window. mu
// orders this process's usage writes; the database orders them between processes (see
// beginUsageWrite).
type useKeys struct {
	mu   sync.Mutex
	keys *usage.KeySet // nil until the first usage write loads it
	seen int64         // the last usage_log row applied to keys
	buf  []byte        // the encoding of the row being written, reused
}

// beginUsageWrite begins a transaction that writes usage, holding the lock that orders usage
// writes between processes, so that usage_log rows are committed in the order of their seq.
// In SQLite that is the write lock, taken first with a write that changes nothing; in
// PostgreSQL a lock on usage_log that only usage writers take (readers never wait for it).
func (s *Store) beginUsageWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	lock := `UPDATE usage_folded SET seq = seq WHERE id < 0`
	if s.dialect == postgres {
		lock = `LOCK TABLE usage_log IN SHARE ROW EXCLUSIVE MODE`
	}
	if _, err := tx.ExecContext(ctx, lock); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// catchUp brings s.uses.keys up to the last row of usage_log, loading it first if need be.
// The caller holds s.uses.mu and a usage write transaction tx.
func (s *Store) catchUp(ctx context.Context, tx *sql.Tx) error {
	u := &s.uses
	if u.keys == nil {
		keys := usage.NewKeySet()
		// The keys recorded before migration 0013.
		err := eachRow(ctx, tx, `SELECT device_id, at_ms, day, recorded_ms FROM device_uses`, nil, func(sc scanner) error {
			var dev string
			var at, rec int64
			var day usage.Day
			if err := sc.Scan(&dev, &at, &day, &rec); err != nil {
				return err
			}
			n, ok := day.Number()
			if !ok {
				return fmt.Errorf("device_uses: use of %s at %d has day %q", dev, at, day)
			}
			keys.Add(dev, at, n, time.UnixMilli(rec))
			return nil
		})
		if err != nil {
			return fmt.Errorf("load use keys: %w", err)
		}
		u.keys, u.seen = keys, 0
	}
	return eachRow(ctx, tx, `SELECT seq, recorded_ms, kind, from_day, to_day, uses FROM usage_log WHERE seq > $1 ORDER BY seq`,
		[]any{u.seen}, func(sc scanner) error {
			var seq, rec int64
			var kind string
			var from, to sql.NullString
			var blob []byte
			if err := sc.Scan(&seq, &rec, &kind, &from, &to, &blob); err != nil {
				return err
			}
			recorded := time.UnixMilli(rec)
			if kind == logForget {
				f, ok1 := usage.Day(from.String).Number()
				t, ok2 := usage.Day(to.String).Number()
				if !ok1 || !ok2 {
					return fmt.Errorf("usage_log row %d forgets days %q..%q", seq, from.String, to.String)
				}
				u.keys.ForgetDays(f, t)
			} else if err := decodeUseLog(blob, func(l logUse) { u.keys.Add(l.device, l.at, l.day, recorded) }); err != nil {
				return fmt.Errorf("usage_log row %d: %w", seq, err)
			}
			u.seen = seq
			return nil
		})
}

// appendLog appends a row to usage_log in tx and returns its seq. The caller holds s.uses.mu.
func (s *Store) appendLog(ctx context.Context, tx *sql.Tx, kind string, from, to usage.Day, uses []logUse) (int64, error) {
	var f, t any
	if kind == logForget {
		f, t = string(from), string(to)
	}
	// About 30 bytes a use; the drivers copy the value, so the buffer serves the next row.
	s.uses.buf = appendUseLog(slices.Grow(s.uses.buf[:0], 32*len(uses)), uses)
	var seq int64
	err := tx.QueryRowContext(ctx, `INSERT INTO usage_log (recorded_ms, kind, from_day, to_day, keys, uses)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq`,
		s.now().UnixMilli(), kind, f, t, len(uses), s.uses.buf).Scan(&seq)
	if cap(s.uses.buf) > 8<<20 {
		s.uses.buf = nil // let a rebuild's large rows go
	}
	return seq, err
}

// fold adds the uses of the 'uses' rows not folded yet to device_usage, in tx (a usage write),
// marks every row of the log folded, and returns how many uses it added.
func (s *Store) fold(ctx context.Context, tx *sql.Tx) (int, error) {
	var folded, last int64
	if err := tx.QueryRowContext(ctx, `SELECT f.seq, COALESCE((SELECT MAX(seq) FROM usage_log), 0)
		FROM usage_folded f WHERE f.id = 1`).Scan(&folded, &last); err != nil {
		return 0, err
	}
	if last <= folded {
		return 0, nil
	}
	counts, n, err := s.pendingCounts(ctx, tx, folded, nil)
	if err != nil {
		return 0, err
	}
	if err := s.insertCounts(ctx, tx, counts,
		` ON CONFLICT (device_id, day, site_id) DO UPDATE SET uses = device_usage.uses + excluded.uses`); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE usage_folded SET seq = $1 WHERE id = 1`, last); err != nil {
		return 0, err
	}
	return n, nil
}

// pendingCounts returns the counts of the uses in the 'uses' rows after seq folded, of those
// keep selects (nil: all), and how many uses they count.
func (s *Store) pendingCounts(ctx context.Context, q querier, folded int64, keep func(logUse) bool) ([]usage.DayCount, int, error) {
	type key struct {
		device, site string
		day          int
	}
	sums := map[key]int{}
	n := 0
	err := eachRow(ctx, q, `SELECT seq, uses FROM usage_log WHERE seq > $1 AND kind = $2 ORDER BY seq`,
		[]any{folded, logUses}, func(sc scanner) error {
			var seq int64
			var blob []byte
			if err := sc.Scan(&seq, &blob); err != nil {
				return err
			}
			if err := decodeUseLog(blob, func(l logUse) {
				if keep == nil || keep(l) {
					sums[key{l.device, l.site, l.day}]++
					n++
				}
			}); err != nil {
				return fmt.Errorf("usage_log row %d: %w", seq, err)
			}
			return nil
		})
	if err != nil {
		return nil, 0, err
	}
	counts := make([]usage.DayCount, 0, len(sums))
	for k, c := range sums {
		counts = append(counts, usage.DayCount{Device: k.device, Site: k.site, Day: usage.DayNumbered(k.day), Uses: c})
	}
	return counts, n, nil
}

// eachRow runs a query and calls fn for each row.
func eachRow(ctx context.Context, q querier, query string, args []any, fn func(scanner) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
