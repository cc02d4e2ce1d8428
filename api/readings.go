package api

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/reading"
)

// A patient's or a device's readings of one type over a range, as InfluxDB holds them, for a
// chart: as stored while the range holds at most maxSeriesPoints of them, else downsampled into
// windows (the mean of each field and the count per window).

// ReadingSeries reads a patient's or a device's readings back from InfluxDB (influx.Reader),
// for their readings and the patient's summary.
type ReadingSeries interface {
	// SeriesPoints returns the oldest limit points of s in time order, and whether there were more.
	SeriesPoints(ctx context.Context, s influx.Series, limit int) ([]influx.Point, bool, error)
	// SeriesWindows returns s downsampled into windows of every, in time order.
	SeriesWindows(ctx context.Context, s influx.Series, every time.Duration) ([]influx.Window, error)
	// PatientReadings passes each the patient's readings of every type measured in [start, stop).
	PatientReadings(ctx context.Context, patient string, start, stop time.Time, each func(reading.Message)) error
}

const (
	// maxSeriesPoints is the most readings or windows one answer holds.
	maxSeriesPoints = 2000
	// maxSeriesRange is the longest range one request reads.
	maxSeriesRange = 366 * 24 * time.Hour
	// defaultSeriesRange is the range read without from.
	defaultSeriesRange = 24 * time.Hour
	// seriesTimeout bounds the InfluxDB queries of one request.
	seriesTimeout = 30 * time.Second
)

