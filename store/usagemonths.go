package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The monthly aggregate of usage (migration 0019): usage_months has one row per local month and
// site, holding every device's uses there on each day of the month. Utilisation over months
// reads one row per site and month instead of one day count per device and day (a city's
// quarter: 3,000 rows instead of 7 million). It is kept in step with device_usage: each fold
// merges the uses it folds into the rows of their months and sites, in the same transaction,
// and ReplaceUsage rebuilds the months it replaces days of. A row's uses column is:
//
//	per device, in byte order of its id:
//	  1 byte: the length of the device id (1-255), then the id
//	  4 bytes, big-endian: the days of the month with uses, bit d-1 for day d
//	  for each of those days in order, its uses: 2 bytes big-endian, or when 65535 or more
//	  0xFFFF and then 4 bytes
//
// a layout that SQL can write too, from hexadecimal (monthsFromDayCounts), so that the migration
// fills the table from the day counts already stored.

// maxDeviceIDBytes is the longest device id the aggregate can hold; ids are at most 64.
const maxDeviceIDBytes = 255

var errMonthRow = errors.New("usage_months row is corrupt")

// monthDevice is one device's uses in a month, day by day (index 0 is day 1).
type monthDevice struct {
	device string
	uses   [31]int64
}

// appendMonthDevice appends the encoding of one device's month to b.
func appendMonthDevice(b []byte, d *monthDevice) []byte {
	var days uint32
	for i, u := range d.uses {
		if u > 0 {
			days |= 1 << i
		}
	}
	if days == 0 {
		return b
	}
	b = append(b, byte(len(d.device)))
	b = append(b, d.device...)
	b = binary.BigEndian.AppendUint32(b, days)
	for _, u := range d.uses {
		switch {
		case u <= 0:
		case u < 0xFFFF:
			b = binary.BigEndian.AppendUint16(b, uint16(u))
		default:
			b = binary.BigEndian.AppendUint16(b, 0xFFFF)
			b = binary.BigEndian.AppendUint32(b, uint32(min(u, 1<<32-1)))
		}
	}
	return b
}

// decodeMonthRow calls fn with each device of a row: its id and the uses of its days, both
// valid during the call only.
func decodeMonthRow(b []byte, fn func(device []byte, days uint32, uses []int32)) error {
	return eachMonthDevice(b, func(device []byte, days uint32, uses []int32, _ []byte) bool {
		fn(device, days, uses)
		return true
	})
}

// eachMonthDevice calls fn with each device of a row, as decodeMonthRow does, and with the
// device's encoding in the row, until fn returns false.
func eachMonthDevice(b []byte, fn func(device []byte, days uint32, uses []int32, enc []byte) bool) error {
	var uses [32]int32
	for len(b) > 0 {
		start := b
		n := int(b[0])
		if n == 0 || len(b) < 1+n+4 {
			return errMonthRow
		}
		device := b[1 : 1+n]
		days := binary.BigEndian.Uint32(b[1+n:])
		b = b[1+n+4:]
		k := bits.OnesCount32(days)
		for i := range k {
			if len(b) < 2 {
				return errMonthRow
			}
			u := uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
			if u == 0xFFFF {
				if len(b) < 4 {
					return errMonthRow
				}
				u = binary.BigEndian.Uint32(b)
				b = b[4:]
			}
			uses[i] = int32(min(u, 1<<31-1))
		}
		if !fn(device, days, uses[:k], start[:len(start)-len(b)]) {
			return nil
		}
	}
	return nil
}

