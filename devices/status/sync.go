package status

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Store keeps the devices' live state for every instance (package store implements it). Each
// save is one entry of a log, which is cheap whatever it holds; now and then the log's older
// entries are folded into one record per device.
type Store interface {
	// AppendDeviceStatus saves recs, with the hour counts not yet saved, as one entry of the
	// log, in one transaction; instance names the saver. Entries are numbered in the order
	// they commit.
	AppendDeviceStatus(ctx context.Context, instance string, recs []Record) error
	// DeviceStatusLog returns the entries after number after, oldest first, and the number to
	// pass next time; ErrFolded when some of them have been folded away since.
	DeviceStatusLog(ctx context.Context, after int64) ([]LogEntry, int64, error)
	// LoadDeviceStatus returns every device's folded record, with its hour counts from
	// fromHour on, then the records of the entries not yet folded, and the number of the
	// last entry they include.
	LoadDeviceStatus(ctx context.Context, fromHour int64) ([]Record, int64, error)
	// FoldDeviceStatus merges the entries saved more than olderThan ago into the folded
	// records, field by field as Record.Merge does and adding their counts, and deletes them.
	FoldDeviceStatus(ctx context.Context, olderThan time.Duration) error
	// PruneDeviceStatusHours forgets the folded hour counts before hour before.
	PruneDeviceStatusHours(ctx context.Context, before int64) error
}

// LogEntry is one save: the records an instance saved at once.
type LogEntry struct {
	Instance string
	Records  []Record
}

// ErrFolded says that entries a reader had not read yet were folded: it must load again.
var ErrFolded = errors.New("status: the log was folded past what was read")

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

// Folding: every foldEvery, the entries older than foldAfter are folded. An instance reads the
// log every save interval (at most 1m), so it has read them by then; one that has not loads
// again.
const (
	foldEvery = time.Minute
	foldAfter = 3 * time.Minute
)

// finalLimit bounds the last save, once Run's context has ended.
const finalLimit = 10 * time.Second

// Sync keeps a tracker and the store in step: every few seconds it appends the devices that
// changed to the store's log, adds what other instances appended since it last looked, and
// now and then folds the log. Run it once the tracker is loaded (Load).
type Sync struct {
	t        *Tracker
	st       Store
	opts     SyncOptions
	log      *slog.Logger
	instance string // names this process's entries in the log
	seen     int64  // the last entry read
	steps    int    // since the last fold
	pruned   int64  // the hour counts were last pruned for this hour
}

// NewSync returns a Sync of t with st.
func NewSync(t *Tracker, st Store, opts SyncOptions) *Sync {
	if opts.Every <= 0 {
		opts.Every = 5 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	id := make([]byte, 8)
	rand.Read(id)
	return &Sync{t: t, st: st, opts: opts, log: opts.Log.With("component", "device status"), instance: hex.EncodeToString(id)}
}

// Load reads what the store holds into the tracker: the state the instances saved before this
// one started, or since it fell behind.
func (s *Sync) Load(ctx context.Context) error {
	recs, next, err := s.st.LoadDeviceStatus(ctx, HourOf(s.t.now())-HoursKept+1)
	if err != nil {
		return fmt.Errorf("device status: load: %w", err)
	}
	s.t.Load(recs)
	s.seen = next
	return nil
}

// Run saves and reads every opts.Every until ctx ends, then saves once more (for at most 10 s)
// and returns. A failed save is kept for the next one, and logged.
func (s *Sync) Run(ctx context.Context) error {
	tick := time.NewTicker(s.opts.Every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := s.Step(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("saving or reading the devices' live state failed; what was not saved is kept for the next try", "err", err)
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

// Step saves what changed, adds what the other instances saved since the last step, folds the
// log once a minute and forgets the folded hour counts older than a day once an hour.
func (s *Sync) Step(ctx context.Context) error {
	if err := s.save(ctx); err != nil {
		return err
	}
	if err := s.pull(ctx); err != nil {
		return err
	}
	if s.steps++; time.Duration(s.steps)*s.opts.Every >= foldEvery {
		if err := s.st.FoldDeviceStatus(ctx, foldAfter); err != nil {
			return err
		}
		s.steps = 0
	}
	if h := HourOf(s.t.now()); h != s.pruned {
		if err := s.st.PruneDeviceStatusHours(ctx, h-HoursKept); err != nil {
			return err
		}
		s.pruned = h
	}
	return nil
}

// save appends the tracker's changes to the log, giving them back if it fails.
func (s *Sync) save(ctx context.Context) error {
	recs := s.t.Changes()
	if len(recs) == 0 {
		return nil
	}
	if err := s.st.AppendDeviceStatus(ctx, s.instance, recs); err != nil {
		s.t.Unsaved(recs)
		return err
	}
	return nil
}

// pull adds what the other instances appended since the last pull; if the log was folded past
// it meanwhile, it loads again.
func (s *Sync) pull(ctx context.Context) error {
	entries, next, err := s.st.DeviceStatusLog(ctx, s.seen)
	if errors.Is(err, ErrFolded) {
		s.log.Info("the device status log was folded past what this instance read; loading it again")
		return s.Load(ctx)
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Instance != s.instance {
			s.t.Add(e.Records)
		}
	}
	s.seen = next
	return nil
}
