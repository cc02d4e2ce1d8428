package influx

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// A patient's or a device's readings of one type over a range, for the API's readings routes:
// as stored (SeriesPoints), or downsampled into windows (SeriesWindows); and every reading of a
// patient over a range (PatientReadings), for the patient's summary.

// Series selects the readings of Type of one Patient or one Device (give one) measured in
// [From, To).
type Series struct {
	Type     reading.Type
	Patient  string
	Device   string
	From, To time.Time
}

// Window is the mean of each numeric field of a series' readings in [Start, Start+every), and
// how many readings there were.
type Window struct {
	Start  time.Time
	Count  int
	Fields map[string]float64
}

// seriesHead is the Flux query of s's points, before any shaping.
func (r *Reader) seriesHead(s Series) (string, error) {
	switch {
	case s.Patient == "" && s.Device == "":
		return "", errors.New("influx: read a series: no device or patient")
	case !s.From.Before(s.To):
		return "", fmt.Errorf("influx: read a series: %v is not before %v", s.From, s.To)
	}
	terms := []string{"r._measurement == " + FluxString(Measurement(s.Type))}
	if s.Type.IsEvent() {
		terms = append(terms, "r.kind == "+FluxString(string(s.Type)))
	}
	if s.Patient != "" {
		terms = append(terms, "r.patient == "+FluxString(s.Patient))
	}
	if s.Device != "" {
		terms = append(terms, "r.device == "+FluxString(s.Device))
	}
	return fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => %s)`, FluxString(r.bucket), fluxTime(s.From), fluxTime(s.To), strings.Join(terms, " and ")), nil
}

// SeriesPoints returns the oldest limit points of s in time order, each with its tags and
// fields as stored, and whether there were more.
func (r *Reader) SeriesPoints(ctx context.Context, s Series, limit int) ([]Point, bool, error) {
	head, err := r.seriesHead(s)
	if err != nil {
		return nil, false, err
	}
	// Each series keeps its oldest limit+1 points: the oldest limit of all are among them.
	flux := head + fmt.Sprintf(`
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> sort(columns: ["_time"])
  |> limit(n: %d)`, limit+1)
	points, err := r.read(ctx, flux, s.From, s.To.Add(-time.Nanosecond))
	if err != nil {
		return nil, false, fmt.Errorf("influx: read %s from %s to %s: %w", s.Type, fluxTime(s.From), fluxTime(s.To), err)
	}
	slices.SortFunc(points, comparePoints)
	more := len(points) > limit
	if more {
		points = points[:limit]
	}
	return points, more, nil
}

// SeriesWindows returns s downsampled into windows of every, aligned on the Unix epoch, in
// time order: the mean of each numeric field over every device's readings, with the count of
// readings per window; windows without readings are left out.
func (r *Reader) SeriesWindows(ctx context.Context, s Series, every time.Duration) ([]Window, error) {
	if every <= 0 {
		return nil, errors.New("influx: read a series: every must be positive")
	}
	head, err := r.seriesHead(s)
	if err != nil {
		return nil, err
	}
	numeric := `r._field == "value" or r._field == "systolic" or r._field == "diastolic" or r._field == "pulse"`
	// A reading has exactly one of value and systolic: their count is the readings'.
	flux := fmt.Sprintf(`data = %s
  |> filter(fn: (r) => %s)
  |> group(columns: ["_field"])
means = data
  |> aggregateWindow(every: %s, fn: mean, createEmpty: false, timeSrc: "_start")
counts = data
  |> filter(fn: (r) => r._field == "value" or r._field == "systolic")
  |> aggregateWindow(every: %s, fn: count, createEmpty: false, timeSrc: "_start")
  |> map(fn: (r) => ({r with _field: "count", _value: float(v: r._value)}))
union(tables: [means, counts])
  |> group()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> sort(columns: ["_time"])`, head, numeric, fluxDuration(every), fluxDuration(every))
	res, err := r.query.Query(ctx, flux)
	if err != nil {
		return nil, fmt.Errorf("influx: downsample %s from %s to %s: %w", s.Type, fluxTime(s.From), fluxTime(s.To), err)
	}
	defer res.Close()
	var out []Window
	for res.Next() {
		rec := res.Record()
		w := Window{Start: rec.Time().UTC(), Fields: map[string]float64{}}
		for k, v := range rec.Values() {
			f, ok := v.(float64)
			switch {
			case !ok:
			case k == "count":
				w.Count = int(f)
			case !strings.HasPrefix(k, "_") && k != "result" && k != "table":
				w.Fields[k] = f
			}
		}
		out = append(out, w)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx: downsample %s: %w", s.Type, err)
	}
	slices.SortFunc(out, func(a, b Window) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// fluxDuration writes d as a Flux duration literal, in whole seconds or, below one, in
// milliseconds.
func fluxDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", max(d/time.Millisecond, 1))
}

// PatientReadings passes each the stored readings of every type of patient measured in
// [start, stop), each as a message of one reading with its device and flags as written, as
// ReadingsOf does for one type. One query reads them all.
func (r *Reader) PatientReadings(ctx context.Context, patient string, start, stop time.Time, each func(reading.Message)) error {
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r.patient == %s and r._measurement != %s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		FluxString(r.bucket), fluxTime(start), fluxTime(stop), FluxString(patient), FluxString(MeasurementStatus))
	return r.messages(ctx, flux, start, stop, func(measurement, kind string) (reading.Type, bool) {
		t := reading.Type(measurement)
		if measurement == MeasurementEvent {
			t = reading.Type(kind)
		}
		return t, slices.Contains(reading.Types, t)
	}, each)
}
