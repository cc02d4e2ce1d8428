package store

import (
	"context"
	"database/sql"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// ApplyFindings records fs in order, as ApplyFinding would one at a time, and returns what each
// did. In SQLite they go in one transaction, with each statement prepared once: a batch of
// readings that repeats a few hundred open alerts (a rule that fires often, such as a
// diabetic's highs) is one commit and one parse of each statement instead of hundreds. If the
// transaction fails (the store refused a write), it is rolled back and the findings are
// recorded one at a time, each with its own errors, as ApplyFinding does.
//
// PostgreSQL records them one at a time: a transaction of several findings would lock their
// alerts' rows one after the other, and take the lock that orders alert events in between
// (addAlertEvent), while another instance's single finding takes one row and then that lock:
// the two could wait for each other.
func (s *Alerts) ApplyFindings(ctx context.Context, fs []alerts.Finding) []alerts.Applied {
	out := make([]alerts.Applied, len(fs))
	var valid []int
	for i, f := range fs {
		if err := alerts.CheckFinding(f); err != nil {
			out[i].Err = err
			continue
		}
		valid = append(valid, i)
	}
	if s.dialect == sqlite && len(valid) > 1 && s.applyBatch(ctx, fs, valid, out) == nil {
		return out
	}
	for _, i := range valid {
		out[i].Alert, out[i].Event, out[i].Notify, out[i].Err = s.ApplyFinding(ctx, fs[i])
	}
	return out
}

// applyBatch records fs[i] for each i of which in one transaction, filling out, and leaves out
// as it was unless it commits.
func (s *Alerts) applyBatch(ctx context.Context, fs []alerts.Finding, which []int, out []alerts.Applied) error {
	tx, err := s.beginAlertWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q := &preparedTx{tx: tx, stmts: map[string]*sql.Stmt{}}
	done := make([]alerts.Applied, len(which))
	written := false
	for k, i := range which {
		a, ev, err := s.applyFindingIn(ctx, q, fs[i])
		if err != nil {
			return err
		}
		done[k] = alerts.Applied{Alert: a, Event: ev, Notify: ev.Notify}
		written = written || ev.ID != 0
	}
	if written {
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	for k, i := range which {
		out[i] = done[k]
	}
	return nil
}

// preparedTx runs a transaction's statements prepared once each, the first time one is used,
// for as long as the transaction lasts.
type preparedTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// stmt returns query prepared, or nil if it cannot be (it then runs as it comes, and fails or
// not as it would have).
func (p *preparedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := p.stmts[query]; ok {
		return st
	}
	st, err := p.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.stmts[query] = st
	return st
}

func (p *preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.tx.ExecContext(ctx, query, args...)
}

func (p *preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.tx.QueryContext(ctx, query, args...)
}

func (p *preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.tx.QueryRowContext(ctx, query, args...)
}
