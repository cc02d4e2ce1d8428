package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/app"
)

// listening tells a caller (a test) the addresses serve ended up on.
type listening = app.Addrs

// serveOption changes what serve takes from outside its configuration; tests use them.
type serveOption func(*app.Options)

// withClock makes serve read the time from now rather than time.Now: the alert rules, the
// escalator and the webhook schedule, ingest's receive times, the fleet reports and the replay
// at start. A scenario test drives it to play days of readings in seconds.
func withClock(now func() time.Time) serveOption {
	return func(o *app.Options) { o.Now = now }
}

// serve runs the platform (package app) until ctx ends, then shuts down in order. started, if
// not nil, is told the addresses it listens on.
func serve(ctx context.Context, cfg *Config, log *slog.Logger, started func(listening), options ...serveOption) error {
	if cfg.Alerts.Enabled {
		// The rules file is read at start-up's first step, with the configuration, so that a
		// bad one stops serve before anything is opened; other commands do not read it.
		if _, err := cfg.Rules(); err != nil {
			return err
		}
	}
	opts := app.Options{Started: started}
	for _, o := range options {
		o(&opts)
	}
	return app.Run(ctx, cfg, log, opts)
}
