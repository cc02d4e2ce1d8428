package rules

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
)

// Service runs the alerting of one instance: it evaluates what ingest observed with the engine
// and applies the findings through the lifecycle before ingest acknowledges the messages (it is
// ingest's Observer), runs the time-driven rules every tick, and keeps the engine in step with
// the registry (devices in transit or under repair, patients' teams and plans).
type Service struct {
	engine *Engine
	life   *alerts.Lifecycle
	view   *devices.View
	log    *slog.Logger

	mu       sync.Mutex
	synced   int64 // the registry version the engine was last told of
	pending  []alerts.Finding
	settings Settings
	loaded   int64 // the registry version the overrides and silences were read at
	teams    map[string]Overrides
	people   map[string]Overrides
	silences []alerts.Silence
	// effective caches each patient's thresholds, for the rules in effRules, until the
	// registry changes.
	effective map[string]*Thresholds
	effRules  *Rules
}

// NewService returns the alerting of engine and life, on the registry of view.
func NewService(engine *Engine, life *alerts.Lifecycle, view *devices.View, log *slog.Logger) *Service {
	return &Service{engine: engine, life: life, view: view, log: log.With("component", "alerts"), synced: -1, loaded: -1}
}

// Settings are what the service reads from the store besides the registry (store.Store): the
// threshold overrides of teams and patients, and the silences. Both change only by registry
// changes, so the service reads them again when the registry version moves.
type Settings interface {
	// AllOverrides returns every team's and every patient's overrides, by id.
	AllOverrides(ctx context.Context) (teams, patients map[string]Overrides, err error)
	// SilencesEndingAfter returns the silences that end after t.
	SilencesEndingAfter(ctx context.Context, t time.Time) ([]alerts.Silence, error)
}

// UseSettings makes the service apply the overrides and silences of src: each patient's
// readings are evaluated with Rules.Effective of their team's and their own overrides, and a
// finding about a silenced patient or device is recorded without notifying. Call it before
// the service observes anything.
func (s *Service) UseSettings(src Settings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings = src
	s.loaded = -1
}

// silenceLookback is how long before the registry was read the silences the service keeps
// may have ended: findings are about measurement time, and a late one is quiet anyway.
const silenceLookback = 24 * time.Hour

// Observe evaluates the observations and applies their findings. An error means nothing is
// lost: ingest observes the same messages again, and the lifecycle counts a repeated finding
// on the alert it already opened.
func (s *Service) Observe(ctx context.Context, seen []alerts.Observation) error {
	dir := s.syncCtx(ctx)
	var out []alerts.Finding
	for i := range seen {
		o := &seen[i]
		site := siteOf(dir, o.Device.SiteID)
		switch {
		case o.Message != nil:
			in := Input{Message: *o.Message, Device: *o.Device, Site: site, Received: o.Received}
			if o.Patient != "" {
				if p, ok := dir.Patient(o.Patient); ok {
					in.Patient = *p
					in.Thresholds = s.thresholds(p)
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
func (s *Service) apply(ctx context.Context, fs []alerts.Finding) error {
	s.mu.Lock()
	if len(s.pending) > 0 {
		fs = append(s.pending, fs...)
		s.pending = nil
	}
	s.silence(fs)
	s.mu.Unlock()
	if len(fs) == 0 {
		return nil
	}
	_, err := s.life.Apply(ctx, fs)
	return err
}

// silence marks the findings whose subject is silenced at their time: by a silence of the
// patient or device, or, for a device fault, because the registry has the device under
// maintenance (its maintenance window). The caller holds mu.
func (s *Service) silence(fs []alerts.Finding) {
	dir := s.view.Load()
	for i := range fs {
		f := &fs[i]
		if f.Resolve || f.Silenced != "" {
			continue
		}
		f.Silenced = alerts.SilenceReason(*f, s.silences)
		if f.Silenced == "" && f.Category == alerts.Fault && !alerts.CallForHelp(*f) {
			id := f.Device
			if f.Subject.Kind == "device" {
				id = f.Subject.ID
			}
			if d, ok := dir.Device(id); ok && d.Status == devices.Maintenance {
				f.Silenced = alerts.MaintenanceReason
			}
		}
	}
}

// thresholds returns the thresholds in force for p: Rules.Effective of their team's and their
// own overrides, cached until the registry or the rules change. Overrides that cannot apply
// are left out and logged once per registry version.
func (s *Service) thresholds(p *devices.Patient) *Thresholds {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.thresholdsLocked(p)
}

// thresholdsLocked is thresholds for a caller that holds mu.
func (s *Service) thresholdsLocked(p *devices.Patient) *Thresholds {
	rules := s.engine.Rules()
	if s.effRules != rules {
		s.effective, s.effRules = nil, rules
	}
	if th, ok := s.effective[p.ID]; ok {
		return th
	}
	th, err := rules.Effective(s.teams[p.TeamID], s.people[p.ID])
	if err != nil {
		// The patient's id only at debug: logs above it carry no patient ids.
		s.log.Warn("a patient's overrides left out: they do not fit the rules", "team", p.TeamID, "err", err)
		s.log.Debug("overrides left out", "patient", p.ID)
	}
	if s.effective == nil {
		s.effective = make(map[string]*Thresholds)
	}
	s.effective[p.ID] = th
	return th
}

// Run evaluates the time-driven rules every interval until ctx ends, then returns nil.
// Findings that cannot be written are kept for the next try.
func (s *Service) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.syncCtx(ctx)
		fs := s.engine.Tick(time.Time{})
		if err := s.apply(ctx, fs); err != nil && ctx.Err() == nil {
			s.log.Error("applying time-driven findings failed; retrying at the next tick", "err", err, "count", len(fs))
			s.mu.Lock()
			s.pending = append(s.pending, fs...)
			s.mu.Unlock()
		}
	}
}

// sync is syncCtx without a caller's context.
func (s *Service) sync() *devices.Directory { return s.syncCtx(context.Background()) }

// syncCtx tells the engine of every device and patient when the registry has changed, with
// the overrides and silences of that time, and returns the current directory.
func (s *Service) syncCtx(ctx context.Context) *devices.Directory {
	dir := s.view.Load()
	s.load(ctx, dir.Version())
	s.mu.Lock()
	defer s.mu.Unlock()
	if dir.Version() == s.synced {
		return dir
	}
	s.synced = dir.Version()
	var fs []alerts.Finding
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
			s.engine.SetPatient(*p, siteOf(dir, lentAt[p.ID]), s.thresholdsLocked(p))
		}
		return true
	})
	s.pending = append(s.pending, fs...)
	return dir
}

// load reads the overrides and silences again when the registry version differs from the one
// they were read at. On failure it keeps what it had, logs, and tries again next time.
func (s *Service) load(ctx context.Context, version int64) {
	s.mu.Lock()
	src, loaded := s.settings, s.loaded
	s.mu.Unlock()
	if src == nil || loaded == version {
		return
	}
	teams, people, err := src.AllOverrides(ctx)
	if err != nil {
		s.log.Error("reading threshold overrides failed; keeping the previous ones", "err", err)
		return
	}
	silences, err := src.SilencesEndingAfter(ctx, s.engine.now(time.Time{}).Add(-silenceLookback))
	if err != nil {
		s.log.Error("reading silences failed; keeping the previous ones", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.teams, s.people, s.silences, s.loaded = teams, people, silences, version
	s.effective = nil
}

func siteOf(dir *devices.Directory, id string) devices.Site {
	if s, ok := dir.Site(id); ok {
		return *s
	}
	return devices.Site{ID: id}
}
