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

// The log of counted uses (migration 0013): each row holds a group of uses. Rows are written
// in version 2 (migration 0016):
//
//	version byte (2), uvarint count, then per use:
//	uvarint subject (usage_subjects.id), varint at - the previous use's at (Unix ms),
//	varint day - the previous use's day (Day.Number); before the first use both are 0
//
// Rows of version 1, written before, spell out the device and site of each use:
//
//	version byte (1), uvarint count, then per use:
//	uvarint len(device), device, uvarint len(site), site, varint at (Unix ms), uvarint day (Day.Number)
//
// A row costs one insert however many uses it holds; that is what makes counting uses cheap.
// Version 2 takes about 7 bytes a use where version 1 took about 30: fewer bytes for SQLite to
// write, checkpoint and read back, which was most of what counting cost.

const (
	useLogV1      = 1
	useLogVersion = 2
)

// Kinds of usage_log rows.
const (
	logUses   = "uses"   // uses to count and remember
	logKeys   = "keys"   // keys to remember (a rebuild's)
	logForget = "forget" // forget the keys of the days from_day..to_day
)

// maxKeysPerRow bounds the keys of one 'keys' row, so that a rebuild of a city's month does not
// make one row of hundreds of megabytes.
const maxKeysPerRow = 100_000

// subject is what a use is counted for: a device at a site.
type subject struct{ device, site string }

// logUse is a use as the log keeps it.
type logUse struct {
	device, site string
	at           int64 // Unix milliseconds
	day          int   // usage.Day.Number
	id           int32 // the subject's id in usage_subjects; 0 in a row of version 1
}

// appendUseLog appends the encoding of uses, each with its subject's id, to b.
func appendUseLog(b []byte, uses []logUse) []byte {
	b = append(b, useLogVersion)
	b = binary.AppendUvarint(b, uint64(len(uses)))
	var at int64
	var day int
	for _, u := range uses {
		b = binary.AppendUvarint(b, uint64(u.id))
		b = binary.AppendVarint(b, u.at-at)
		b = binary.AppendVarint(b, int64(u.day-day))
		at, day = u.at, u.day
	}
	return b
}

var errUseLog = errors.New("usage log row is corrupt")

// decodeUseLog calls fn with each use encoded in b, in order. subjects are the subjects known,
// by id - 1; a use of version 2 gets its device and site from them, without copying.
func decodeUseLog(b []byte, subjects []subject, fn func(logUse)) error {
	if len(b) == 0 || (b[0] != useLogVersion && b[0] != useLogV1) {
		return fmt.Errorf("%w: version %v", errUseLog, b[:min(len(b), 1)])
	}
	version := b[0]
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return errUseLog
	}
	b = b[k:]
	uvarint := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	varint := func() (int64, bool) {
		v, k := binary.Varint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	str := func() (string, bool) {
		l, ok := uvarint()
		if !ok || uint64(len(b)) < l {
			return "", false
		}
		s := string(b[:l])
		b = b[l:]
		return s, true
	}
	var u logUse
	for range n {
		if version == useLogV1 {
			var ok1, ok2, ok3, ok4 bool
			u.device, ok1 = str()
			u.site, ok2 = str()
			u.at, ok3 = varint()
			day, ok4 := uvarint()
			if !ok1 || !ok2 || !ok3 || !ok4 {
				return errUseLog
			}
			u.day = int(day)
			fn(u)
			continue
		}
		id, ok1 := uvarint()
		dat, ok2 := varint()
		dday, ok3 := varint()
		if !ok1 || !ok2 || !ok3 {
			return errUseLog
		}
		if id == 0 || id > uint64(len(subjects)) {
			return fmt.Errorf("%w: subject %d is not in usage_subjects", errUseLog, id)
		}
		sub := subjects[id-1]
		u = logUse{device: sub.device, site: sub.site, at: u.at + dat, day: u.day + int(dday), id: int32(id)}
		fn(u)
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last use", errUseLog, len(b))
	}
	return nil
}

// subjects numbers the subjects the usage log names (usage_subjects). It only grows: ids are
// dense from 1, and a committed id names the same device and site for ever, in every process.
type subjects struct {
	mu   sync.RWMutex
	ids  map[subject]int32
	list []subject // list[id-1]
}

// known returns the subjects known, by id - 1. What it returns does not change.
func (s *subjects) known() []subject {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.list
}

// add makes more known, the subjects of the ids from first on, and returns the subjects known.
// Those already known are skipped: they are the same.
func (s *subjects) add(first int, more []subject) ([]subject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if first > len(s.list)+1 {
		return s.list, fmt.Errorf("usage subjects from id %d come after %d, with a gap", first, len(s.list))
	}
	if s.ids == nil {
		s.ids = make(map[subject]int32)
	}
	for i, sub := range more {
		if id := first + i; id > len(s.list) {
			s.list = append(s.list, sub)
			s.ids[sub] = int32(id)
		}
	}
	return s.list, nil
}

