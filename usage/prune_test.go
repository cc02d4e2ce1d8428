package usage_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// cutKeys is a store that tells each cut-off the Pruner asks for.
type cutKeys struct {
	*store.Store
	cuts chan time.Time
}

func (c cutKeys) PruneUses(ctx context.Context, recordedBefore time.Time) (int64, error) {
	n, err := c.Store.PruneUses(ctx, recordedBefore)
	c.cuts <- recordedBefore
	return n, err
}

// TestPrunerFollowsItsClock runs a Pruner whose clock is two hours ahead and moves an hour at
// each prune, with a window of an hour: it forgets a key recorded now, which time.Now would
// keep for an hour, and each cut-off is the clock's time less the window.
func TestPrunerFollowsItsClock(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "vw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	use := usage.Use{Device: "ox-1", Site: "s1", At: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Day: "2026-03-01"}
	if added, err := st.RecordUses(ctx, []usage.Use{use}); err != nil || added != 1 {
		t.Fatalf("RecordUses = %d, %v; want 1 added", added, err)
	}
	if added, err := st.RecordUses(ctx, []usage.Use{use}); err != nil || added != 0 {
		t.Fatalf("RecordUses again = %d, %v; want 0 added: the key is kept", added, err)
	}

	start := time.Now().Add(2 * time.Hour)
	calls := 0
	clock := func() time.Time { // called by the Pruner's goroutine only
		calls++
		return start.Add(time.Duration(calls-1) * time.Hour)
	}
	keys := cutKeys{Store: st, cuts: make(chan time.Time, 16)}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := usage.NewPruner(keys, time.Hour, 10*time.Millisecond, clock, slog.New(slog.DiscardHandler)).Run(runCtx); err != nil {
			t.Errorf("Run = %v; want nil once its context ends", err)
		}
	}()
	for i := range 2 {
		select {
		case cut := <-keys.cuts:
			if want := start.Add(time.Duration(i-1) * time.Hour); !cut.Equal(want) {
				t.Errorf("prune %d cut at %v; want %v, the clock's time less the window", i+1, cut, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("prune %d did not happen", i+1)
		}
	}
	stop()
	<-done

	if added, err := st.RecordUses(ctx, []usage.Use{use}); err != nil || added != 1 {
		t.Errorf("RecordUses after the prune = %d, %v; want 1 added: the key was forgotten", added, err)
	}
}
