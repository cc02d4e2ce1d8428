package rules

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// History is where Replay reads the recent readings (influx.Reader is one): it passes each the
// stored readings of type t measured in [start, stop), each a message of one reading naming
// its device and patient.
type History interface {
	ReadingsOf(ctx context.Context, t reading.Type, start, stop time.Time, each func(reading.Message)) error
}

// replayTypes are the reading types whose recent history rules need.
var replayTypes = []reading.Type{reading.Glucose, reading.BP, reading.HeartRate, reading.SpO2,
	reading.Temperature, reading.Weight, reading.Fall, reading.SOS, reading.Cancel}

// Replay rebuilds the engine's windows and episodes after a restart from the readings h holds:
// for each reading type, as far back before now as Rules.History says, fed to Engine.Warm in
// measurement order, which raises nothing (open alerts are in the store already, and a finding
// for one of them only updates it). Readings of devices or patients the registry no longer
// knows are skipped. One type's readings are held in memory at a time. It returns how many
// readings it replayed.
func (s *Service) Replay(ctx context.Context, h History, now time.Time) (int, error) {
	dir := s.sync()
	total := 0
	for _, t := range replayTypes {
		ins, err := s.readType(ctx, h, t, now.Add(-s.engine.Rules().History(t)), now, dir)
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

// readType reads the readings of one type in [start, now) as engine inputs.
func (s *Service) readType(ctx context.Context, h History, t reading.Type, start, now time.Time, dir *devices.Directory) ([]Input, error) {
	var out []Input
	err := h.ReadingsOf(ctx, t, start, now, func(m reading.Message) {
		dev, ok := dir.Device(m.Device)
		if !ok {
			return
		}
		in := Input{Message: m, Device: *dev, Site: siteOf(dir, dev.SiteID), Received: m.Readings[0].Time}
		if p, ok := dir.Patient(m.Patient); ok {
			in.Patient = *p
			in.Thresholds = s.thresholds(p) // the patient's overrides, as Observe uses them
		}
		out = append(out, in)
	})
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", t, err)
	}
	return out, nil
}