// mergeMonthRow returns the row b with the day counts add (of the row's month and site) added.
// It walks the row and the devices to add in byte order together: a device with nothing to
// add is copied as it is encoded, so that a fold costs about a copy of each row it touches
// (a site's month holds thousands of devices; a fold adds to some of them), not decoding and
// encoding every device. A row out of order (none that this package writes) is merged by
// mergeMonthRowSorting.
func mergeMonthRow(b []byte, add []usage.DayCount) ([]byte, error) {
	adds := monthAdds(add)
	out := make([]byte, 0, len(b)+len(adds)*24)
	j := 0
	var prev []byte
	inOrder := true
	err := eachMonthDevice(b, func(device []byte, days uint32, uses []int32, enc []byte) bool {
		if prev != nil && bytes.Compare(prev, device) >= 0 {
			inOrder = false
			return false
		}
		prev = device
		for j < len(adds) && adds[j].device < string(device) {
			out = appendMonthDevice(out, &adds[j])
			j++
		}
		if j < len(adds) && adds[j].device == string(device) {
			d := &adds[j]
			i := 0
			for ds := days; ds != 0; ds &= ds - 1 {
				d.uses[bits.TrailingZeros32(ds)] += int64(uses[i])
				i++
			}
			out = appendMonthDevice(out, d)
			j++
			return true
		}
		out = append(out, enc...)
		return true
	})
	if err != nil {
		return nil, err
	}
	if !inOrder {
		return mergeMonthRowSorting(b, add)
	}
	for ; j < len(adds); j++ {
		out = appendMonthDevice(out, &adds[j])
	}
	return out, nil
}

// monthAdds returns the day counts of add, of one month, summed by device, in byte order of
// their ids; malformed counts are left out.
func monthAdds(add []usage.DayCount) []monthDevice {
	var out []monthDevice
	at := make(map[string]int, len(add))
	for _, c := range add {
		day := dayOfMonth(c.Day)
		if day == 0 || c.Uses <= 0 || len(c.Device) > maxDeviceIDBytes || c.Device == "" {
			continue
		}
		i, ok := at[c.Device]
		if !ok {
			i = len(out)
			at[c.Device] = i
			out = append(out, monthDevice{device: c.Device})
		}
		out[i].uses[day-1] += int64(c.Uses)
	}
	slices.SortFunc(out, func(a, b monthDevice) int { return strings.Compare(a.device, b.device) })
	return out
}

// mergeMonthRowSorting is mergeMonthRow for a row in any order: it decodes every device, adds,
// sorts and encodes them all.
func mergeMonthRowSorting(b []byte, add []usage.DayCount) ([]byte, error) {
	var devs []*monthDevice
	at := map[string]*monthDevice{}
	err := decodeMonthRow(b, func(device []byte, days uint32, uses []int32) {
		d := &monthDevice{device: string(device)}
		i := 0
		for ds := days; ds != 0; ds &= ds - 1 {
			d.uses[bits.TrailingZeros32(ds)] = int64(uses[i])
			i++
		}
		devs = append(devs, d)
		at[d.device] = d
	})
	if err != nil {
		return nil, err
	}
	for _, c := range add {
		day := dayOfMonth(c.Day)
		if day == 0 || c.Uses <= 0 || len(c.Device) > maxDeviceIDBytes || c.Device == "" {
			continue
		}
		d := at[c.Device]
		if d == nil {
			d = &monthDevice{device: c.Device}
			devs = append(devs, d)
			at[c.Device] = d
		}
		d.uses[day-1] += int64(c.Uses)
	}
	slices.SortFunc(devs, func(a, b *monthDevice) int { return strings.Compare(a.device, b.device) })
	out := make([]byte, 0, len(b)+len(add)*3+16)
	for _, d := range devs {
		out = appendMonthDevice(out, d)
	}
	return out, nil
}

// dayOfMonth is the day of the month of a YYYY-MM-DD day, 0 if it is malformed.
func dayOfMonth(d usage.Day) int {
	if _, ok := d.Number(); !ok {
		return 0
	}
	s := string(d)
	return int(s[8]-'0')*10 + int(s[9]-'0')
}

// monthKey is a row of usage_months.
type monthKey struct{ month, site string }

