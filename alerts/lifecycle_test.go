package alerts

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// batchStore records which of its two ways each call took.
type batchStore struct{ one, batches int }

func (s *batchStore) ApplyFinding(_ context.Context, f Finding) (Alert, Event, bool, error) {
	s.one++
	a, ev := Raise(f, time.Now())
	ev.ID = 1
	return a, ev, ev.Notify, nil
}

func (s *batchStore) ApplyFindings(_ context.Context, fs []Finding) []Applied {
	s.batches++
	out := make([]Applied, len(fs))
	for i, f := range fs {
		a, ev := Raise(f, time.Now())
		ev.ID = int64(i + 1)
		out[i] = Applied{Alert: a, Event: ev, Notify: ev.Notify}
	}
	return out
}

// A store that records batches gets every batch, one finding included: its batch runs the
// statements it keeps prepared, where one finding at a time parses them again.
func TestLifecycleApplyBatchesEvenOne(t *testing.T) {
	s := &batchStore{}
	l := NewLifecycle(s, nil, slog.New(slog.DiscardHandler))
	f := Finding{Rule: "fever", Category: Clinical, Severity: Warning, Subject: Subject{Kind: "patient", ID: "p1"}, At: time.Now()}
	for _, n := range []int{1, 3} {
		fs := make([]Finding, n)
		for i := range fs {
			fs[i] = f
		}
		changes, err := l.Apply(context.Background(), fs)
		if err != nil || len(changes) != n {
			t.Fatalf("Apply(%d findings) = %d changes, %v; want %d", n, len(changes), err, n)
		}
	}
	if s.batches != 2 || s.one != 0 {
		t.Errorf("%d batches and %d findings one at a time; want 2 batches, none one at a time", s.batches, s.one)
	}
}
