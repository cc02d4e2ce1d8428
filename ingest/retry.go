package ingest

import (
	"context"
	"time"
)

// backoff is the wait between attempts at something that keeps failing: the initial interval,
// then twice the previous wait, up to ceiling.
type backoff struct {
	initial, ceiling, wait time.Duration
}

func newBackoff(initial, ceiling time.Duration) backoff {
	return backoff{initial: initial, ceiling: ceiling, wait: initial}
}

// next returns the wait before the next attempt and doubles the one after it, up to ceiling.
func (b *backoff) next() time.Duration {
	d := b.wait
	b.wait = min(2*b.wait, b.ceiling)
	return d
}

// reset starts the waits again from the initial interval, once an attempt has worked.
func (b *backoff) reset() { b.wait = b.initial }

// retry calls attempt until it returns nil, backing off from ingest.retry_interval to
// ingest.max_retry_interval between attempts. It reports whether attempt worked: false once
// ctx has ended. attempt counts and logs its own failures.
func (p *Pipeline) retry(ctx context.Context, attempt func() error) bool {
	b := newBackoff(p.cfg.RetryInterval, p.cfg.MaxRetryInterval)
	for {
		if attempt() == nil {
			return true
		}
		if ctx.Err() != nil || !sleep(ctx, b.next()) {
			return false
		}
	}
}

// sleep waits d or until ctx ends; it reports whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
