package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
)

// store makes lines durable: in InfluxDB when it takes them, else in the spool. While the
// spool holds anything, new batches join it, so that InfluxDB gets them in order and a down
// InfluxDB costs one timeout, not one per batch. When InfluxDB refuses the batch's content,
// onRejected sorts out what to dead-letter. It returns false only when ctx ended first.
func (p *Pipeline) store(ctx context.Context, lines []byte, onRejected func(context.Context, error) error) bool {
	return p.retry(ctx, func() error {
		if p.spool.Len() == 0 {
			err := p.writeOnce(ctx, lines)
			var rej *influx.RejectedError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &rej):
				// InfluxDB's message quotes the refused line, patient tag and value included:
				// only its status above debug.
				p.log.Warn("influx refused points; finding them", "status", rej.Status)
				p.log.Debug("influx refused points", "err", err)
				if err = onRejected(ctx, err); err == nil {
					return nil
				}
			}
			if ctx.Err() != nil {
				return err
			}
			p.metrics.writeErrors.Inc()
			p.log.Warn("influx write failed; spooling", "err", err, "bytes", len(lines))
		}
		err := p.spool.Append(lines)
		if err == nil {
			p.metrics.spooledBatches.Inc()
			if ended := p.metrics.spool.ok(&p.metrics.spool.append); ended.kind != "" {
				p.log.Info("spool takes batches again", "after", ended.err, "failed_attempts", ended.tries,
					"for", p.now().Sub(ended.since).Round(time.Millisecond))
			}
			select {
			case p.spooled <- struct{}{}:
			default:
			}
			return nil
		}
		// The batch waits unacknowledged, and the broker with it, until the spool or InfluxDB
		// takes it. Said once per stretch of such failures, not for every batch and retry.
		kind := spoolErrorKind(err)
		if kind != "error" {
			p.metrics.spoolFull.WithLabelValues(kind).Inc()
		}
		if p.metrics.spool.fail(&p.metrics.spool.append, kind, err, p.now()) {
			switch kind {
			case spoolFullLimit:
				p.log.Warn("spool full (ingest.spool_max_bytes); holding the broker back until InfluxDB takes the backlog", "err", err)
			case spoolFullDisk:
				p.log.Error("spool's disk is full; holding the broker back until replay or an operator frees space", "err", err)
			default:
				p.log.Error("spool append failed; holding the broker back", "err", err)
			}
		}
		return err
	})
}

func (p *Pipeline) writeOnce(ctx context.Context, lines []byte) error {
	wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	defer cancel()
	start := time.Now()
	err := p.points.Write(wctx, lines)
	p.metrics.writeSeconds.Observe(time.Since(start).Seconds())
	return err
}

// addDeadLetters stores dead letters, retrying until it works or ctx ends. A failure is logged
// when it starts and when it ends, not at every retry.
func (p *Pipeline) addDeadLetters(ctx context.Context, dls []deadletter.DeadLetter) bool {
	h := &p.metrics.spool
	return p.retry(ctx, func() error {
		err := p.dead.AddDeadLetters(ctx, dls, p.cfg.DeadLetterKeep)
		if err == nil {
			if ended := h.ok(&h.dead); ended.kind != "" {
				p.log.Info("dead letters stored again", "after", ended.err, "failed_attempts", ended.tries)
			}
			return nil
		}
		p.metrics.deadLetterErrors.Inc()
		if ctx.Err() != nil {
			return err
		}
		if h.fail(&h.dead, "error", err, p.now()) {
			p.log.Error("storing dead letters failed; retrying", "err", err, "count", len(dls))
		}
		return err
	})
}
