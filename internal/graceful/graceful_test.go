package graceful

import (
	"context"
	"testing"
	"time"
)

func TestRunLetsWorkFinishAfterCtxEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var workCtxErr error
	cancel()
	cut := Run(ctx, nil, time.Minute, func() { close(stopped) }, func(work context.Context) {
		<-stopped // finishes only once told to stop, after ctx ended
		workCtxErr = work.Err()
	})
	if cut || workCtxErr != nil {
		t.Errorf("Run = cut %v, work's context %v; want work to finish on stop with its context still live", cut, workCtxErr)
	}
}

func TestRunCutsWorkOffAfterLimit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cut := Run(ctx, nil, 10*time.Millisecond, func() {}, func(work context.Context) { <-work.Done() })
	if !cut {
		t.Error("Run = not cut; want work that ignores stop cut off after the limit")
	}
}

func TestRunStopsOnAlso(t *testing.T) {
	also := make(chan struct{})
	stopped := make(chan struct{})
	close(also)
	cut := Run(context.Background(), also, time.Minute, func() { close(stopped) }, func(context.Context) { <-stopped })
	if cut {
		t.Error("Run = cut; want work that finished on stop")
	}
}

func TestRunReturnsWhenWorkEndsByItself(t *testing.T) {
	calledStop := false
	cut := Run(context.Background(), nil, time.Minute, func() { calledStop = true }, func(context.Context) {})
	if cut || calledStop {
		t.Errorf("Run = cut %v, stop called %v; want neither when work returns on its own", cut, calledStop)
	}
}
