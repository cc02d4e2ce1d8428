package usage

import (
	"context"
	"log/slog"
	"time"
)

// PruneEvery is how often serve forgets use keys past usage.dedupe_window.
const PruneEvery = time.Hour

// KeyStore forgets the use keys it recorded before a time, and says how many it forgot.
type KeyStore interface {
	PruneUses(ctx context.Context, recordedBefore time.Time) (int64, error)
}

// Pruner forgets the use keys recorded more than a window ago, so that the keys a store keeps
// to count a reading delivered twice once stay bounded. Create it with NewPruner and run it
// with Run.
type Pruner struct {
	store            KeyStore
	window, interval time.Duration
	now              func() time.Time
	log              *slog.Logger
}

// NewPruner returns a Pruner of st's use keys recorded more than window before the clock now
// (time.Now if nil), every interval.
func NewPruner(st KeyStore, window, interval time.Duration, now func() time.Time, log *slog.Logger) *Pruner {
	if now == nil {
		now = time.Now
	}
	return &Pruner{store: st, window: window, interval: interval, now: now, log: log}
}

// Run prunes at once and then every interval until ctx ends, then returns nil. A failure is
// logged and tried again at the next interval.
func (p *Pruner) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		n, err := p.store.PruneUses(ctx, p.now().Add(-p.window))
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.Warn("pruning use keys failed; trying again later", "err", err)
		case n > 0:
			p.log.Info("forgot use keys past the deduplication window", "count", n, "window", p.window)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
