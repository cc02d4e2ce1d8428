package ingest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The waits double from the initial interval up to the ceiling, and start again from the
// initial interval after a reset.
func TestBackoffDoublesToCeilingAndResets(t *testing.T) {
	b := newBackoff(100*time.Millisecond, time.Second)
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for i, w := range want {
		if got := b.next(); got != w {
			t.Fatalf("wait %d = %v; want %v", i+1, got, w)
		}
	}
	b.reset()
	if got := b.next(); got != 100*time.Millisecond {
		t.Errorf("wait after reset = %v; want 100ms", got)
	}
}

// retry calls the attempt until it works, and reports true.
func TestRetryUntilItWorks(t *testing.T) {
	p := &Pipeline{cfg: Config{RetryInterval: time.Millisecond, MaxRetryInterval: 4 * time.Millisecond}}
	calls := 0
	ok := p.retry(context.Background(), func() error {
		if calls++; calls < 4 {
			return errors.New("not yet")
		}
		return nil
	})
	if !ok || calls != 4 {
		t.Errorf("retry = %v after %d calls; want true after 4", ok, calls)
	}
}

// retry stops, reporting false, when its context ends while the attempt keeps failing.
func TestRetryStopsWhenContextEnds(t *testing.T) {
	p := &Pipeline{cfg: Config{RetryInterval: time.Hour, MaxRetryInterval: time.Hour}}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan bool)
	go func() {
		done <- p.retry(ctx, func() error { calls++; return errors.New("down") })
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case ok := <-done:
		if ok || calls != 1 {
			t.Errorf("retry = %v after %d calls; want false after 1", ok, calls)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("retry did not return when its context ended")
	}
}
