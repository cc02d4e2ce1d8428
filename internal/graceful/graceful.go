// Package graceful runs a component's work past the end of its context for a bounded time, so
// that the component can finish what it holds (write, acknowledge, commit) before it returns.
package graceful

import (
	"context"
	"sync"
	"time"
)

// Run calls work with a context that outlives ctx. When ctx ends, or when also is closed (nil:
// never), Run calls stop, which tells work to finish what it holds and return. If work has not
// returned within limit after that, its context is cancelled. Run returns once work has, and
// reports whether it had to cancel it.
func Run(ctx context.Context, also <-chan struct{}, limit time.Duration, stop func(), work func(context.Context)) (cutOff bool) {
	workCtx, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	finished := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		select {
		case <-ctx.Done():
		case <-also:
		case <-finished:
			return
		}
		stop()
		timer := time.NewTimer(limit)
		defer timer.Stop()
		select {
		case <-finished:
		case <-timer.C:
			cutOff = true
			cut()
		}
	})
	work(workCtx)
	close(finished)
	watch.Wait()
	return cutOff
}