// numbering gives ids to the subjects of the uses of one usage write: the ids known, and the
// next ids to subjects new to the log, which the write inserts with the rows that name them and
// which become known when it commits (subjects.add(n.first, n.added)).
type numbering struct {
	s     *subjects
	first int // the id of the first new subject
	added []subject
	ids   map[subject]int32 // of added
}

// numbering starts the numbering of a usage write whose caller holds the usage write lock and
// has loaded the subjects committed so far.
func (s *subjects) numbering() *numbering {
	return &numbering{s: s, first: len(s.known()) + 1}
}

// number sets the id of each use's subject and returns the subjects it numbered first.
func (n *numbering) number(uses []logUse) []subject {
	from := len(n.added)
	n.s.mu.RLock()
	defer n.s.mu.RUnlock()
	for i := range uses {
		sub := subject{uses[i].device, uses[i].site}
		id, ok := n.s.ids[sub]
		if !ok {
			if id, ok = n.ids[sub]; !ok {
				if n.ids == nil {
					n.ids = make(map[subject]int32)
				}
				id = int32(n.first + len(n.added))
				n.added = append(n.added, sub)
				n.ids[sub] = id
			}
		}
		uses[i].id = id
	}
	return n.added[from:]
}

// loadSubjects makes known the subjects committed that q sees, and returns the subjects known.
func (s *Usage) loadSubjects(ctx context.Context, q querier) ([]subject, error) {
	known := s.subjects.known()
	var more []subject
	err := eachRow(ctx, q, `SELECT id, device_id, site_id FROM usage_subjects WHERE id > $1 ORDER BY id`,
		[]any{len(known)}, func(sc scanner) error {
			var id int
			var sub subject
			if err := sc.Scan(&id, &sub.device, &sub.site); err != nil {
				return err
			}
			if want := len(known) + len(more) + 1; id != want {
				return fmt.Errorf("usage_subjects: id %d where %d was expected", id, want)
			}
			more = append(more, sub)
			return nil
		})
	if err != nil || len(more) == 0 {
		return known, err
	}
	return s.subjects.add(len(known)+1, more)
}

// useKeys is a Usage's copy of the keys of the uses counted in the deduplication window. mu
// orders this process's usage writes; the database orders them between processes (see
// beginUsageWrite).
type useKeys struct {
	mu    sync.Mutex
	keys  *usage.KeySet // nil until the first usage write loads it
	seen  int64         // the last usage_log row applied to keys
	buf   []byte        // the encoding of the row being written, reused
	fresh []logUse      // the uses of a RecordUses call, reused
}

// beginUsageWrite begins a transaction that writes usage, holding the lock that orders usage
// writes between processes, so that usage_log rows are committed in the order of their seq.
// In SQLite that is the write lock, taken first with a write that changes nothing; in
// PostgreSQL a lock on usage_log that only usage writers take (readers never wait for it).
func (s *Usage) beginUsageWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	lock := takeUsageLock
	if s.dialect == postgres {
		lock = `LOCK TABLE usage_log IN SHARE ROW EXCLUSIVE MODE`
	}
	if err := s.execKept(ctx, tx, lock); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// takeUsageLock is beginUsageWrite's write that changes nothing, in SQLite.
const takeUsageLock = `UPDATE usage_folded SET seq = seq WHERE id < 0`

// catchUp brings s.uses.keys up to the last row of usage_log, loading it first if need be.
// The caller holds s.uses.mu and a usage write transaction, which tx queries.
func (s *Usage) catchUp(ctx context.Context, tx querier) error {
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
	subjects, err := s.loadSubjects(ctx, tx)
	if err != nil {
		return fmt.Errorf("load usage subjects: %w", err)
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
			} else if err := decodeUseLog(blob, subjects, func(l logUse) { u.keys.Add(l.device, l.at, l.day, recorded) }); err != nil {
				return fmt.Errorf("usage_log row %d: %w", seq, err)
			}
			u.seen = seq
			return nil
		})
}

// appendLog appends a row to usage_log in tx and returns its seq, numbering the subjects of
// uses with num and inserting those new to the log first; q queries tx, prepared or not. The
// caller holds s.uses.mu.
func (s *Usage) appendLog(ctx context.Context, tx *sql.Tx, q querier, num *numbering, kind string, from, to usage.Day, uses []logUse) (int64, error) {
	var f, t any
	if kind == logForget {
		f, t = string(from), string(to)
	}
	if added := num.number(uses); len(added) > 0 {
		first := num.first + len(num.added) - len(added)
		err := s.chunked(ctx, tx, len(added),
			func(rows int) string {
				return `INSERT INTO usage_subjects (id, device_id, site_id) VALUES ` + s.dialect.values(rows, 3)
			},
			func(args []any, from, to int) []any {
				for i, sub := range added[from:to] {
					args = append(args, first+from+i, sub.device, sub.site)
				}
				return args
			}, nil)
		if err != nil {
			return 0, err
		}
	}
	// About 7 bytes a use; the drivers copy the value, so the buffer serves the next row.
	s.uses.buf = appendUseLog(slices.Grow(s.uses.buf[:0], 8*len(uses)), uses)
	var seq int64
	err := q.QueryRowContext(ctx, `INSERT INTO usage_log (recorded_ms, kind, from_day, to_day, keys, uses)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq`,
		s.now().UnixMilli(), kind, f, t, len(uses), s.uses.buf).Scan(&seq)
	if cap(s.uses.buf) > 8<<20 {
		s.uses.buf = nil // let a rebuild's large rows go
	}
	return seq, err
}

