package ingest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/usage"
)

// Counting uses (package usage) exactly as InfluxDB keeps points: a use is a device and a
// measurement time, and it counts only if its points reached InfluxDB or the spool. The worker
// records a batch's uses after the batch is durable and before it is acknowledged, so that a
// crash before recording means a redelivery that counts them then, and a crash after means a
// redelivery whose uses are recorded already and count nothing.

// addUses adds a use for each distinct measurement time of rs, a message's accepted readings.
// Readings taken together (a station's blood pressure and weight) come one after the other
// with the same time; other repeats are left to the store, which counts a use once.
func (w *worker) addUses(device, site string, loc *time.Location, rs []reading.Reading) {
	for i := range rs {
		at := rs[i].Time
		if i > 0 && at.UnixMilli() == rs[i-1].Time.UnixMilli() {
			continue
		}
		w.uses = append(w.uses, usage.Use{Device: device, Site: site, At: at, Day: w.days.of(at, loc)})
	}
}

// dayCache remembers the last local day it computed, so that a stream of readings from the
// same day costs no formatting and no allocation.
type dayCache struct {
	valid bool
	loc   *time.Location
	n     int64 // days since 1970-01-01, local
	day   usage.Day
}

// of returns usage.DayOf(t, loc).
func (c *dayCache) of(t time.Time, loc *time.Location) usage.Day {
	_, offset := t.In(loc).Zone()
	secs := t.Unix() + int64(offset)
	n := secs / 86400
	if secs < 0 && secs%86400 != 0 {
		n-- // floor
	}
	if c.valid && c.n == n && c.loc == loc {
		return c.day
	}
	*c = dayCache{valid: true, loc: loc, n: n, day: usage.DayOf(t, loc)}
	return c.day
}

// storedUses returns the uses of a span that InfluxDB refused, whose points it still stored:
// InfluxDB refuses a write for one bad point and keeps the others ("partial write"), so each
// reading line is written again on its own, which changes nothing for a stored point, and a
// use counts if a line of its time was taken.
func (w *worker) storedUses(ctx context.Context, s span) ([]usage.Use, error) {
	var readingLines [][]byte
	all := 0
	for line := range bytes.Lines(w.lines[s.start:s.end]) {
		all++
		if !bytes.HasPrefix(line, []byte(influx.MeasurementStatus+",")) {
			readingLines = append(readingLines, line)
		}
	}
	if all == 1 {
		return nil, nil // the one line is what was refused
	}
	var stored []int64
	for _, line := range readingLines {
		err := w.p.writeOnce(ctx, line)
		var rej *influx.RejectedError
		switch {
		case err == nil:
			if ms, ok := lineMillis(line); ok {
				stored = append(stored, ms)
			}
		case errors.As(err, &rej):
		default:
			return nil, err
		}
	}
	var out []usage.Use
	for _, u := range w.uses[s.uses[0]:s.uses[1]] {
		for _, ms := range stored {
			if u.At.UnixMilli() == ms {
				out = append(out, u)
				break
			}
		}
	}
	return out, nil
}

// lineMillis returns the timestamp that ends a line of line protocol.
func lineMillis(line []byte) (int64, bool) {
	line = bytes.TrimRight(line, "\n")
	i := bytes.LastIndexByte(line, ' ')
	if i < 0 {
		return 0, false
	}
	ms, err := strconv.ParseInt(string(line[i+1:]), 10, 64)
	return ms, err == nil
}

// recordUses records uses, retrying until it works or ctx ends. Until it works, the batch is
// not acknowledged: a store outage holds the broker back instead of losing counts.
func (p *Pipeline) recordUses(ctx context.Context, uses []usage.Use) bool {
	return p.retry(ctx, func() error {
		err := p.uses.Record(ctx, uses)
		if err == nil || ctx.Err() != nil {
			return err
		}
		p.metrics.usageErrors.Inc()
		p.log.Error("recording device uses failed", "err", err, "count", len(uses))
		return err
	})
}
