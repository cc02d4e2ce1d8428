package status

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Store keeps the devices' live state for every instance (package store implements it).
type Store interface {
	// SaveDeviceStatus merges recs into the stored records in one transaction, field by field
	// as Record.Merge does, and adds their hour counts to the stored ones.
	SaveDeviceStatus(ctx context.Context, recs []Record) error
	// DeviceStatusSince returns the records saved, by any instance, after the point after (0:
	// every record), with their hour counts from fromHour on, and the point to pass next time.
	// A record may come with only its hours when only they changed.
	DeviceStatusSince(ctx context.Context, after, fromHour int64) ([]Record, int64, error)
	// PruneDeviceStatusHours forgets the hour counts before hour before.
	PruneDeviceStatusHours(ctx context.Context, before int64) error
}

// SyncOptions tune a Sync.
type SyncOptions struct {
	// Every is how often it saves what changed and reads what other instances saved:
	// default 5s.
	Every time.Duration
	// EmbeddedBroker says this process runs the embedded broker, whose connections end when
	// it stops: the last save then records the devices it had connected as broker_stopped.
	EmbeddedBroker bool
	Log            *slog.Logger
}

// finalLimit bounds the last save, once Run's context has ended.
const finalLimit = 10 * time.Second

// Sync keeps a tracker and the store in step: every few seconds it saves the devices that
// changed, in one transaction, and merges what any instance saved since it last looked. Run it
// once the tracker is loaded (Load).
type Sync struct {
	t      *Tracker
	st     Store
	opts   SyncOptions
	log    *slog.Logger
	seen   int64 // the store's point read up to
	pruned int64 // the hour counts were last pruned for this hour
}

// NewSync returns a Sync of t with st.
func NewSync(t *Tracker, st Store, opts SyncOptions) *Sync {
	if opts.Every <= 0 {
		opts.Every = 5 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Sync{t: t, st: st, opts: opts, log: opts.Log.With("component", "device status")}
}

// Load reads every stored record into the tracker: the state the instances saved before this
// one started.
func (s *Sync) Load(ctx context.Context) error {
	if err := s.pull(ctx); err != nil {
		return fmt.Errorf("device status: load: %w", err)
	}
	return nil
}

// Run saves and merges every opts.Every until ctx ends, then saves once more (for at most
// 10 s) and returns. A failed save is kept for the next one, and logged.
func (s *Sync) Run(ctx context.Context) error {
	tick := time.NewTicker(s.opts.Every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := s.Step(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("saving the devices' live state failed; it is kept for the next try", "err", err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalLimit)
			defer cancel()
			if s.opts.EmbeddedBroker {
				s.t.BrokerStopped(s.t.now())
			}
			if err := s.save(final); err != nil {
				return fmt.Errorf("device status: last save: %w", err)
			}
			return nil
		}
	}
}

// Step saves what changed, merges what was saved since the last step, and once an hour
// forgets the hour counts older than a day.
func (s *Sync) Step(ctx context.Context) error {
	if err := s.save(ctx); err != nil {
		return err
	}
	if err := s.pull(ctx); err != nil {
		return err
	}
	if h := HourOf(s.t.now()); h != s.pruned {
		if err := s.st.PruneDeviceStatusHours(ctx, h-HoursKept); err != nil {
			return err
		}
		s.pruned = h
	}
	return nil
}

// save hands the tracker's changes to the store, giving them back if it fails.
func (s *Sync) save(ctx context.Context) error {
	recs := s.t.Changes()
	if len(recs) == 0 {
		return nil
	}
	if err := s.st.SaveDeviceStatus(ctx, recs); err != nil {
		s.t.Unsaved(recs)
		return err
	}
	return nil
}

// pull merges what was saved since the last pull.
func (s *Sync) pull(ctx context.Context) error {
	recs, next, err := s.st.DeviceStatusSince(ctx, s.seen, HourOf(s.t.now())-HoursKept+1)
	if err != nil {
		return err
	}
	s.t.Merge(recs)
	s.seen = next
	return nil
}