// readingSeriesJSON is one type of readings over [from, to): readings as stored, or windows
// when downsampled. Patient is set for a patient's readings, device for a device's.
type readingSeriesJSON struct {
	Patient string `json:"patient,omitempty"`
	Device  string `json:"device,omitempty"`
	Type    string `json:"type"`
	// Source is the glucose source asked for: cgm or meter; absent for all.
	Source string    `json:"source,omitempty"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Every is the windows' width in seconds when downsampled, else absent.
	Every    int64               `json:"every_seconds,omitempty"`
	Readings []readingPointJSON  `json:"readings"`
	Windows  []readingWindowJSON `json:"windows"`
}

// readingPointJSON is one stored reading, in canonical units, with the device that measured
// it, its tags and its quality flags (codes).
type readingPointJSON struct {
	Time       time.Time `json:"time"`
	Device     string    `json:"device"`
	DeviceType string    `json:"device_type,omitempty"`
	Site       string    `json:"site,omitempty"`
	Context    string    `json:"context,omitempty"`
	Source     string    `json:"source,omitempty"`
	Position   string    `json:"position,omitempty"`
	Value      *float64  `json:"value,omitempty"`
	Systolic   *float64  `json:"systolic,omitempty"`
	Diastolic  *float64  `json:"diastolic,omitempty"`
	Pulse      *float64  `json:"pulse,omitempty"`
	Flags      []string  `json:"flags"`
}

// readingWindowJSON is the mean of each field of the readings in [start, start+every), over
// every device and flagged readings included, and how many there were.
type readingWindowJSON struct {
	Start     time.Time `json:"start"`
	Count     int       `json:"count"`
	Value     *float64  `json:"value,omitempty"`
	Systolic  *float64  `json:"systolic,omitempty"`
	Diastolic *float64  `json:"diastolic,omitempty"`
	Pulse     *float64  `json:"pulse,omitempty"`
}

// patientReadings serves a patient's readings of one type, from any device.
func (a *API) patientReadings(c *call) error {
	p, err := a.patients().one(c)
	if err != nil {
		return err
	}
	return a.replySeries(c, influx.Series{Patient: p.ID}, readingSeriesJSON{Patient: p.ID})
}

// deviceReadings serves a device's readings of one type, for whichever patient: the answer
// names no patient, whom a fleet manager need not see.
func (a *API) deviceReadings(c *call) error {
	d, err := a.devices().one(c)
	if err != nil {
		return err
	}
	return a.replySeries(c, influx.Series{Device: d.ID}, readingSeriesJSON{Device: d.ID})
}

// replySeries reads s over the query's range and answers it in out.
func (a *API) replySeries(c *call, s influx.Series, out readingSeriesJSON) error {
	t, err := readingTypeParam(c.q.Get("type"))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	from, to, err := rangeParams(c, now.Add(-defaultSeriesRange), now)
	if err != nil {
		return err
	}
	every, err := everyParam(c.q.Get("every"), to.Sub(from))
	if err != nil {
		return err
	}
	switch src := c.q.Get("source"); {
	case src == "":
	case t != reading.Glucose:
		return invalid("source: only for type=glucose")
	case src == influx.SourceCGM || src == influx.SourceMeter:
		s.Source = src
		out.Source = src
	default:
		return invalid("source: cgm or meter")
	}
	s.Type, s.From, s.To = t, from, to
	out.Type, out.From, out.To = string(t), from, to
	out.Readings, out.Windows = []readingPointJSON{}, []readingWindowJSON{}
	ctx, cancel := context.WithTimeout(c.Context(), seriesTimeout)
	defer cancel()
	if every == 0 {
		points, more, err := a.opts.Series.SeriesPoints(ctx, s, maxSeriesPoints)
		if err != nil {
			return err
		}
		if !more {
			for _, p := range points {
				out.Readings = append(out.Readings, readingPointOut(p))
			}
			return c.reply(out)
		}
		every = autoEvery(to.Sub(from))
	}
	windows, err := a.opts.Series.SeriesWindows(ctx, s, every)
	if err != nil {
		return err
	}
	out.Every = int64(every / time.Second)
	for _, w := range windows {
		out.Windows = append(out.Windows, readingWindowJSON{Start: w.Start, Count: w.Count, Value: field(w.Fields, "value"),
			Systolic: field(w.Fields, "systolic"), Diastolic: field(w.Fields, "diastolic"), Pulse: field(w.Fields, "pulse")})
	}
	return c.reply(out)
}

// autoEvery is the whole minutes a window spans for rg to answer at most maxSeriesPoints of them.
func autoEvery(rg time.Duration) time.Duration {
	every := (rg + maxSeriesPoints - 1) / maxSeriesPoints
	return (every + time.Minute - 1) / time.Minute * time.Minute
}

// field returns fields[k], or nil when it has none.
func field(fields map[string]float64, k string) *float64 {
	if v, ok := fields[k]; ok {
		return &v
	}
	return nil
}

// readingPointOut is a stored point as a reading.
func readingPointOut(p influx.Point) readingPointJSON {
	num := func(k string) *float64 {
		if v, ok := p.Fields[k].(float64); ok {
			return &v
		}
		return nil
	}
	j := readingPointJSON{Time: p.Time, Device: p.Tags["device"], DeviceType: p.Tags["device_type"], Site: p.Tags["site"],
		Context: p.Tags["context"], Source: p.Tags["source"], Position: p.Tags["position"],
		Value: num("value"), Systolic: num("systolic"), Diastolic: num("diastolic"), Pulse: num("pulse"), Flags: []string{}}
	if f, _ := p.Fields["flags"].(string); f != "" {
		j.Flags = strings.Split(f, ",")
	}
	return j
}

// readingTypeParam parses the type parameter: one of the reading types.
func readingTypeParam(v string) (reading.Type, error) {
	t := reading.Type(v)
	if !slices.Contains(reading.Types, t) {
		var names []string
		for _, t := range reading.Types {
			names = append(names, string(t))
		}
		return "", invalid("type: one of " + strings.Join(names, ", "))
	}
	return t, nil
}

// rangeParams parses from and to, RFC 3339 times (defaults defFrom and defTo): from before to,
// at most maxSeriesRange apart.
func rangeParams(c *call, defFrom, defTo time.Time) (time.Time, time.Time, error) {
	to, err := timeParam(c, "to", defTo)
	if err != nil {
		return to, to, err
	}
	if c.q.Get("from") == "" && c.q.Get("to") != "" {
		defFrom = to.Add(defTo.Sub(defFrom) * -1)
	}
	from, err := timeParam(c, "from", defFrom)
	switch {
	case err != nil:
		return from, to, err
	case !from.Before(to):
		return from, to, invalid("from: must be before to")
	case to.Sub(from) > maxSeriesRange:
		return from, to, invalid("from: at most 366 days before to")
	}
	return from, to, nil
}

// everyParam parses every, a positive Go duration such as 1h (0 when not given) that splits
// rg into at most maxSeriesPoints windows.
func everyParam(v string, rg time.Duration) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil || d <= 0:
		return 0, invalid("every: a positive duration such as 15m or 1h")
	case d%time.Second != 0:
		return 0, invalid("every: whole seconds")
	case rg/d > maxSeriesPoints:
		return 0, invalid("every: at least " + autoEvery(rg).String() + " for this range (at most 2000 windows)")
	}
	return d, nil
}

// timeParam parses the query parameter name, an RFC 3339 time; def when not given.
func timeParam(c *call, name string, def time.Time) (time.Time, error) {
	v := c.q.Get(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid(name + ": an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}