// groupByMonth groups counts by the month and site of their rows; malformed days are left out.
func groupByMonth(counts []usage.DayCount) map[monthKey][]usage.DayCount {
	out := map[monthKey][]usage.DayCount{}
	for _, c := range counts {
		if dayOfMonth(c.Day) == 0 {
			continue
		}
		k := monthKey{string(c.Day[:7]), c.Site}
		out[k] = append(out[k], c)
	}
	return out
}

// foldMonths adds counts to usage_months, in tx (a usage write).
func (s *Usage) foldMonths(ctx context.Context, tx *sql.Tx, counts []usage.DayCount) error {
	groups := groupByMonth(counts)
	if len(groups) == 0 {
		return nil
	}
	keys := make([]monthKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b monthKey) int {
		return cmp.Or(strings.Compare(a.month, b.month), strings.Compare(a.site, b.site))
	})
	// The rows there are, read a statement's worth of keys at a time.
	old := make(map[monthKey][]byte, len(keys))
	const perQuery = 200
	for start := 0; start < len(keys); start += perQuery {
		part := keys[start:min(start+perQuery, len(keys))]
		w := &where{}
		conds := make([]string, len(part))
		for i, k := range part {
			conds[i] = "(month = " + w.arg(k.month) + " AND site_id = " + w.arg(k.site) + ")"
		}
		err := eachRow(ctx, tx, `SELECT month, site_id, uses FROM usage_months WHERE `+strings.Join(conds, " OR "), w.args,
			func(sc scanner) error {
				var k monthKey
				var b []byte
				if err := sc.Scan(&k.month, &k.site, &b); err != nil {
					return err
				}
				old[k] = b
				return nil
			})
		if err != nil {
			return err
		}
	}
	rows := make([][]byte, len(keys))
	for i, k := range keys {
		b, err := mergeMonthRow(old[k], groups[k])
		if err != nil {
			return fmt.Errorf("month %s at %s: %w", k.month, k.site, err)
		}
		rows[i] = b
	}
	return s.chunked(ctx, tx, len(keys),
		func(n int) string {
			return `INSERT INTO usage_months (month, site_id, uses) VALUES ` + s.dialect.values(n, 3) +
				` ON CONFLICT (month, site_id) DO UPDATE SET uses = excluded.uses`
		},
		func(args []any, from, to int) []any {
			for i := from; i < to; i++ {
				args = append(args, keys[i].month, keys[i].site, rows[i])
			}
			return args
		}, nil)
}

// monthsFromDayCounts is the SQL that writes the usage_months rows of the months of the days
// $1 to $2 from device_usage, per dialect: the same statement as migration 0019's.
func (s *Usage) monthsFromDayCounts() string {
	if s.dialect == postgres {
		return `INSERT INTO usage_months (month, site_id, uses)
SELECT month, site_id, decode(string_agg(entry, '' ORDER BY device_id), 'hex') FROM (
    SELECT substr(day, 1, 7) AS month, site_id, device_id,
        lpad(to_hex(octet_length(device_id)), 2, '0') || encode(convert_to(device_id, 'UTF8'), 'hex') ||
        lpad(to_hex(bit_or(1::bigint << (substr(day, 9, 2)::int - 1))), 8, '0') ||
        string_agg(CASE WHEN uses < 65535 THEN lpad(to_hex(uses), 4, '0') ELSE 'ffff' || lpad(to_hex(uses), 8, '0') END, '' ORDER BY day) AS entry
    FROM device_usage
    WHERE day >= $1 AND day <= $2 AND uses > 0 AND day ~ '^[0-9]{4}-[0-9]{2}-(0[1-9]|[12][0-9]|3[01])$'
    GROUP BY substr(day, 1, 7), site_id, device_id
) e GROUP BY month, site_id`
	}
	return `INSERT INTO usage_months (month, site_id, uses)
SELECT month, site_id, unhex(group_concat(entry, '' ORDER BY device_id)) FROM (
    SELECT substr(day, 1, 7) AS month, site_id, device_id,
        printf('%02x', length(CAST(device_id AS BLOB))) || hex(device_id) ||
        printf('%08x', sum(1 << (CAST(substr(day, 9, 2) AS INTEGER) - 1))) ||
        group_concat(CASE WHEN uses < 65535 THEN printf('%04x', uses) ELSE 'ffff' || printf('%08x', uses) END, '' ORDER BY day) AS entry
    FROM device_usage
    WHERE day >= $1 AND day <= $2 AND uses > 0
        AND day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-3][0-9]' AND substr(day, 9, 2) BETWEEN '01' AND '31'
    GROUP BY substr(day, 1, 7), site_id, device_id
) GROUP BY month, site_id`
}

