package store

import (
	"context"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
)

// Audit reads the audit log that the other services write.
type Audit struct{ *DB }

// NewAudit returns an Audit over db.
func NewAudit(db *DB) *Audit { return &Audit{db} }

// AuditLog returns the audit entries that match f, newest first.
func (s *Audit) AuditLog(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
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
	if !f.Since.IsZero() {
		w.add("at_ms >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		w.add("at_ms < ?", f.Until.UnixMilli())
	}
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	q := `SELECT id, at_ms, actor, action, subject, detail FROM audit_log` + w.sql() +
		` ORDER BY id DESC LIMIT ` + w.arg(pageSize(f.Limit))
	out, err := queryAll(ctx, s.readers, q, w.args, func(sc scanner) (audit.Entry, error) {
		var e audit.Entry
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
