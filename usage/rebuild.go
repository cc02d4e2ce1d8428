package usage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/vitalwatch/vitalwatch/influx"
)

// FluxQuerier runs a Flux query; influxdb-client-go's api.QueryAPI is one.
type FluxQuerier interface {
	Query(ctx context.Context, query string) (*api.QueryTableResult, error)
}

// maxZoneOffset is the farthest any time zone is from UTC (UTC+14, and UTC-12): a local day's
// readings lie within it of that day in UTC.
const maxZoneOffset = 14 * time.Hour

// Rebuilt is the usage of a period of local days as InfluxDB holds it.
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

// Rebuild counts the uses of the local days from to to from the points in bucket, as ingest
// counts them: every point other than device status is a reading, a use is a device and a
// point time (several points or fields at one time are one use), at the point's site, on the
// day of its time in the site's time zone, which zone returns. It reads one UTC day at a time,
// so that memory holds one day's points and the period's uses.
func Rebuild(ctx context.Context, q FluxQuerier, bucket string, from, to Day, zone func(site string) *time.Location) (*Rebuilt, error) {
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
		points, untagged, err := readPoints(ctx, q, bucket, chunk, stop)
		if err != nil {
			return nil, err
		}
		out.Untagged += untagged
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

// readPoints returns the uses of the readings in [start, stop), each with its site. A use
// whose points disagree on the site (the same reading sent again after its device moved) takes
// the first site in byte order, so that a rebuild always gives the same answer.
func readPoints(ctx context.Context, q FluxQuerier, bucket string, start, stop time.Time) (map[pointKey]string, int, error) {
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement != %s)
  |> keep(columns: ["_time", "device", "site"])`,
		influx.FluxString(bucket), start.UTC().Format(time.RFC3339Nano), stop.UTC().Format(time.RFC3339Nano), influx.FluxString(influx.MeasurementStatus))
	res, err := q.Query(ctx, flux)
	if err != nil {
		return nil, 0, fmt.Errorf("rebuild usage: query %s..%s: %w", start.Format(time.RFC3339), stop.Format(time.RFC3339), err)
	}
	defer res.Close()
	points := map[pointKey]string{}
	untagged := map[pointKey]bool{}
	for res.Next() {
		rec := res.Record()
		at := rec.Time()
		if at.Before(start) || !at.Before(stop) {
			continue // InfluxDB 1.8 includes the stop of a range; the next query has it
		}
		device, _ := rec.ValueByKey("device").(string)
		site, _ := rec.ValueByKey("site").(string)
		k := pointKey{device: device, ms: at.UnixMilli()}
		if device == "" || site == "" {
			untagged[k] = true
			continue
		}
		if have, ok := points[k]; !ok || site < have {
			points[k] = site
		}
	}
	if err := res.Err(); err != nil {
		return nil, 0, fmt.Errorf("rebuild usage: read %s..%s: %w", start.Format(time.RFC3339), stop.Format(time.RFC3339), err)
	}
	return points, len(untagged), nil
}
