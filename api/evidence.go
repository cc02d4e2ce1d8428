package api

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/influx"
)

// ReadingReader reads stored readings back from InfluxDB (influx.Reader), for the evidence of
// an alert's detail.
type ReadingReader interface {
	// PointsAt returns the points that keys name, in time order.
	PointsAt(ctx context.Context, keys []influx.PointKey) ([]influx.Point, error)
	// PointsIn returns the newest rg.Limit points that rg selects, in time order, and whether
	// there were more.
	PointsIn(ctx context.Context, rg influx.Range) ([]influx.Point, bool, error)
}

// readEvidence reads al's evidence from InfluxDB: its recorded readings, one query, and for a
// patient's alert the patient's readings of the same measurements from first to last seen,
// another. It returns them in time order, whether the window had more, and nil if there was
// nothing to read. A recorded reading InfluxDB no longer has keeps its recorded values.
func (a *API) readEvidence(ctx context.Context, al alerts.Alert) ([]evidenceJSON, bool, error) {
	var keys []influx.PointKey
	var measurements []string
	for _, e := range al.Evidence {
		keys = append(keys, influx.PointKey{Device: e.Device, Measurement: e.Measurement, Time: e.Time})
		if e.Measurement != "" && !slices.Contains(measurements, e.Measurement) {
			measurements = append(measurements, e.Measurement)
		}
	}
	if len(keys) == 0 {
		return nil, false, nil
	}
	patient := ""
	if al.Subject.Kind == "patient" {
		patient = al.Subject.ID
	}
	ctx, cancel := context.WithTimeout(ctx, evidenceTimeout)
	defer cancel()
	points, err := a.opts.Readings.PointsAt(ctx, keys)
	if err != nil {
		return nil, false, err
	}
	var window []influx.Point
	truncated := false
	if patient != "" && len(measurements) > 0 {
		window, truncated, err = a.opts.Readings.PointsIn(ctx, influx.Range{Measurements: measurements, Patient: patient,
			From: al.FirstSeen, To: al.LastSeen, Limit: evidenceWindow})
		if err != nil {
			return nil, false, err
		}
	}
	// pointID tells one stored point from another: its series (measurement, tags) and time.
	pointID := func(p influx.Point) string {
		tags := make([]string, 0, len(p.Tags))
		for k, v := range p.Tags {
			tags = append(tags, k+"="+v)
		}
		slices.Sort(tags)
		return p.Measurement + "," + strings.Join(tags, ",") + " " + strconv.FormatInt(p.Time.UnixMilli(), 10)
	}
	// names reports whether key k names point p (PointKey's rules).
	names := func(k influx.PointKey, p influx.Point) bool {
		return k.Device == p.Tags["device"] && k.Time.UnixMilli() == p.Time.UnixMilli() &&
			(k.Measurement == p.Measurement || k.Measurement == "" && p.Measurement != influx.MeasurementStatus)
	}
	seen := map[string]bool{}
	var out []evidenceJSON
	for _, p := range slices.Concat(points, window) {
		if id := pointID(p); !seen[id] {
			seen[id] = true
			out = append(out, storedEvidenceOut(p, slices.ContainsFunc(keys, func(k influx.PointKey) bool { return names(k, p) })))
		}
	}
	for i, k := range keys {
		if !slices.ContainsFunc(points, func(p influx.Point) bool { return names(k, p) }) {
			e := recordedEvidenceOut(al.Evidence[i])
			e.InInfluxDB = new(bool)
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(x, y evidenceJSON) int {
		return cmp.Or(x.Time.Compare(y.Time), strings.Compare(x.Measurement, y.Measurement), strings.Compare(x.Device, y.Device))
	})
	return out, truncated, nil
}

// storedEvidenceOut is a reading as InfluxDB stores it.
func storedEvidenceOut(p influx.Point, recorded bool) evidenceJSON {
	stored := true
	e := evidenceJSON{Device: p.Tags["device"], Measurement: p.Measurement, Time: p.Time, Recorded: recorded,
		InInfluxDB: &stored, Tags: p.Tags, Fields: p.Fields}
	e.Value, _ = p.Fields["value"].(float64)
	e.Systolic, _ = p.Fields["systolic"].(float64)
	e.Diastolic, _ = p.Fields["diastolic"].(float64)
	if f, _ := p.Fields["flags"].(string); f != "" {
		e.Flags = strings.Split(f, ",")
	}
	return e
}