// rebuildMonths writes again, in tx, the usage_months rows of the months of the days from to to,
// from device_usage.
func (s *Usage) rebuildMonths(ctx context.Context, tx *sql.Tx, from, to usage.Day) error {
	first, last := string(from[:7]), string(to[:7])
	if _, err := tx.ExecContext(ctx, `DELETE FROM usage_months WHERE month >= $1 AND month <= $2`, first, last); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.monthsFromDayCounts(), first+"-01", last+"-31")
	return err
}

// MonthUses returns the uses per device and site on each day of the months q selects (local
// months of the sites), ordered by month, site and device. A device without uses at a site in a
// month has no entry there. Like DayCounts, it reads the monthly aggregate and the uses recorded
// since the last fold in one snapshot; the uses are those DayCounts returns for the same days.
func (s *Usage) MonthUses(ctx context.Context, q usage.MonthQuery) ([]usage.MonthUses, error) {
	var out []usage.MonthUses
	var offs, idEnds []int
	var uses []int32
	var ids []byte
	site, first := "", 0
	ends := func() { // the device ids of the last row, in one string
		all, start := string(ids), 0
		for i, end := range idEnds {
			out[first+i].Device = all[start:end]
			start = end
		}
		ids, idEnds = ids[:0], idEnds[:0]
	}
	err := s.EachMonthUses(ctx, q, func(device []byte, st string, month usage.Month, days uint32, u []int32) {
		if out == nil || st != site || month != out[len(out)-1].Month {
			if out != nil {
				ends()
			}
			site, first = st, len(out)
		}
		offs = append(offs, len(uses))
		uses = append(uses, u...)
		ids = append(ids, device...)
		idEnds = append(idEnds, len(ids))
		out = append(out, usage.MonthUses{Site: st, Month: month, Days: days})
	})
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		ends()
	}
	for i := range out {
		end := len(uses)
		if i+1 < len(out) {
			end = offs[i+1]
		}
		out[i].Uses = uses[offs[i]:end:end]
	}
	return out, nil
}

// EachMonthUses calls fn with what MonthUses returns, one device's month at a time and in the
// same order, without keeping them: device and uses are valid during the call only.
func (s *Usage) EachMonthUses(ctx context.Context, q usage.MonthQuery,
	fn func(device []byte, site string, month usage.Month, days uint32, uses []int32)) error {
	if err := q.Validate(); err != nil {
		return errcode.Errorf(errcode.Invalid, "usage query: %v", err)
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.readers.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("month uses: %w", err)
	}
	defer tx.Rollback()
	if err := s.eachMonthIn(ctx, tx, q, fn); err != nil {
		return fmt.Errorf("month uses: %w", err)
	}
	return tx.Commit()
}

// sitesPerQuery bounds the sites named in one MonthUses statement; with more, every site is read
// and the rest left out here.
const sitesPerQuery = 100