// fold adds the uses of the 'uses' rows not folded yet to device_usage and to the monthly
// aggregate (usagemonths.go), in tx (a usage write), marks every row of the log folded, and
// returns how many uses it added.
func (s *Usage) fold(ctx context.Context, tx *sql.Tx) (int, error) {
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
	if err := s.foldMonths(ctx, tx, counts); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE usage_folded SET seq = $1 WHERE id = 1`, last); err != nil {
		return 0, err
	}
	return n, nil
}

// pendingCounts returns the counts of the uses in the 'uses' rows after seq folded, of those
// keep selects (nil: all), and how many uses they count.
func (s *Usage) pendingCounts(ctx context.Context, q querier, folded int64, keep func(logUse) bool) ([]usage.DayCount, int, error) {
	subjects, err := s.loadSubjects(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("load usage subjects: %w", err)
	}
	sums := newDaySums(subjects)
	err = eachRow(ctx, q, `SELECT seq, uses FROM usage_log WHERE seq > $1 AND kind = $2 ORDER BY seq`,
		[]any{folded, logUses}, func(sc scanner) error {
			var seq int64
			var blob []byte
			if err := sc.Scan(&seq, &blob); err != nil {
				return err
			}
			if err := decodeUseLog(blob, subjects, func(l logUse) {
				if keep == nil || keep(l) {
					sums.add(l)
				}
			}); err != nil {
				return fmt.Errorf("usage_log row %d: %w", seq, err)
			}
			return nil
		})
	if err != nil {
		return nil, 0, err
	}
	return sums.counts(), sums.n, nil
}

// daySums adds up uses per subject and day. A subject's uses in a fold are mostly of one or
// two days, so each keeps a short list of days, found by its id without hashing.
type daySums struct {
	subjects []subject
	byID     [][]dayUses // by subject id - 1
	touched  []int32     // the ids with uses, in the order first seen
	byName   map[logUse]int
	n        int
}

type dayUses struct{ day, uses int }

func newDaySums(subjects []subject) *daySums {
	return &daySums{subjects: subjects, byID: make([][]dayUses, len(subjects))}
}

// add adds one use, of a row of either version.
func (d *daySums) add(l logUse) {
	d.n++
	if l.id > 0 {
		d.addID(int(l.id), l.day)
		return
	}
	if d.byName == nil {
		d.byName = make(map[logUse]int)
	}
	d.byName[logUse{device: l.device, site: l.site, day: l.day}]++
}

func (d *daySums) addID(id, day int) {
	days := d.byID[id-1]
	for i := len(days) - 1; i >= 0; i-- {
		if days[i].day == day {
			days[i].uses++
			return
		}
	}
	if len(days) == 0 {
		d.touched = append(d.touched, int32(id))
	}
	d.byID[id-1] = append(days, dayUses{day, 1})
}

// counts returns the sums, in no order.
func (d *daySums) counts() []usage.DayCount {
	if d.byName == nil {
		d.byName = make(map[logUse]int, len(d.touched))
	}
	for _, id := range d.touched {
		sub := d.subjects[id-1]
		for _, du := range d.byID[id-1] {
			d.byName[logUse{device: sub.device, site: sub.site, day: du.day}] += du.uses
		}
	}
	out := make([]usage.DayCount, 0, len(d.byName))
	for k, c := range d.byName {
		out = append(out, usage.DayCount{Device: k.device, Site: k.site, Day: usage.DayNumbered(k.day), Uses: c})
	}
	return out
}

// pipeline runs produce on a goroutine of its own and consume on this one, with each item
// produce sends, in order, up to depth items behind. It returns consume's first error, else
// produce's; after an error of consume, produce's context is cancelled and its items dropped.
func pipeline[T any](ctx context.Context, depth int, produce func(ctx context.Context, send func(T) error) error, consume func(T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan T, depth)
	var produced error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(items)
		produced = produce(ctx, func(v T) error {
			select {
			case items <- v:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var consumed error
	for v := range items {
		if consumed == nil {
			if consumed = consume(v); consumed != nil {
				cancel()
			}
		}
	}
	<-done
	if consumed != nil {
		return consumed
	}
	return produced
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
