package usage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TaggedPoint is a row of a stored reading as a rebuild reads it: its measurement time and its
// device and site tags, either empty for a point written without the registry.
type TaggedPoint struct {
	Device, Site string
	At           time.Time
}

// PointSource reads the stored readings that Rebuild counts; influx.Reader is one.
// ReadingPoints passes each the rows of every point but device status measured in [start,
// stop), a row per field, in any order.
type PointSource interface {
	ReadingPoints(ctx context.Context, start, stop time.Time, each func(TaggedPoint)) error
}

// maxZoneOffset is the farthest any time zone is from UTC (UTC+14, and UTC-12): a local day's
// readings lie within it of that day in UTC.
const maxZoneOffset = 14 * time.Hour

// Rebuilt is the usage of a period of local days as the stored readings hold it.
type Rebuilt struct {
	From, To Day
	// Counts are the uses per device, site and day, ordered by device, day and site.
	Counts []DayCount
	// Keys are the uses themselves, by device and time.
	Keys []Use
	// Untagged is how many points had no device or no site tag, and so no use: points written
	// without the registry, which ingest does not count either.
	Untagged int
}

// Uses returns the total of the counts.
func (r *Rebuilt) Uses() int {
	n := 0
	for _, c := range r.Counts {
		n += c.Uses
	}
	return n
}

// Rebuild counts the uses of the local days from to to from the points src holds, as ingest
// counts them: every point other than device status is a reading, a use is a device and a
// point time (several points or fields at one time are one use), at the point's site, on the
// day of its time in the site's time zone, which zone returns. It reads one UTC day at a time,
// so that memory holds one day's points and the period's uses.
func Rebuild(ctx context.Context, src PointSource, from, to Day, zone func(site string) *time.Location) (*Rebuilt, error) {
	if err := (Query{From: from, To: to}).Validate(); err != nil {
		return nil, fmt.Errorf("rebuild usage: %w", err)
	}
	out := &Rebuilt{From: from, To: to}
	start := from.Start(time.UTC).Add(-maxZoneOffset)
	end := to.Start(time.UTC).AddDate(0, 0, 1).Add(maxZoneOffset)
	zones := map[string]*time.Location{}
	counts := map[DayCount]int{}
	for chunk := start; chunk.Before(end); chunk = chunk.Add(24 * time.Hour) {
		stop := chunk.Add(24 * time.Hour)
		if stop.After(end) {
			stop = end
		}
		points, untagged, err := readPoints(ctx, src, chunk, stop)
		if err != nil {
			return nil, err
		}
		// An untagged point has no site and so no local day: it is counted on its UTC day,
		// once, by the rebuild whose days include it, and not for the margins read around them.
		for k := range untagged {
			if day := DayOf(time.UnixMilli(k.ms), time.UTC); day >= from && day <= to {
				out.Untagged++
			}
		}
		for k, site := range points {
			loc, ok := zones[site]
			if !ok {
				loc = zone(site)
				zones[site] = loc
			}
			at := time.UnixMilli(k.ms).UTC()
			day := DayOf(at, loc)
			if day < from || day > to {
				continue
			}
			out.Keys = append(out.Keys, Use{Device: k.device, Site: site, At: at, Day: day})
			counts[DayCount{Device: k.device, Site: site, Day: day}]++
		}
	}
	out.Counts = make([]DayCount, 0, len(counts))
	for c, n := range counts {
		c.Uses = n
		out.Counts = append(out.Counts, c)
	}
	slices.SortFunc(out.Counts, func(a, b DayCount) int {
		return cmp.Or(strings.Compare(a.Device, b.Device), strings.Compare(string(a.Day), string(b.Day)), strings.Compare(a.Site, b.Site))
	})
	slices.SortFunc(out.Keys, func(a, b Use) int {
		return cmp.Or(strings.Compare(a.Device, b.Device), a.At.Compare(b.At))
	})
	return out, nil
}

// pointKey is a use: a device and a time in milliseconds.
type pointKey struct {
	device string
	ms     int64
}

// readPoints returns the uses of the readings in [start, stop), each with its site, and the
// uses of readings without a device or site tag. A use whose points disagree on the site (the
// same reading sent again after its device moved) takes the first site in byte order, so that
// a rebuild always gives the same answer.
func readPoints(ctx context.Context, src PointSource, start, stop time.Time) (map[pointKey]string, map[pointKey]bool, error) {
	points := map[pointKey]string{}
	untagged := map[pointKey]bool{}
	err := src.ReadingPoints(ctx, start, stop, func(p TaggedPoint) {
		k := pointKey{device: p.Device, ms: p.At.UnixMilli()}
		if p.Device == "" || p.Site == "" {
			untagged[k] = true
			return
		}
		if have, ok := points[k]; !ok || p.Site < have {
			points[k] = p.Site
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("rebuild usage: %w", err)
	}
	return points, untagged, nil
}

// RebuildDays is how many days a Rebuilder reads and replaces at a time.
const RebuildDays = 7

// RebuildStore holds the usage a Rebuilder replaces: the day counts of a period, and the
// replacement, in one transaction, of a period's counts and use keys.
type RebuildStore interface {
	DayCounts(ctx context.Context, q Query) ([]DayCount, error)
	ReplaceUsage(ctx context.Context, from, to Day, counts []DayCount, keys []Use) error
}

// Rebuilder replaces the usage a store holds with the usage Rebuild counts from the stored
// readings. Create it with NewRebuilder.
type Rebuilder struct {
	store  RebuildStore
	points PointSource
	zone   func(site string) *time.Location
}

// NewRebuilder returns a Rebuilder of st's usage from src's readings, counting days in the
// time zone that zone gives a site (as ingest counts them).
func NewRebuilder(st RebuildStore, src PointSource, zone func(site string) *time.Location) *Rebuilder {
	return &Rebuilder{store: st, points: src, zone: zone}
}

// Replaced is what a Rebuilder replaced.
type Replaced struct {
	// Before are the counts the store held, After the rebuilt counts that replaced them.
	Before, After []DayCount
	// Keys is how many use keys were rebuilt.
	Keys int
	// Untagged is how many points counted no use for want of a device or site tag.
	Untagged int
}

// Rebuild replaces the usage of the days from to to, RebuildDays at a time, each in one
// transaction, so that memory holds those days' uses however long the period. After an error
// the days before the ones that failed stay replaced.
func (r *Rebuilder) Rebuild(ctx context.Context, from, to Day) (*Replaced, error) {
	out := &Replaced{}
	for start := from; start <= to; {
		end := min(addDays(start, RebuildDays-1), to)
		rebuilt, err := Rebuild(ctx, r.points, start, end, r.zone)
		if err != nil {
			return nil, err
		}
		old, err := r.store.DayCounts(ctx, Query{From: start, To: end})
		if err != nil {
			return nil, err
		}
		if err := r.store.ReplaceUsage(ctx, start, end, rebuilt.Counts, rebuilt.Keys); err != nil {
			return nil, fmt.Errorf("usage rebuild: %s to %s (the days before are rebuilt): %w", start, end, err)
		}
		out.Before, out.After = append(out.Before, old...), append(out.After, rebuilt.Counts...)
		out.Keys, out.Untagged = out.Keys+len(rebuilt.Keys), out.Untagged+rebuilt.Untagged
		start = addDays(end, 1)
	}
	return out, nil
}

// addDays returns the day n days after d.
func addDays(d Day, n int) Day {
	return DayOf(d.Start(time.UTC).AddDate(0, 0, n), time.UTC)
}
