package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder notes what the components of a test group did, in order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// The group stops its components one at a time, in the order they were added, each once the
// one before has returned, and returns nil when its context ended.
func TestGroupStopsInOrder(t *testing.T) {
	r := &recorder{}
	g := group{log: slog.New(slog.NewTextHandler(io.Discard, nil)), stopping: func() { r.note("stopping") }}
	for _, name := range []string{"broker", "ingest", "http"} {
		g.add(name, func(ctx context.Context) error {
			<-ctx.Done()
			r.note(name + " told")
			time.Sleep(20 * time.Millisecond) // a stop that takes a while
			r.note(name + " returned")
			return nil
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- g.run(ctx) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-ran; err != nil {
		t.Errorf("run = %v; want nil", err)
	}
	want := []string{"stopping", "broker told", "broker returned", "ingest told", "ingest returned", "http told", "http returned"}
	if got := r.got(); !slices.Equal(got, want) {
		t.Errorf("events = %q; want %q", got, want)
	}
}

// A component that returns by itself stops the others, in order, and its error is the
// group's, named after it.
func TestGroupStopsWhenAComponentFails(t *testing.T) {
	r := &recorder{}
	g := group{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	g.add("pipeline", func(ctx context.Context) error {
		<-ctx.Done()
		r.note("pipeline")
		return nil
	})
	g.add("http", func(context.Context) error { return errors.New("listener closed") })
	g.add("refresh", func(ctx context.Context) error {
		<-ctx.Done()
		r.note("refresh")
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- g.run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || err.Error() != "http: listener closed" {
			t.Errorf("run = %v; want http: listener closed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after a component failed")
	}
	if got, want := r.got(), []string{"pipeline", "refresh"}; !slices.Equal(got, want) {
		t.Errorf("events = %q; want %q", got, want)
	}
}

// A component that returns nil by itself is a failure too: nothing else would stop serve.
func TestGroupComponentStoppingByItselfIsAnError(t *testing.T) {
	g := group{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	g.add("hub", func(context.Context) error { return nil })
	if err := g.run(context.Background()); err == nil || !strings.Contains(err.Error(), "hub") {
		t.Errorf("run = %v; want an error naming hub", err)
	}
}

// An error a component returns as it stops is logged and does not stop the others stopping.
func TestGroupLogsErrorsWhileStopping(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	g := group{log: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))}
	g.add("ingest", func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("did not flush in 30s")
	})
	later := false
	g.add("uses", func(ctx context.Context) error {
		<-ctx.Done()
		later = true
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.run(ctx); err != nil {
		t.Errorf("run = %v; want nil: the stop was asked for", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !later || !strings.Contains(logs.String(), "component=ingest") || !strings.Contains(logs.String(), "did not flush") {
		t.Errorf("logs =\n%s\nlater component stopped: %v; want the ingest error logged and the next component stopped", logs.String(), later)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
