package devices

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Source is where directories come from: the registry store.
type Source interface {
	RegistryVersion(ctx context.Context) (int64, error)
	LoadDirectory(ctx context.Context) (*Directory, error)
}

// Refresh loads the registry into v if its version differs from the one v holds.
func Refresh(ctx context.Context, v *View, src Source) error {
	ver, err := src.RegistryVersion(ctx)
	if err != nil {
		return fmt.Errorf("registry version: %w", err)
	}
	if cur := v.Load(); cur != nil && cur.Version() == ver {
		return nil
	}
	d, err := src.LoadDirectory(ctx)
	if err != nil {
		return fmt.Errorf("load registry: %w", err)
	}
	v.Store(d)
	return nil
}

// KeepFresh refreshes v every interval until ctx ends, calling changed (if not nil) after each
// new directory. Every mutation of the registry bumps its version, so a change made by any
// instance sharing the store is seen within one interval.
func KeepFresh(ctx context.Context, v *View, src Source, every time.Duration, log *slog.Logger, changed func(*Directory)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		before := v.Load()
		if err := Refresh(ctx, v, src); err != nil {
			if ctx.Err() == nil {
				log.Warn("registry refresh failed; keeping the previous view", "err", err)
			}
			continue
		}
		if after := v.Load(); after != before {
			log.Info("registry reloaded", "version", after.Version(), "devices", after.Len())
			if changed != nil {
				changed(after)
			}
		}
	}
}
