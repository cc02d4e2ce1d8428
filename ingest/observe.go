package ingest

import (
	"context"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Observer sees what ingest took from registered devices (the alert engine, rules.Service):
// accepted telemetry, status messages, and readings refused as implausible. Observe is called
// once the batch is durable and before it is acknowledged, so that a crash before Observe
// returns means the messages come again; it is retried until it succeeds or the pipeline is cut
// off. Each worker calls it for its own batches, so calls may run at once; a device's messages
// all go to one worker, so they are observed in the order the worker took them.
type Observer interface {
	Observe(ctx context.Context, seen []alerts.Observation) error
}

// observeTelemetry records the accepted readings of m for the observer.
func (w *worker) observeTelemetry(dev *devices.Device, dir *devices.Directory, m *reading.Message, received time.Time) {
	if dev.Mode == devices.StationMode {
		w.seen = append(w.seen, alerts.Observation{Device: dev, Message: m, Patient: m.Patient, Received: received})
		return
	}
	all := m.Readings
	for start := 0; start < len(all); {
		patient := dir.PatientAt(m.Device, all[start].Time)
		end := start + 1
		for end < len(all) && dir.PatientAt(m.Device, all[end].Time) == patient {
			end++
		}
		part := *m
		part.Readings = all[start:end]
		part.Patient = patient
		w.seen = append(w.seen, alerts.Observation{Device: dev, Message: &part, Patient: patient, Received: received})
		start = end
	}
}

// observe hands the batch's observations to the observer, retrying like recordUses.
func (p *Pipeline) observe(ctx context.Context, seen []alerts.Observation) bool {
	return p.retry(ctx, func() error {
		err := p.observer.Observe(ctx, seen)
		if err == nil || ctx.Err() != nil {
			return err
		}
		p.log.Error("observing accepted messages failed", "err", err, "count", len(seen))
		return err
	})
}