func (s *Usage) eachMonthIn(ctx context.Context, tx *sql.Tx, q usage.MonthQuery,
	fn func(device []byte, site string, month usage.Month, days uint32, uses []int32)) error {
	var folded int64
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM usage_folded WHERE id = 1`).Scan(&folded); err != nil {
		return err
	}
	var wanted map[string]bool
	if q.Sites != nil {
		wanted = make(map[string]bool, len(q.Sites))
		for _, id := range q.Sites {
			wanted[id] = true
		}
	}
	first, last := q.From.String(), q.To.String()
	pending, _, err := s.pendingCounts(ctx, tx, folded, func(l logUse) bool {
		if wanted != nil && !wanted[l.site] {
			return false
		}
		m := usage.DayNumbered(l.day)[:7]
		return string(m) >= first && string(m) <= last
	})
	if err != nil {
		return err
	}
	add := groupByMonth(pending)
	w := &where{}
	w.add("month >= ?", first)
	w.add("month <= ?", last)
	if wanted != nil && len(q.Sites) <= sitesPerQuery {
		marks := make([]string, len(q.Sites))
		for i, id := range q.Sites {
			marks[i] = w.arg(id)
		}
		w.conds = append(w.conds, "site_id IN ("+strings.Join(marks, ", ")+")")
	}
	type row struct {
		key  monthKey
		uses []byte
	}
	query := `SELECT month, site_id, uses FROM usage_months` + w.sql() + ` ORDER BY month, site_id`
	// read sends each row with its uses valid during the call only (the driver's bytes).
	read := func(ctx context.Context, send func(row) error) error {
		return eachRow(ctx, tx, query, w.args, func(sc scanner) error {
			var r row
			var uses sql.RawBytes
			if err := sc.Scan(&r.key.month, &r.key.site, &uses); err != nil {
				return err
			}
			if wanted == nil || wanted[r.key.site] {
				r.uses = uses
				return send(r)
			}
			return nil
		})
	}
	decode := func(r row) error {
		month, err := usage.ParseMonth(r.key.month)
		if err != nil {
			return fmt.Errorf("usage_months: %w", err)
		}
		site := r.key.site
		if err := decodeMonthRow(r.uses, func(device []byte, days uint32, u []int32) { fn(device, site, month, days, u) }); err != nil {
			return fmt.Errorf("month %s at %s: %w", r.key.month, r.key.site, err)
		}
		return nil
	}
	if len(add) == 0 {
		// Nothing to merge: each row is decoded (and fn called) here while the next are read from
		// the database on another goroutine, into a few buffers that come back once decoded. A
		// year of a city's rows is some 70 MB: it was read whole before any was decoded, in a
		// new buffer each, as much garbage for the collector.
		const depth = 64
		free := make(chan []byte, depth+2)
		copied := func(ctx context.Context, send func(row) error) error {
			return read(ctx, func(r row) error {
				var buf []byte
				select {
				case buf = <-free:
				default:
				}
				r.uses = append(buf[:0], r.uses...)
				return send(r)
			})
		}
		return pipeline(ctx, depth, copied, func(r row) error {
			err := decode(r)
			select {
			case free <- r.uses:
			default:
			}
			return err
		})
	}
	var rows []row
	if err := read(ctx, func(r row) error { r.uses = bytes.Clone(r.uses); rows = append(rows, r); return nil }); err != nil {
		return err
	}
	// The pending uses of rows not written yet.
	for k := range add {
		if !slices.ContainsFunc(rows, func(r row) bool { return r.key == k }) {
			rows = append(rows, row{key: k})
		}
	}
	if len(add) > 0 {
		slices.SortFunc(rows, func(a, b row) int {
			return cmp.Or(strings.Compare(a.key.month, b.key.month), strings.Compare(a.key.site, b.key.site))
		})
	}
	for _, r := range rows {
		if more := add[r.key]; len(more) > 0 {
			if r.uses, err = mergeMonthRow(r.uses, more); err != nil {
				return fmt.Errorf("month %s at %s: %w", r.key.month, r.key.site, err)
			}
		}
		if err := decode(r); err != nil {
			return err
		}
	}
	return nil
}
