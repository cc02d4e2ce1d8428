package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/oklog/run"
)

// group runs components together under a run.Group, each a Run that ends when its context
// does. When the group's context ends, or a component returns by itself, it stops them one at
// a time in the order they were added, each once the one before has returned, so a component
// can rely on those added after it until it has stopped (the embedded broker drains while
// ingest still runs; ingest flushes while the use recorder still records).
type group struct {
	log        *slog.Logger
	components []component
	// stopping, if set, is called once, when the components start to stop.
	stopping func()
}

// component is one thing the group runs.
type component struct {
	name string
	run  func(context.Context) error
}

// add adds a component; its run must return soon after its context ends.
func (g *group) add(name string, run func(context.Context) error) {
	g.components = append(g.components, component{name, run})
}

// run runs the components until ctx ends or one of them returns, then stops them in order,
// and returns the error of the one that returned by itself, if any. An error a component
// returns while it stops is logged: the stop goes on.
func (g *group) run(ctx context.Context) error {
	var rg run.Group
	// run.Group interrupts its actors one after the other, in the order they were added (its
	// "deterministic teardown"); each interrupt below waits for its component to return, which
	// makes the teardown ordered. This first actor ends the group when ctx does.
	done, cancel := context.WithCancel(ctx)
	rg.Add(func() error {
		<-done.Done()
		return nil
	}, func(error) {
		cancel()
		if g.stopping != nil {
			g.stopping()
		}
	})
	for _, c := range g.components {
		// Each component has a context of its own, ended at its turn, not with ctx: the values
		// of ctx, not its end.
		cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		returned := make(chan struct{})
		var stopErr error // what run returned after it was told to stop
		rg.Add(func() error {
			defer close(returned)
			err := c.run(cctx)
			if cctx.Err() != nil {
				stopErr = err
				return nil
			}
			if err == nil {
				err = errors.New("stopped by itself")
			}
			return fmt.Errorf("%s: %w", c.name, err)
		}, func(error) {
			stop()
			<-returned
			if stopErr != nil {
				g.log.Warn("stopped with an error", "component", c.name, "err", stopErr)
			}
		})
	}
	return rg.Run()
}
