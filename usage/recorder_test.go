package usage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeUseStore records uses as the real store does: once per device and time, in one step per call.
type fakeUseStore struct {
	mu    sync.Mutex
	uses  map[string]Use
	calls [][]Use
	folds int
	// before, when set, runs at the start of every call (numbered from 0) and may fail it.
	before func(call int) error
}

func newFakeUseStore() *fakeUseStore { return &fakeUseStore{uses: map[string]Use{}} }

func (f *fakeUseStore) RecordUses(ctx context.Context, uses []Use) (int, error) {
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, append([]Use(nil), uses...))
	before := f.before
	f.mu.Unlock()
	if before != nil {
		if err := before(call); err != nil {
			return 0, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	added := 0
	for _, u := range uses {
		k := fmt.Sprintf("%s@%d", u.Device, u.At.UnixMilli())
		if _, ok := f.uses[k]; !ok {
			f.uses[k] = u
			added++
		}
	}
	return added, nil
}

func (f *fakeUseStore) FoldUses(ctx context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.folds++
	return 0, nil
}

func (f *fakeUseStore) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// runRecorder runs a Recorder on st until the test ends.
func runRecorder(t *testing.T, st Store) *Recorder {
	t.Helper()
	r := NewRecorder(st, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(context.Background())
	}()
	t.Cleanup(func() {
		r.Close()
		<-done
	})
	return r
}

var recT0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// recUses returns n uses of device, a second apart from recT0 plus offset seconds.
func recUses(device string, offset, n int) []Use {
	out := make([]Use, n)
	for i := range out {
		at := recT0.Add(time.Duration(offset+i) * time.Second)
		out[i] = Use{Device: device, Site: "s1", At: at, Day: DayOf(at, time.UTC)}
	}
	return out
}

// Callers that arrive while a transaction commits share the next one.
func TestRecorderGroupsCallersWhileACommitRuns(t *testing.T) {
	st := newFakeUseStore()
	release := make(chan struct{})
	st.before = func(call int) error {
		if call == 0 {
			<-release
		}
		return nil
	}
	r := runRecorder(t, st)
	ctx := context.Background()
	errs := make(chan error, 9)
	go func() { errs <- r.Record(ctx, recUses("first", 0, 3)) }()
	for st.callCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := range 8 {
		go func() { errs <- r.Record(ctx, recUses(fmt.Sprintf("dev-%d", i), 0, 10)) }()
	}
	for len(r.requests) < 8 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range 9 {
		if err := <-errs; err != nil {
			t.Fatalf("Record = %v; want nil", err)
		}
	}
	if n := st.callCount(); n != 2 {
		t.Fatalf("store called %d times; want 2: the first caller, then the 8 that waited, together", n)
	}
	if got := len(st.calls[1]); got != 80 {
		t.Errorf("second transaction held %d uses; want 80", got)
	}
	if len(st.uses) != 83 {
		t.Errorf("store holds %d uses; want 83", len(st.uses))
	}
}

// An error reaches every caller of the group, and each can record again.
func TestRecorderErrorReachesEveryCallerOfTheGroup(t *testing.T) {
	st := newFakeUseStore()
	release := make(chan struct{})
	failed := errors.New("database is locked")
	st.before = func(call int) error {
		switch call {
		case 0:
			<-release
		case 1:
			return failed
		}
		return nil
	}
	r := runRecorder(t, st)
	ctx := context.Background()
	first := make(chan error, 1)
	go func() { first <- r.Record(ctx, recUses("first", 0, 1)) }()
	for st.callCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	errs := make(chan error, 4)
	for i := range 4 {
		go func() { errs <- r.Record(ctx, recUses(fmt.Sprintf("dev-%d", i), 0, 5)) }()
	}
	for len(r.requests) < 4 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Record = %v; want nil", err)
	}
	for range 4 {
		if err := <-errs; !errors.Is(err, failed) {
			t.Errorf("Record in the failed group = %v; want %v", err, failed)
		}
	}
	for i := range 4 {
		if err := r.Record(ctx, recUses(fmt.Sprintf("dev-%d", i), 0, 5)); err != nil {
			t.Errorf("Record again = %v; want nil", err)
		}
	}
	if len(st.uses) != 21 {
		t.Errorf("store holds %d uses; want 21", len(st.uses))
	}
}

// Many callers recording overlapping uses through failures, retrying as ingest does, end with
// every use recorded once.
func TestRecorderLosesAndRepeatsNothing(t *testing.T) {
	st := newFakeUseStore()
	st.before = func(call int) error {
		if call%3 == 1 {
			return errors.New("injected failure")
		}
		return nil
	}
	r := runRecorder(t, st)
	want := map[string]bool{}
	var batches [][]Use
	for c := range 6 {
		for b := range 20 {
			// Devices overlap between callers; times overlap between batches.
			batch := recUses(fmt.Sprintf("dev-%d", (c+b)%4), b*5, 10)
			batches = append(batches, batch)
			for _, u := range batch {
				want[fmt.Sprintf("%s@%d", u.Device, u.At.UnixMilli())] = true
			}
		}
	}
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Go(func() {
			for _, batch := range batches[c*20 : (c+1)*20] {
				for r.Record(context.Background(), batch) != nil {
				}
			}
		})
	}
	wg.Wait()
	if len(st.uses) != len(want) {
		t.Fatalf("store holds %d uses; want %d", len(st.uses), len(want))
	}
	for k := range want {
		if _, ok := st.uses[k]; !ok {
			t.Errorf("use %s missing", k)
		}
	}
}

