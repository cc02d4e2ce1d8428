package ingest

import (
	"context"
	"time"

	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/usage"
)

// settleDepth bounds a worker's batches that are durable but not yet acknowledged. While they
// wait, the worker goes on with the next batch.
const settleDepth = 8

// settlement is what is left to do for a batch once its points are durable and the observer
// has seen it: record its uses, store its dead letters, then acknowledge its messages, in that
// order, so that a crash at any point leaves unacknowledged only what may be delivered again.
type settlement struct {
	uses    []usage.Use
	dead    []deadletter.DeadLetter
	acks    []func()
	counts  batchCounts
	started time.Time
	owner   chan *settlement // the free list of the worker it belongs to
}

// settler settles the workers' batches, each worker's in the order they became durable. It
// takes every batch waiting for it at once: a transaction of the store costs much the same for
// one batch as for many (SQLite syncs to disk at each commit), so the batches that gather while
// one group settles make the next group cheaper per message.
type settler struct {
	p    *Pipeline
	in   chan *settlement // to settle; closed by Run when the workers have stopped
	uses []usage.Use      // a group's uses, reused
	dead []deadletter.DeadLetter
}

func newSettler(p *Pipeline, workers int) *settler {
	return &settler{p: p, in: make(chan *settlement, workers*settleDepth)}
}

// freeList returns a worker's settleDepth settlements, to fill and pass to the settler, which
// returns them to it once settled.
func freeList() chan *settlement {
	free := make(chan *settlement, settleDepth)
	for range settleDepth {
		free <- &settlement{owner: free}
	}
	return free
}

// run settles batches until in is closed and empty.
func (s *settler) run(ctx context.Context) {
	group := make([]*settlement, 0, cap(s.in))
	for first := range s.in {
		group = append(group[:0], first)
	gather:
		for len(group) < cap(group) {
			select {
			case st, ok := <-s.in:
				if !ok {
					break gather
				}
				group = append(group, st)
			default:
				break gather
			}
		}
		s.settle(ctx, group)
		for _, st := range group {
			clear(st.uses)
			clear(st.dead)
			clear(st.acks)
			st.uses, st.dead, st.acks = st.uses[:0], st.dead[:0], st.acks[:0]
			st.owner <- st
		}
		clear(group)
	}
}

// settle records the group's uses and stores its dead letters, each in one call, retrying until
// they are stored or ctx ends, and then acknowledges its messages. If ctx ends first, nothing
// is acknowledged.
func (s *settler) settle(ctx context.Context, group []*settlement) {
	if ctx.Err() != nil {
		return
	}
	uses, dead := group[0].uses, group[0].dead
	if len(group) > 1 {
		s.uses, s.dead = s.uses[:0], s.dead[:0]
		for _, st := range group {
			s.uses = append(s.uses, st.uses...)
			s.dead = append(s.dead, st.dead...)
		}
		uses, dead = s.uses, s.dead
	}
	defer func() {
		clear(s.uses)
		clear(s.dead)
	}()
	if len(uses) > 0 && !s.p.recordUses(ctx, uses) {
		return
	}
	if len(dead) > 0 && !s.p.addDeadLetters(ctx, dead) {
		return
	}
	for _, st := range group {
		for _, ack := range st.acks {
			ack()
		}
		st.counts.uses = len(st.uses)
		s.p.metrics.batch(&st.counts, len(st.acks), time.Since(st.started))
	}
}
