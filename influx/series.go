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
// [From, To); of glucose, Source may select the CGM's or the meters' readings.
type Series struct {
	Type     reading.Type
	Patient  string
	Device   string
	From, To time.Time
	// Source, for glucose: SourceCGM (the source tag says cgm, or a CGM measured it) or
	// SourceMeter (any other glucose reading, as the summary's meter report counts them); ""
	// for all.
	Source string
}

// The glucose sources a Series may select.
const (
	SourceCGM   = "cgm"
	SourceMeter = "meter"
)

// cgmTerm is true of a CGM's glucose reading: its source tag says cgm, or a CGM measured it
// (a CGM sends its readings without a source). A missing tag is not compared.
const cgmTerm = `((exists r.source and r.source == "cgm") or (exists r.device_type and r.device_type == "cgm"))`

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
	switch s.Source {
	case "":
	case SourceCGM:
		terms = append(terms, cgmTerm)
	case SourceMeter:
		terms = append(terms, "not "+cgmTerm)
	default:
		return "", fmt.Errorf("influx: read a series: unknown source %q", s.Source)
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

// SeriesWindows returns s downsampled into windows of every, aligned on the Unix epoch (the
// first one starting no earlier than s.From), in time order: the mean of each numeric field
// over every device's readings, with the count of readings per window; windows without
// readings are left out.
//
// The query reads only the time, field and value of the numeric fields, and the windows are
// summed here as the rows stream in: InfluxDB 1.8's Flux cannot push a windowed aggregate down
// to storage, and its aggregateWindow over a year of 5-minute readings took 0.7 s where
// reading the bare values takes 0.1 s (BenchmarkPatientSeries in package api).
func (r *Reader) SeriesWindows(ctx context.Context, s Series, every time.Duration) ([]Window, error) {
	if every <= 0 {
		return nil, errors.New("influx: read a series: every must be positive")
	}
	head, err := r.seriesHead(s)
	if err != nil {
		return nil, err
	}
	flux := head + `
  |> filter(fn: (r) => r._field == "value" or r._field == "systolic" or r._field == "diastolic" or r._field == "pulse")
  |> keep(columns: ["_time", "_field", "_value"])`
	res, err := r.query().Query(ctx, flux)
	if err != nil {
		return nil, fmt.Errorf("influx: downsample %s from %s to %s: %w", s.Type, fluxTime(s.From), fluxTime(s.To), err)
	}
	defer res.Close()
	type sums struct {
		n      int // readings: their value or systolic fields
		fields map[string]*[2]float64
	}
	windows := map[int64]*sums{}
	from, to, step := s.From.UnixNano(), s.To.UnixNano(), int64(every)
	for res.Next() {
		rec := res.Record()
		t := rec.Time().UnixNano()
		v, ok := rec.Value().(float64)
		if !ok || t < from || t >= to {
			continue // InfluxDB 1.8 includes the stop of a range
		}
		start := max(t-((t%step)+step)%step, from)
		w := windows[start]
		if w == nil {
			w = &sums{fields: map[string]*[2]float64{}}
			windows[start] = w
		}
		f := rec.Field()
		if f == "value" || f == "systolic" {
			w.n++
		}
		acc := w.fields[f]
		if acc == nil {
			acc = new([2]float64)
			w.fields[f] = acc
		}
		acc[0], acc[1] = acc[0]+v, acc[1]+1
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx: downsample %s: %w", s.Type, err)
	}
	out := make([]Window, 0, len(windows))
	for start, w := range windows {
		win := Window{Start: time.Unix(0, start).UTC(), Count: w.n, Fields: make(map[string]float64, len(w.fields))}
		for f, acc := range w.fields {
			win.Fields[f] = acc[0] / acc[1]
		}
		out = append(out, win)
	}
	slices.SortFunc(out, func(a, b Window) int { return a.Start.Compare(b.Start) })
	return out, nil
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
