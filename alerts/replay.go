package alerts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// FluxQuerier runs a Flux query; influxdb-client-go's api.QueryAPI is one.
type FluxQuerier interface {
	Query(ctx context.Context, query string) (*api.QueryTableResult, error)
}

// replayTypes are the reading types whose recent history rules need, with their measurement.
var replayTypes = []reading.Type{reading.Glucose, reading.BP, reading.HeartRate, reading.SpO2,
	reading.Temperature, reading.Weight, reading.Fall, reading.SOS, reading.Cancel}

// Replay rebuilds the engine's windows and episodes after a restart from the readings InfluxDB
// holds in bucket: for each reading type, as far back before now as Rules.History says, fed to
// Engine.Warm in measurement order, which raises nothing (open alerts are in the store already,
// and a finding for one of them only updates it). Readings of devices or patients the registry
// no longer knows are skipped. One type's points are held in memory at a time. It returns how
// many readings it replayed.
func (s *Service) Replay(ctx context.Context, q FluxQuerier, bucket string, now time.Time) (int, error) {
	dir := s.sync()
	total := 0
	for _, t := range replayTypes {
		ins, err := s.readType(ctx, q, bucket, t, now.Add(-s.engine.Rules().History(t)), now, dir)
		if err != nil {
			return total, err
		}
		slices.SortStableFunc(ins, func(a, b Input) int {
			return a.Message.Readings[0].Time.Compare(b.Message.Readings[0].Time)
		})
		for i := range ins {
			s.engine.Warm(ins[i])
		}
		total += len(ins)
	}
	return total, nil
}

// readType reads the points of one reading type in [start, now) as engine inputs.
func (s *Service) readType(ctx context.Context, q FluxQuerier, bucket string, t reading.Type, start, now time.Time, dir *devices.Directory) ([]Input, error) {
	measurement, filter := string(t), ""
	if t.IsEvent() {
		measurement, filter = "event", fmt.Sprintf(` and r.kind == %q`, string(t))
	}
	flux := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %q%s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		bucket, start.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), measurement, filter)
	res, err := q.Query(ctx, flux)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", t, err)
	}
	defer res.Close()
	var out []Input
	for res.Next() {
		rec := res.Record()
		str := func(k string) string { v, _ := rec.ValueByKey(k).(string); return v }
		num := func(k string) (float64, bool) { v, ok := rec.ValueByKey(k).(float64); return v, ok }
		dev, ok := dir.Device(str("device"))
		if !ok || rec.Time().Before(start) || !rec.Time().Before(now) {
			continue
		}
		r := reading.Reading{Type: t, Time: rec.Time(), Context: str("context"), Source: str("source"), Position: str("position")}
		r.Value, _ = num("value")
		r.Systolic, _ = num("systolic")
		r.Diastolic, _ = num("diastolic")
		r.Pulse, r.HasPulse = num("pulse")
		if lat, ok := num("lat"); ok {
			r.Lat, r.HasLocation = lat, true
			r.Lon, _ = num("lon")
		}
		m := reading.Message{Device: dev.ID, Patient: str("patient"), Readings: []reading.Reading{r}}
		if f := str("flags"); f != "" {
			m.Flags = strings.Split(f, ",")
		}
		in := Input{Message: m, Device: *dev, Site: siteOf(dir, dev.SiteID), Received: r.Time}
		if p, ok := dir.Patient(m.Patient); ok {
			in.Patient = *p
			in.Thresholds = s.thresholds(p) // the patient's overrides, as Observe uses them
		}
		out = append(out, in)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("replay %s: %w", t, err)
	}
	return out, nil
}
