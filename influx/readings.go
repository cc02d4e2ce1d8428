package influx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
)

// Reading back what the Writer stored: a device's points at given times, or a device's or a
// patient's points of some measurements over a time range, each with every field and tag, over
// the Flux query API that InfluxDB 2.x serves and 1.8 serves with flux-enabled (as
// usage.Rebuild and alerts' replay read it). An alert's detail shows its evidence this way.

// Point is one stored point: the fields of a measurement at a time in one series, its tags.
type Point struct {
	Measurement string
	Time        time.Time // UTC, to the millisecond as written
	Tags        map[string]string
	// Fields are the values as written: float64 for numbers, int64 for integers (seq), string
	// (flags, firmware) and bool (online).
	Fields map[string]any
}

// PointKey names a device's point of a measurement at a time, to the millisecond (as the
// Writer stores times). An empty Measurement stands for every measurement but device status.
type PointKey struct {
	Device      string
	Measurement string
	Time        time.Time
}

// Range selects the points of Measurements of one Device or one Patient (the tags; give one or
// both) measured from From to To, both included.
type Range struct {
	Measurements []string
	Device       string
	Patient      string
	From, To     time.Time
	// Limit bounds the points returned, the newest kept: default 100, at most MaxRangeLimit.
	Limit int
}

// MaxRangeLimit is the most points one Range returns.
const MaxRangeLimit = 1000

// MaxPointKeys is the most keys one PointsAt looks up: each is a term of the query's filter.
const MaxPointKeys = 200

// Reader reads points from InfluxDB. It is safe for concurrent use.
type Reader struct {
	client influxdb2.Client
	org    string
	bucket string
}

// query returns a query API for one query. The client's query API caches its URL on first use
// without holding its lock while it reads it, so one shared between requests is a data race;
// a new one costs a small struct.
func (r *Reader) query() api.QueryAPI { return r.client.QueryAPI(r.org) }

// NewReader returns a Reader of cfg's bucket (URL, Org, Bucket, Token and Timeout as for
// NewWriter; Gzip applies to writes only). It does not contact the server.
func NewReader(cfg Config) *Reader {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, influxdb2.DefaultOptions().
		SetHTTPRequestTimeout(uint(timeout/time.Second)).SetApplicationName("vitalwatch"))
	return &Reader{client: client, org: cfg.Org, bucket: cfg.Bucket}
}

// Close releases the client's idle connections.
func (r *Reader) Close() { r.client.Close() }

// PointsAt returns the stored points that keys name (at most MaxPointKeys of them), in time
// order; a key with no point has none, and a key without a measurement may have several. One
// query reads them all.
func (r *Reader) PointsAt(ctx context.Context, keys []PointKey) ([]Point, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if len(keys) > MaxPointKeys {
		return nil, fmt.Errorf("influx: read points: %d keys; at most %d at a time", len(keys), MaxPointKeys)
	}
	var terms []string
	firstMs, lastMs := keys[0].Time.UnixMilli(), keys[0].Time.UnixMilli()
	for _, k := range keys {
		firstMs, lastMs = min(firstMs, k.Time.UnixMilli()), max(lastMs, k.Time.UnixMilli())
		at := time.UnixMilli(k.Time.UnixMilli()).UTC()
		term := "r.device == " + FluxString(k.Device) + " and r._time == " + fluxTime(at)
		if k.Measurement != "" {
			term += " and r._measurement == " + FluxString(k.Measurement)
		} else {
			term += " and r._measurement != " + FluxString(MeasurementStatus)
		}
		if !slices.Contains(terms, "("+term+")") {
			terms = append(terms, "("+term+")")
		}
	}
	first, last := time.UnixMilli(firstMs).UTC(), time.UnixMilli(lastMs).UTC()
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => %s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		FluxString(r.bucket), fluxTime(first), fluxTime(last.Add(time.Millisecond)), strings.Join(terms, " or "))
	points, err := r.read(ctx, flux, first, last)
	if err != nil {
		return nil, fmt.Errorf("influx: read %d points from %s: %w", len(keys), first.Format(time.RFC3339), err)
	}
	slices.SortFunc(points, comparePoints)
	return points, nil
}

// PointsIn returns the points rg selects, in time order: the newest rg.Limit of them, and
// whether there were more.
func (r *Reader) PointsIn(ctx context.Context, rg Range) ([]Point, bool, error) {
	switch {
	case len(rg.Measurements) == 0:
		return nil, false, errors.New("influx: read a range: no measurement")
	case rg.Device == "" && rg.Patient == "":
		return nil, false, errors.New("influx: read a range: no device or patient")
	case rg.To.Before(rg.From):
		return nil, false, fmt.Errorf("influx: read a range: %v is after %v", rg.From, rg.To)
	}
	limit := rg.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxRangeLimit)
	var ms []string
	for _, m := range rg.Measurements {
		ms = append(ms, "r._measurement == "+FluxString(m))
	}
	terms := []string{"(" + strings.Join(ms, " or ") + ")"}
	if rg.Device != "" {
		terms = append(terms, "r.device == "+FluxString(rg.Device))
	}
	if rg.Patient != "" {
		terms = append(terms, "r.patient == "+FluxString(rg.Patient))
	}
	from, to := time.UnixMilli(rg.From.UnixMilli()).UTC(), time.UnixMilli(rg.To.UnixMilli()).UTC()
	// Each series keeps its newest limit+1 points: the newest limit of all are among them,
	// and one more tells that there were more.
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => %s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> sort(columns: ["_time"], desc: true)
  |> limit(n: %d)`,
		FluxString(r.bucket), fluxTime(from), fluxTime(to.Add(time.Millisecond)), strings.Join(terms, " and "), limit+1)
	points, err := r.read(ctx, flux, from, to)
	if err != nil {
		return nil, false, fmt.Errorf("influx: read %s from %s to %s: %w", strings.Join(rg.Measurements, ", "),
			from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	slices.SortFunc(points, comparePoints)
	more := len(points) > limit
	if more {
		points = points[len(points)-limit:]
	}
	return points, more, nil
}

// read runs a query whose rows are pivoted points and returns those measured from from to to,
// both included. The tags are the group key's columns (a pivot keeps the series' tags in it);
// the fields are the other columns with a value.
func (r *Reader) read(ctx context.Context, flux string, from, to time.Time) ([]Point, error) {
	res, err := r.query().Query(ctx, flux)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []Point
	for res.Next() {
		rec := res.Record()
		at := rec.Time().UTC()
		if at.Before(from) || at.After(to) {
			continue // InfluxDB 1.8 includes the stop of a range
		}
		p := Point{Measurement: rec.Measurement(), Time: at, Tags: map[string]string{}, Fields: map[string]any{}}
		for _, c := range res.TableMetadata().Columns() {
			name, v := c.Name(), rec.ValueByKey(c.Name())
			switch {
			case name == "result" || name == "table" || strings.HasPrefix(name, "_"): // _start, _stop, _time, _measurement
			case c.IsGroup():
				if s, ok := v.(string); ok && s != "" {
					p.Tags[name] = s
				}
			case v != nil:
				p.Fields[name] = v
			}
		}
		out = append(out, p)
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// comparePoints orders points by time, then measurement and device.
func comparePoints(a, b Point) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Measurement, b.Measurement), strings.Compare(a.Tags["device"], b.Tags["device"]))
}

// fluxTime writes t as a Flux time literal.
func fluxTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// FluxString writes s as a Flux string literal. Flux interpolates "${" in strings, which has
// no escape, so it is split into two literals.
func FluxString(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
	return `"` + strings.ReplaceAll(s, "${", `$" + "{`) + `"`
}
