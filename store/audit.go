package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry is one registry change: who made it, when, what, to what.
type AuditEntry struct {
	ID    int64
	At    time.Time
	Actor string
	// Action is "<entity>.<verb>": site.create, site.update, team.create, team.update,
	// patient.create, patient.update, patient.transfer, device.create, device.update,
	// device.secret_rotate, device.assign, device.return.
	Action string
	// Subject is "<entity>/<id>", e.g. "device/gm-0042"; assignments are recorded on the device.
	Subject string
	// Detail is JSON of the values the change set (never a secret or its hash).
	Detail string
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Subject string
	Actor   string
	Action  string
	// Before is a cursor: only entries with an ID below it. Zero means from the newest.
	Before int64
	// Limit is the page size: default 100, at most 1000.
	Limit int
}

// AuditLog returns the audit entries that match f, newest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	w := &where{}
	if f.Subject != "" {
		w.add("subject = ?", f.Subject)
	}
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	q := `SELECT id, at_ms, actor, action, subject, detail FROM audit_log` + w.sql() +
		` ORDER BY id DESC LIMIT ` + w.arg(pageSize(f.Limit))
	out, err := queryAll(ctx, s.db, q, w.args, func(sc scanner) (AuditEntry, error) {
		var e AuditEntry
		var ms int64
		err := sc.Scan(&e.ID, &ms, &e.Actor, &e.Action, &e.Subject, &e.Detail)
		e.At = time.UnixMilli(ms).UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return out, nil
}
