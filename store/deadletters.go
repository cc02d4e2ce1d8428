package store

import (
	"context"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
)

// DeadLetters keeps the rejected input.
type DeadLetters struct{ *DB }

// NewDeadLetters returns a DeadLetters over db.
func NewDeadLetters(db *DB) *DeadLetters { return &DeadLetters{db} }

// AddDeadLetters stores dead letters in one transaction and, when keep > 0, prunes the oldest
// so that at most keep remain.
func (s *DeadLetters) AddDeadLetters(ctx context.Context, dls []deadletter.DeadLetter, keep int) error {
	if len(dls) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add dead letters: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO dead_letters
		(received_ms, device, topic, reason, detail, reading, payload, payload_size)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`)
	if err != nil {
		return fmt.Errorf("add dead letters: %w", err)
	}
	defer stmt.Close()
	for i := range dls {
		d := &dls[i]
		payload := d.Payload
		if len(payload) > deadletter.MaxPayload {
			payload = payload[:deadletter.MaxPayload]
		}
		if payload == nil {
			payload = []byte{}
		}
		if _, err := stmt.ExecContext(ctx, d.Received.UnixMilli(), d.Device, d.Topic, d.Reason,
			d.Detail, d.Index, payload, d.PayloadSize); err != nil {
			return fmt.Errorf("add dead letters: %w", err)
		}
	}
	if keep > 0 {
		// IDs only grow and only the oldest are deleted, so the newest keep rows are those
		// above max(id) - keep.
		if _, err := tx.ExecContext(ctx, `DELETE FROM dead_letters
			WHERE id <= (SELECT max(id) FROM dead_letters) - $1`, keep); err != nil {
			return fmt.Errorf("prune dead letters: %w", err)
		}
	}
	return tx.Commit()
}

// ListDeadLetters returns the dead letters matching f, newest first, at most f.Limit of them
// (default 100, at most 1000).
func (s *DeadLetters) ListDeadLetters(ctx context.Context, f deadletter.Filter) ([]deadletter.DeadLetter, error) {
	var w where
	if f.Device != "" {
		w.add("device = ?", f.Device)
	}
	if f.Reason != "" {
		w.add("reason = ?", f.Reason)
	}
	if !f.Since.IsZero() {
		w.add("received_ms >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		w.add("received_ms < ?", f.Until.UnixMilli())
	}
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	q := `SELECT id, received_ms, device, topic, reason, detail, reading, payload, payload_size
		FROM dead_letters` + w.sql() + " ORDER BY id DESC LIMIT " + w.arg(pageSize(f.Limit))
	rows, err := s.readers.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	out := []deadletter.DeadLetter{}
	for rows.Next() {
		var d deadletter.DeadLetter
		var ms int64
		if err := rows.Scan(&d.ID, &ms, &d.Device, &d.Topic, &d.Reason, &d.Detail, &d.Index,
			&d.Payload, &d.PayloadSize); err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		d.Received = time.UnixMilli(ms).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// CountDeadLetters returns how many dead letters are stored.
func (s *DeadLetters) CountDeadLetters(ctx context.Context) (int, error) {
	var n int
	err := s.readers.QueryRowContext(ctx, `SELECT count(*) FROM dead_letters`).Scan(&n)
	return n, err
}
