package influx

import (
	"context"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/usage"
)

// ReadingPoints passes each to every row of the stored readings (every measurement but device
// status) measured in [start, stop): its time and its device and site tags, empty where the
// point has none. A point has a row per field, so each may see one time and device several
// times. It is what usage.Rebuild counts uses from; one query reads the whole range.
func (r *Reader) ReadingPoints(ctx context.Context, start, stop time.Time, each func(usage.TaggedPoint)) error {
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement != %s)
  |> keep(columns: ["_time", "device", "site"])`,
		FluxString(r.bucket), fluxTime(start), fluxTime(stop), FluxString(MeasurementStatus))
	res, err := r.query().Query(ctx, flux)
	if err != nil {
		return fmt.Errorf("query %s..%s: %w", start.Format(time.RFC3339), stop.Format(time.RFC3339), err)
	}
	defer res.Close()
	for res.Next() {
		rec := res.Record()
		at := rec.Time()
		if at.Before(start) || !at.Before(stop) {
			continue // InfluxDB 1.8 includes the stop of a range; the next query has it
		}
		device, _ := rec.ValueByKey("device").(string)
		site, _ := rec.ValueByKey("site").(string)
		each(usage.TaggedPoint{Device: device, Site: site, At: at})
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("read %s..%s: %w", start.Format(time.RFC3339), stop.Format(time.RFC3339), err)
	}
	return nil
}
