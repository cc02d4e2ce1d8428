package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/reading"
)

// drain replays the spool into InfluxDB, oldest first, until ctx ends. The spool frees space as
// it is consumed, and consuming needs none, so replay goes on when the disk is full.
func (p *Pipeline) drain(ctx context.Context) {
	b := newBackoff(p.cfg.RetryInterval, p.cfg.MaxRetryInterval)
	h := &p.metrics.spool
	for {
		rec, ok, err := p.spool.Peek()
		if err != nil {
			if h.fail(&h.replay, "unreadable", err, p.now()) {
				p.log.Error("spool unreadable; replay halted until restart or repair", "err", err)
			}
			if !sleep(ctx, p.cfg.MaxRetryInterval) {
				return
			}
			continue
		}
		if !ok {
			select {
			case <-p.spooled:
			case <-ctx.Done():
				return
			}
			continue
		}
		err = p.writeOnce(ctx, rec)
		var rej *influx.RejectedError
		if errors.As(err, &rej) {
			err = p.rejectSpooledLines(ctx, rec)
		}
		if err != nil {
			p.metrics.writeErrors.Inc()
			if !sleep(ctx, b.next()) {
				return
			}
			continue
		}
		b.reset()
		if !p.consumeSpooled(ctx) {
			return
		}
		p.metrics.replayedBatches.Inc()
	}
}

// consumeSpooled removes the replayed record from the spool, retrying with backoff until it
// works or ctx ends. Only Consume is retried: the record is in InfluxDB already.
func (p *Pipeline) consumeSpooled(ctx context.Context) bool {
	h := &p.metrics.spool
	return p.retry(ctx, func() error {
		err := p.spool.Consume()
		if err == nil {
			if ended := h.ok(&h.replay); ended.kind != "" {
				p.log.Info("spool replay resumed", "after", ended.err, "failed_attempts", ended.tries,
					"for", p.now().Sub(ended.since).Round(time.Millisecond))
			}
			return nil
		}
		if h.fail(&h.replay, "consume", err, p.now()) {
			p.log.Error("spool consume failed; replay waits", "err", err)
		}
		return err
	})
}

// SpoolReady reports, for /readyz, whether the spool can take batches and its replay is moving:
// nil, or what stops it, such as the spool's limit (ingest.spool_max_bytes), a full disk, a failed
// spool file, an unreadable record, or dead letters of a replayed batch that cannot be stored.
// The signature is that of a readiness check.
func (p *Pipeline) SpoolReady(context.Context) error {
	var errs []error
	if w, ok := p.spool.(writableSpool); ok {
		if err := w.Writable(); err != nil {
			errs = append(errs, fmt.Errorf("spool cannot take batches: %w", err))
		}
	}
	h := &p.metrics.spool
	if err := h.current(&h.replay); err != nil {
		errs = append(errs, fmt.Errorf("spool replay halted: %w", err))
	}
	if err := h.current(&h.dead); err != nil {
		errs = append(errs, fmt.Errorf("dead letters cannot be stored, so replay and acknowledgements wait: %w", err))
	}
	return errors.Join(errs...)
}

// rejectSpooledLines writes a refused spool record line by line and dead-letters the lines
// InfluxDB will not take. Their original messages were acknowledged long ago; the line itself
// is what is left of them.
func (p *Pipeline) rejectSpooledLines(ctx context.Context, rec []byte) error {
	var dead []deadletter.DeadLetter
	for line := range bytes.Lines(rec) {
		err := p.writeOnce(ctx, line)
		var rej *influx.RejectedError
		switch {
		case err == nil:
		case errors.As(err, &rej):
			dead = append(dead, deadletter.DeadLetter{Received: p.now(), Reason: deadletter.ReasonWriteRejected,
				Detail: rej.Error(), Index: reading.WholeMessage, Payload: deadletter.Clip(line), PayloadSize: len(line)})
		default:
			return err
		}
	}
	if len(dead) > 0 && !p.addDeadLetters(ctx, dead) {
		return ctx.Err()
	}
	p.metrics.deadLetters.WithLabelValues(deadletter.ReasonWriteRejected).Add(float64(len(dead)))
	return nil
}
