package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/internal/graceful"
)

// Store keeps the counts: RecordUses adds, in one transaction, the uses it has not recorded
// before and says how many it added. Recording a use again must change nothing, which is what
// makes a retry after an error safe. FoldUses does the store's deferred work on what was
// recorded (adding it to the counts per day); it changes no count that can be read.
type Store interface {
	RecordUses(ctx context.Context, uses []Use) (added int, err error)
	FoldUses(ctx context.Context) (folded int, err error)
}

// FoldEvery is how often a Recorder that has recorded uses asks its store to fold them.
const FoldEvery = 5 * time.Second

// ErrClosed is returned by Record once the Recorder is closed.
var ErrClosed = errors.New("usage: recorder closed")

// MaxGroup is the most uses a Recorder commits in one transaction, unless one caller's uses
// alone are more.
const MaxGroup = 50000

// Recorder records uses in the store for many callers, a group at a time: the uses of every
// caller that arrives while a transaction commits go together into the next one. A commit
// costs about the same for one caller's uses as for many callers', so under load the cost per
// use falls as the groups grow.
//
// Create it with NewRecorder and run it with Run until its context ends (or Close).
type Recorder struct {
	store     Store
	log       *slog.Logger
	requests  chan *request
	closing   chan struct{}
	stopped   chan struct{}
	stopOnce  sync.Once
	buf       []Use
	unfolded  bool          // uses were recorded since the last fold
	foldEvery time.Duration // FoldEvery, but for tests
	stopLimit time.Duration // stopLimit, but for tests

	commits prometheus.Counter
	errs    prometheus.Counter
	added   prometheus.Counter
	seconds prometheus.Histogram
}

type request struct {
	mu    sync.Mutex
	uses  []Use // the caller's, until the committer has copied them (taken)
	taken bool
	done  chan error // buffered: the committer never waits for the caller
}

// NewRecorder returns a Recorder in front of st, with its metrics registered with reg.
func NewRecorder(st Store, reg prometheus.Registerer, log *slog.Logger) *Recorder {
	r := &Recorder{
		store: st, log: log.With("component", "usage"), foldEvery: FoldEvery,
		requests: make(chan *request, 64), closing: make(chan struct{}), stopped: make(chan struct{}), stopLimit: stopLimit,
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_usage_commits_total", Help: "Transactions that recorded device uses."}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_usage_commit_errors_total", Help: "Transactions of device uses that failed (their callers retry)."}),
		added: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitalwatch_usage_uses_added_total", Help: "Device uses counted: recorded uses that were not recorded before."}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vitalwatch_usage_commit_seconds", Help: "Duration of one transaction of device uses.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	reg.MustRegister(r.commits, r.errs, r.added, r.seconds)
	return r
}

// Record records uses and returns once they are committed, or with the error that failed
// their transaction; then the caller may record them again. If ctx ends first, Record returns
// its error and the uses may still be committed: a use recorded twice counts once, so the
// caller may record them again either way. Record does not keep uses after it returns.
func (r *Recorder) Record(ctx context.Context, uses []Use) error {
	if len(uses) == 0 {
		return nil
	}
	select {
	case <-r.closing:
		return ErrClosed
	default:
	}
	req := &request{uses: uses, done: make(chan error, 1)}
	select {
	case r.requests <- req:
	case <-r.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-r.stopped:
		select {
		case err := <-req.done:
			return err
		default:
			return ErrClosed // queued after the last group
		}
	case <-ctx.Done():
		req.keep()
		return ctx.Err()
	}
}

// keep copies the request's uses, unless the committer has taken them already: its caller is
// leaving, and may reuse its slice, while the uses wait to be committed. Only a caller that
// gives up pays for a copy.
func (req *request) keep() {
	req.mu.Lock()
	defer req.mu.Unlock()
	if !req.taken {
		req.uses = slices.Clone(req.uses)
	}
}

// take appends the request's uses to buf, after which the committer no longer reads the
// caller's slice.
func (req *request) take(buf []Use) []Use {
	req.mu.Lock()
	defer req.mu.Unlock()
	buf = append(buf, req.uses...)
	req.uses, req.taken = nil, true
	return buf
}

// stopLimit bounds how long Run, once its context has ended, takes to commit what is queued.
const stopLimit = 10 * time.Second

// Run commits groups until ctx ends (or Close). Then Record refuses new uses, and Run commits
// what is queued, folds, and returns nil. If that takes longer than 10 s, Run gives up: the
// callers still waiting get an error (their messages stay unacknowledged, for the broker to
// deliver again), and so does Run.
func (r *Recorder) Run(ctx context.Context) error {
	if graceful.Run(ctx, r.closing, r.stopLimit, r.Close, r.run) {
		return fmt.Errorf("usage: recording device uses did not finish in %v; their messages stay unacknowledged, for the broker to deliver again", r.stopLimit)
	}
	return nil
}

// run commits groups until Close, then commits what is queued and returns. If ctx ends first,
// it returns at once, and callers still waiting get ErrClosed.
func (r *Recorder) run(ctx context.Context) {
	defer close(r.stopped)
	fold := time.NewTicker(r.foldEvery)
	defer fold.Stop()
	for {
		select {
		case req := <-r.requests:
			r.commit(ctx, req)
		case <-fold.C:
			r.fold(ctx)
		case <-r.closing:
			for {
				select {
				case req := <-r.requests:
					r.commit(ctx, req)
				default:
					r.fold(ctx)
					return
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// Close makes Record refuse new uses; Run then commits what is queued and returns.
func (r *Recorder) Close() {
	r.stopOnce.Do(func() { close(r.closing) })
}

// commit records first and the requests queued behind it, up to MaxGroup uses, in one
// transaction, and gives its outcome to each of them.
func (r *Recorder) commit(ctx context.Context, first *request) {
	group := []*request{first}
	r.buf = first.take(r.buf[:0])
gather:
	for len(r.buf) < MaxGroup {
		select {
		case req := <-r.requests:
			group = append(group, req)
			r.buf = req.take(r.buf)
		default:
			break gather
		}
	}
	uses := r.buf
	start := time.Now()
	added, err := r.store.RecordUses(ctx, uses)
	r.seconds.Observe(time.Since(start).Seconds())
	if err != nil {
		r.errs.Inc()
		r.log.Warn("recording device uses failed; the callers retry", "err", err, "uses", len(uses), "callers", len(group))
	} else {
		r.commits.Inc()
		r.added.Add(float64(added))
		r.unfolded = r.unfolded || added > 0
	}
	if cap(r.buf) > 2*MaxGroup {
		r.buf = nil // let a one-off huge group's buffer go
	} else {
		clear(r.buf)
	}
	for _, req := range group {
		req.done <- err
	}
}

// fold asks the store to fold what was recorded since the last fold, if anything was. A
// failure is logged; the next tick tries again.
func (r *Recorder) fold(ctx context.Context) {
	if !r.unfolded {
		return
	}
	if _, err := r.store.FoldUses(ctx); err != nil {
		r.log.Warn("folding device uses into the day counts failed; trying again later", "err", err)
		return
	}
	r.unfolded = false
}
