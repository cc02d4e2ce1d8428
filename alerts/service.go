package alerts

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/ingest"
)

// Service runs the alerting of one instance: it evaluates what ingest observed with the engine
// and applies the findings through the lifecycle before ingest acknowledges the messages (it is
// ingest's Observer), runs the time-driven rules every tick, and keeps the engine in step with
// the registry (devices in transit or under repair, patients' teams and plans).
type Service struct {
	engine *Engine
	life   *Lifecycle
	view   *devices.View
	log    *slog.Logger

	mu      sync.Mutex
	synced  int64 // the registry version the engine was last told of
	pending []Finding
}

// NewService returns the alerting of engine and life, on the registry of view.
func NewService(engine *Engine, life *Lifecycle, view *devices.View, log *slog.Logger) *Service {
	return &Service{engine: engine, life: life, view: view, log: log.With("component", "alerts"), synced: -1}
}

var _ ingest.Observer = (*Service)(nil)

// Observe evaluates the observations and applies their findings. An error means nothing is
// lost: ingest observes the same messages again, and the lifecycle counts a repeated finding
// on the alert it already opened.
func (s *Service) Observe(ctx context.Context, seen []ingest.Observation) error {
	dir := s.sync()
	var out []Finding
	for i := range seen {
		o := &seen[i]
		site := siteOf(dir, o.Device.SiteID)
		switch {
		case o.Message != nil:
			in := Input{Message: *o.Message, Device: *o.Device, Site: site, Received: o.Received}
			if o.Patient != "" {
				if p, ok := dir.Patient(o.Patient); ok {
					in.Patient = *p
				}
			}
			out = append(out, s.engine.Reading(in)...)
		case o.Status != nil:
			out = append(out, s.engine.Status(*o.Device, site, *o.Status, o.Received)...)
		case o.Rejected != "":
			out = append(out, s.engine.Rejected(*o.Device, site, string(o.Rejected), o.Received)...)
		}
	}
	return s.apply(ctx, out)
}

// apply writes findings, with any left over from a failed tick first.
func (s *Service) apply(ctx context.Context, fs []Finding) error {
	s.mu.Lock()
	if len(s.pending) > 0 {
		fs = append(s.pending, fs...)
		s.pending = nil
	}
	s.mu.Unlock()
	if len(fs) == 0 {
		return nil
	}
	_, err := s.life.Apply(ctx, fs)
	return err
}

// Run evaluates the time-driven rules every interval until ctx ends. Findings that cannot be
// written are kept for the next try.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.sync()
		fs := s.engine.Tick(time.Time{})
		if err := s.apply(ctx, fs); err != nil && ctx.Err() == nil {
			s.log.Error("applying time-driven findings failed; retrying at the next tick", "err", err, "count", len(fs))
			s.mu.Lock()
			s.pending = append(s.pending, fs...)
			s.mu.Unlock()
		}
	}
}

// sync tells the engine of every device and patient when the registry has changed, and returns
// the current directory.
func (s *Service) sync() *devices.Directory {
	dir := s.view.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if dir.Version() == s.synced {
		return dir
	}
	s.synced = dir.Version()
	var fs []Finding
	// A patient's days are counted in the zone of the site of a device lent to them; one
	// without a device, in UTC until a reading says otherwise.
	lentAt := map[string]string{}
	dir.Devices(func(d *devices.Device, as []devices.Assignment) bool {
		fs = append(fs, s.engine.Track(*d, siteOf(dir, d.SiteID), time.Time{})...)
		for _, a := range as {
			if a.Until.IsZero() {
				lentAt[a.PatientID] = d.SiteID
			}
		}
		return true
	})
	dir.Patients(func(p *devices.Patient) bool {
		if len(p.Plans) > 0 {
			s.engine.SetPatient(*p, siteOf(dir, lentAt[p.ID]), nil)
		}
		return true
	})
	s.pending = append(s.pending, fs...)
	return dir
}

func siteOf(dir *devices.Directory, id string) devices.Site {
	if s, ok := dir.Site(id); ok {
		return *s
	}
	return devices.Site{ID: id}
}