// A caller whose context ends gets its error; its uses are still committed, from Record's
// copy, whatever the caller does with its slice afterwards.
func TestRecorderCallerGivesUp(t *testing.T) {
	st := newFakeUseStore()
	release := make(chan struct{})
	st.before = func(call int) error {
		if call == 0 {
			<-release
		}
		return nil
	}
	r := runRecorder(t, st)
	go r.Record(context.Background(), recUses("blocker", 0, 1))
	for st.callCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	mine := recUses("impatient", 0, 3)
	if err := r.Record(ctx, mine); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Record with a context that ends = %v; want DeadlineExceeded", err)
	}
	clear(mine) // the caller reuses its buffer
	close(release)
	if err := r.Record(context.Background(), recUses("later", 0, 1)); err != nil {
		t.Fatal(err)
	}
	for _, u := range recUses("impatient", 0, 3) {
		if _, ok := st.uses[fmt.Sprintf("%s@%d", u.Device, u.At.UnixMilli())]; !ok {
			t.Errorf("use %+v of the caller that gave up was not committed", u)
		}
	}
	if len(st.uses) != 5 {
		t.Errorf("store holds %d uses; want 5", len(st.uses))
	}
}

// Close commits what is queued; later calls are refused.
func TestRecorderClose(t *testing.T) {
	st := newFakeUseStore()
	release := make(chan struct{})
	st.before = func(call int) error {
		if call == 0 {
			<-release
		}
		return nil
	}
	r := NewRecorder(st, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ran := make(chan error, 1)
	go func() { ran <- r.Run(context.Background()) }()
	errs := make(chan error, 3)
	go func() { errs <- r.Record(context.Background(), recUses("a", 0, 1)) }()
	for st.callCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	for _, dev := range []string{"b", "c"} {
		go func() { errs <- r.Record(context.Background(), recUses(dev, 0, 1)) }()
	}
	for len(r.requests) < 2 {
		time.Sleep(time.Millisecond)
	}
	r.Close()
	r.Close() // twice is fine
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("Record queued before Close = %v; want nil", err)
		}
	}
	if err := <-ran; err != nil {
		t.Errorf("Run after Close = %v; want nil", err)
	}
	if len(st.uses) != 3 {
		t.Errorf("store holds %d uses; want the 3 queued before Close", len(st.uses))
	}
	if st.folds != 1 {
		t.Errorf("the store was asked to fold %d times; want once, after the last uses", st.folds)
	}
	if err := r.Record(context.Background(), recUses("d", 0, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close = %v; want ErrClosed", err)
	}
	if err := r.Record(context.Background(), nil); err != nil {
		t.Errorf("Record(nothing) = %v; want nil", err)
	}
}

// A Recorder asks its store to fold every interval, only when it recorded uses since the last
// fold, and goes on after a fold fails.
func TestRecorderFolds(t *testing.T) {
	st := &foldCountingStore{fakeUseStore: newFakeUseStore(), fails: 1}
	r := NewRecorder(st, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.foldEvery = 5 * time.Millisecond
	ran := make(chan error, 1)
	go func() { ran <- r.Run(context.Background()) }()
	folds := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.folds
	}
	time.Sleep(50 * time.Millisecond)
	if n := folds(); n != 0 {
		t.Fatalf("%d folds before any use was recorded; want none", n)
	}
	if err := r.Record(context.Background(), recUses("a", 0, 2)); err != nil {
		t.Fatal(err)
	}
	// The first fold fails; the next tick folds again, and then nothing is left to fold.
	for deadline := time.Now().Add(10 * time.Second); folds() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("%d folds after uses were recorded; want 2 (one failed)", folds())
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := folds(); n != 2 {
		t.Errorf("%d folds; want 2: nothing was recorded after the second", n)
	}
	r.Close()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if n := folds(); n != 2 {
		t.Errorf("%d folds after Close; want still 2", n)
	}
}

// foldCountingStore is a fakeUseStore whose first fails folds fail.
type foldCountingStore struct {
	*fakeUseStore
	fails int
}

func (f *foldCountingStore) FoldUses(ctx context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.folds++
	if f.folds <= f.fails {
		return 0, errors.New("disk full")
	}
	return 0, nil
}

// When Run's context ends, the recorder closes: Run commits what is queued and returns nil,
// and Record refuses uses from then on rather than leave its caller hanging.
func TestRecorderRunCancelled(t *testing.T) {
	st := newFakeUseStore()
	r := NewRecorder(st, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()
	if err := r.Record(context.Background(), recUses("a", 0, 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
	if st.folds != 1 {
		t.Errorf("the store was asked to fold %d times; want once, as Run ended", st.folds)
	}
	done := make(chan error, 1)
	go func() { done <- r.Record(context.Background(), recUses("a", 0, 1)) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Record after Run ended = %v; want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Record hangs after Run ended")
	}
}

// A store that does not answer holds Run up for its stop limit only: then the caller waiting
// gets an error and so does Run.
func TestRecorderRunGivesUpAfterItsStopLimit(t *testing.T) {
	st := newFakeUseStore()
	r := NewRecorder(&stuckStore{st}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.stopLimit = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()
	recorded := make(chan error, 1)
	go func() { recorded <- r.Record(context.Background(), recUses("a", 0, 1)) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-ran:
		if err == nil {
			t.Error("Run = nil; want an error saying the uses were not recorded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its stop limit")
	}
	if err := <-recorded; err == nil {
		t.Error("Record = nil while the store never answered; want an error")
	}
}

// stuckStore's RecordUses waits until its context ends.
type stuckStore struct{ *fakeUseStore }

func (s *stuckStore) RecordUses(ctx context.Context, uses []Use) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}
