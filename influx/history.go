package influx

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// ReadingsOf passes each the stored readings of type t measured in [start, stop), series by
// series, each as a message of one reading with its device, patient and flags as written. The
// alert engine rebuilds its windows from them after a restart; one query reads the whole range.
func (r *Reader) ReadingsOf(ctx context.Context, t reading.Type, start, stop time.Time, each func(reading.Message)) error {
	filter := "r._measurement == " + FluxString(Measurement(t))
	if t.IsEvent() {
		filter += " and r.kind == " + FluxString(string(t))
	}
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => %s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		FluxString(r.bucket), fluxTime(start), fluxTime(stop), filter)
	return r.messages(ctx, flux, start, stop, func(string, string) (reading.Type, bool) { return t, true }, each)
}

// messages runs a query whose rows are pivoted readings and passes each those measured in
// [start, stop) as a message of one reading; typeOf names a row's type by its measurement and
// kind tag, and false skips it.
func (r *Reader) messages(ctx context.Context, flux string, start, stop time.Time,
	typeOf func(measurement, kind string) (reading.Type, bool), each func(reading.Message)) error {
	res, err := r.query().Query(ctx, flux)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		rec := res.Record()
		if rec.Time().Before(start) || !rec.Time().Before(stop) {
			continue // InfluxDB 1.8 includes the stop of a range
		}
		str := func(k string) string { v, _ := rec.ValueByKey(k).(string); return v }
		num := func(k string) (float64, bool) { v, ok := rec.ValueByKey(k).(float64); return v, ok }
		t, ok := typeOf(rec.Measurement(), str("kind"))
		if !ok {
			continue
		}
		rd := reading.Reading{Type: t, Time: rec.Time(), Context: str("context"), Source: str("source"), Position: str("position")}
		rd.Value, _ = num("value")
		rd.Systolic, _ = num("systolic")
		rd.Diastolic, _ = num("diastolic")
		rd.Pulse, rd.HasPulse = num("pulse")
		if lat, ok := num("lat"); ok {
			rd.Lat, rd.HasLocation = lat, true
			rd.Lon, _ = num("lon")
		}
		m := reading.Message{Device: str("device"), Patient: str("patient"), Readings: []reading.Reading{rd}}
		if f := str("flags"); f != "" {
			m.Flags = strings.Split(f, ",")
		}
		each(m)
	}
	return res.Err()
}
