package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// ApplyFindings records fs in order, as ApplyFinding would one at a time, and returns what each
// did. In SQLite they go in one transaction, with each statement prepared once: a batch of
// readings that repeats a few hundred open alerts (a rule that fires often, such as a
// diabetic's highs) is one commit and one parse of each statement instead of hundreds, and a
// batch of one finding, the most common, parses nothing. If the
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
	if s.dialect == sqlite && len(valid) > 0 && s.applyBatch(ctx, fs, valid, out) == nil {
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
	done := make([]alerts.Applied, len(which))
	err := s.alertBatch(ctx, len(which), func(q querier, k int) (bool, error) {
		a, ev, err := s.applyFindingIn(ctx, q, fs[which[k]])
		done[k] = alerts.Applied{Alert: a, Event: ev, Notify: ev.Notify}
		return ev.ID != 0, err
	})
	if err != nil {
		return err
	}
	for k, i := range which {
		out[i] = done[k]
	}
	return nil
}

// alertBatch runs each(q, i) for i from 0 to n-1 in one transaction that changes alerts, with
// the kept statements, and commits it if any of them wrote. The first error stops it and rolls
// the transaction back.
func (s *DB) alertBatch(ctx context.Context, n int, each func(q querier, i int) (wrote bool, err error)) error {
	tx, err := s.beginAlertWrite(ctx)
	if err != nil {
		return err
	}
	q, end := s.prepared(ctx, tx)
	defer end()
	written := false
	for i := range n {
		wrote, err := each(q, i)
		if err != nil {
			return err
		}
		written = written || wrote
	}
	if !written {
		return nil
	}
	return tx.Commit()
}

// prepared returns tx with its statements prepared once each (preparedTx), and the function
// that ends it: it rolls tx back (nothing after a commit; either way SQLite's one writing
// connection is free again), then prepares on the database what tx prepared for itself.
func (s *DB) prepared(ctx context.Context, tx *sql.Tx) (*preparedTx, func()) {
	q := &preparedTx{tx: tx, stmts: map[string]*sql.Stmt{}, shared: &s.statements}
	return q, func() {
		tx.Rollback()
		s.statements.add(ctx, s.db, q.missed)
	}
}

// preparedTx runs a transaction's statements prepared once each. A statement that shared
// holds (prepared on db, and so on SQLite's one writing connection) is taken into the
// transaction without being parsed again; any other is prepared in the transaction, and kept
// in missed for shared to prepare once the transaction is over.
type preparedTx struct {
	tx     *sql.Tx
	stmts  map[string]*sql.Stmt // the transaction's own
	shared *statements
	missed []string
}

// stmt returns query prepared, or nil if it cannot be (it then runs as it comes, and fails or
// not as it would have).
func (p *preparedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := p.stmts[query]; ok {
		return st
	}
	var st *sql.Stmt
	if base := p.shared.get(query); base != nil {
		st = p.tx.StmtContext(ctx, base)
	} else {
		var err error
		if st, err = p.tx.PrepareContext(ctx, query); err != nil {
			return nil
		}
		p.missed = append(p.missed, query)
	}
	p.stmts[query] = st
	return st
}

// statements are statements prepared on a database for the transactions of preparedTx, by
// query; at most maxStatements of them (updateAlert's queries differ by the columns a finding
// changed: a few in practice, but not bounded by the code).
type statements struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const maxStatements = 64

// get returns query prepared, or nil if it is not kept.
func (c *statements) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// add prepares on db each of queries not kept yet, while there is room. It must not be called
// inside a transaction of db: SQLite's db has one connection, which preparing needs. It holds
// no lock while it prepares, since preparing waits for that connection, which another batch's
// transaction may hold while it looks for a statement here.
func (c *statements) add(ctx context.Context, db *sql.DB, queries []string) {
	for _, q := range queries {
		if !c.room(q) {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			continue // prepared in each transaction instead, as before
		}
		c.mu.Lock()
		if _, ok := c.m[q]; ok || len(c.m) >= maxStatements {
			c.mu.Unlock()
			st.Close() // another batch kept it first
			continue
		}
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		c.m[q] = st
		c.mu.Unlock()
	}
}

// room reports whether query is not kept yet and there is room for it.
func (c *statements) room(query string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[query]
	return !ok && len(c.m) < maxStatements
}

// close closes every statement kept.
func (c *statements) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for _, st := range c.m {
		err = errors.Join(err, st.Close())
	}
	c.m = nil
	return err
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
