package devices

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Source is where directories come from: the registry store.
type Source interface {
	RegistryVersion(ctx context.Context) (int64, error)
	LoadDirectory(ctx context.Context) (*Directory, error)
}

// Changes is a Source that can bring a directory to the registry's version by reading only
// what changed after it (the store's LoadDirectorySince).
type Changes interface {
	LoadDirectorySince(ctx context.Context, old *Directory) (*Directory, error)
}

// Refresh loads the registry into v if its version differs from the one v holds.
func Refresh(ctx context.Context, v *View, src Source) error {
	_, err := refresh(ctx, v, src)
	return err
}

// refresh is Refresh that also says whether it stored a new directory. It never replaces a
// directory with an older one: versions only grow, and two refreshes may finish out of order.
func refresh(ctx context.Context, v *View, src Source) (bool, error) {
	ver, err := src.RegistryVersion(ctx)
	if err != nil {
		return false, fmt.Errorf("registry version: %w", err)
	}
	if cur := v.Load(); cur != nil && cur.Version() >= ver {
		return false, nil
	}
	var d *Directory
	if ch, ok := src.(Changes); ok && v.Load() != nil {
		d, err = ch.LoadDirectorySince(ctx, v.Load())
	} else {
		d, err = src.LoadDirectory(ctx)
	}
	if err != nil {
		return false, fmt.Errorf("load registry: %w", err)
	}
	if cur := v.Load(); cur != nil && cur.Version() >= d.Version() {
		return false, nil
	}
	v.Store(d)
	return true, nil
}

// Refresher keeps a View in step with the registry: on a timer, for changes that other
// instances make, and on demand, so that a change this instance makes is in force here (in the
// broker's access checks, ingest and the alert rules) before the request that made it answers.
type Refresher struct {
	view    *View
	src     Source
	changed func(*Directory)
	log     *slog.Logger
	mu      sync.Mutex // one load at a time: a burst of changes costs one load each, not more
}

// NewRefresher returns a Refresher of v from src. changed, if not nil, is called after each new
// directory is in the view (the embedded broker disconnects revoked devices there).
func NewRefresher(v *View, src Source, changed func(*Directory), log *slog.Logger) *Refresher {
	return &Refresher{view: v, src: src, changed: changed, log: log}
}

// Refresh brings the view up to the registry's current version and returns once it is in
// force. It is cheap when nothing changed: one read of the version.
func (r *Refresher) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	stored, err := refresh(ctx, r.view, r.src)
	if err != nil || !stored {
		return err
	}
	d := r.view.Load()
	r.log.Info("registry reloaded", "version", d.Version(), "devices", d.Len())
	if r.changed != nil {
		r.changed(d)
	}
	return nil
}

// Run refreshes every interval until ctx ends, then returns nil; a failed refresh keeps the
// previous view and is tried again. Every mutation of the registry bumps its version, so a
// change made by any instance sharing the store is seen within one interval.
func (r *Refresher) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("registry refresh failed; keeping the previous view", "err", err)
		}
	}
}
