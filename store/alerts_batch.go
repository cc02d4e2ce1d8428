package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// ApplyFindings records fs in order, as ApplyFinding would one at a time, and returns what each
// did. In SQLite they go in one transaction, with each statement prepared once: a batch of
// readings that repeats a few hundred open alerts (a rule that fires often, such as a
// diabetic's highs) is one commit and one parse of each statement instead of hundreds, and a
// batch of one finding, the most common, parses nothing. Repeats of the same alert in the
// batch are written once, with one updated event (findingBatch). If the transaction fails (the
// store refused a write), it is rolled back and the findings are recorded one at a time, each
// with its own errors, as ApplyFinding does.
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
// as it was unless it commits. See findingBatch for what it writes.
func (s *Alerts) applyBatch(ctx context.Context, fs []alerts.Finding, which []int, out []alerts.Applied) error {
	b := newFindingBatch(s, len(which))
	err := s.alertBatch(ctx, len(which), func(q querier, k int) (bool, error) {
		return b.apply(ctx, q, k, fs[which[k]])
	}, b.finish)
	if err != nil {
		return err
	}
	for k, i := range which {
		out[i] = b.done[k]
	}
	return nil
}

// findingBatch records a batch of findings in one transaction. Each open alert it touches is
// read once and then kept as it stands in the transaction. A plain repeat of an alert (an
// updated event that notifies nobody) is held rather than written at once: a later finding
// of the same alert in the batch writes the alert with its own event, which shows everything
// the held repeat changed, and the held repeat then writes no event of its own (its Applied
// has an Event with ID 0, as a reading delivered again has). What is still held at the end is
// written then, one row update and one event an alert.
//
// So the ten readings of a device's visit, each a repeat of the same alert, write the alert
// once and one updated event, instead of ten of each; the alert ends as ApplyFinding would
// leave it one finding at a time. Only updated events are ever left out: a raise, a rise in
// severity, a repeat that notifies and a resolve are each written with their own event, in
// order.
type findingBatch struct {
	s    *Alerts
	open map[alertKey]*batchAlert
	done []alerts.Applied // what each finding did, by its index in the batch
}

func newFindingBatch(s *Alerts, n int) *findingBatch {
	return &findingBatch{s: s, open: map[alertKey]*batchAlert{}, done: make([]alerts.Applied, n)}
}

// alertKey is an open alert's rule and subject, which the unique index keeps one of.
type alertKey struct{ rule, subject string }

// batchAlert is an open alert as it stands in a findingBatch's transaction.
type batchAlert struct {
	a      alerts.Alert
	before []any // the columns as last read or written, for updateAlert
	held   int   // the index of the finding whose updated event waits to be written, or -1
	ev     alerts.Event
}

// apply records f, the batch's k-th finding.
func (b *findingBatch) apply(ctx context.Context, q querier, k int, f alerts.Finding) (wrote bool, err error) {
	key := alertKey{f.Rule, f.Subject.String()}
	o, ok := b.open[key]
	if !ok {
		if o, err = b.s.readOpen(ctx, q, f); err != nil {
			return false, err
		}
		if o != nil {
			b.open[key] = o
		}
	}
	now := b.s.nowMillis()
	switch {
	case o == nil && f.Resolve:
		return false, nil
	case o == nil:
		a, ev := alerts.Raise(f, now)
		if a.ID, err = insertAlert(ctx, q, a); err != nil {
			return false, err
		}
		if err := b.s.addAlertEvent(ctx, q, a, &ev); err != nil {
			return false, err
		}
		before, err := alertValues(a)
		if err != nil {
			return false, err
		}
		b.open[key] = &batchAlert{a: a, before: before, held: -1}
		b.done[k] = alerts.Applied{Alert: a, Event: ev, Notify: ev.Notify}
		return true, nil
	case o.a.Holds(f):
		b.done[k] = alerts.Applied{Alert: o.a} // a reading delivered again, counted already
		return false, nil
	}
	var ev alerts.Event
	if f.Resolve {
		ev = o.a.Clear(f, now)
	} else {
		ev = o.a.Repeat(f, now)
	}
	o.held = -1 // a repeat held before this finding writes nothing: this event shows it too
	if ev.Type == alerts.EventUpdated && !ev.Notify {
		o.held, o.ev = k, ev
		b.done[k] = alerts.Applied{Alert: o.a}
		return false, nil
	}
	if err := b.write(ctx, q, o, &ev); err != nil {
		return false, err
	}
	b.done[k] = alerts.Applied{Alert: o.a, Event: ev, Notify: ev.Notify}
	if o.a.State == alerts.Resolved {
		delete(b.open, key)
	}
	return true, nil
}

// finish writes the repeats still held, in the order of their findings.
func (b *findingBatch) finish(ctx context.Context, q querier) (wrote bool, err error) {
	var held []*batchAlert
	for _, o := range b.open {
		if o.held >= 0 {
			held = append(held, o)
		}
	}
	slices.SortFunc(held, func(x, y *batchAlert) int { return cmp.Compare(x.held, y.held) })
	for _, o := range held {
		ev := o.ev
		if err := b.write(ctx, q, o, &ev); err != nil {
			return false, err
		}
		b.done[o.held] = alerts.Applied{Alert: o.a, Event: ev}
		o.held = -1
	}
	return len(held) > 0, nil
}

// write writes o's alert as it stands, with ev.
func (b *findingBatch) write(ctx context.Context, q querier, o *batchAlert, ev *alerts.Event) error {
	if err := updateAlert(ctx, q, o.before, o.a); err != nil {
		return err
	}
	before, err := alertValues(o.a)
	if err != nil {
		return err
	}
	o.before = before
	return b.s.addAlertEvent(ctx, q, o.a, ev)
}

// alertBatch runs each(q, i) for i from 0 to n-1, and then finish(q) unless it is nil, in one
// transaction that changes alerts, with the kept statements, and commits it if any of them
// wrote. The first error stops it and rolls the transaction back.
func (s *DB) alertBatch(ctx context.Context, n int, each func(q querier, i int) (wrote bool, err error),
	finish func(ctx context.Context, q querier) (wrote bool, err error)) error {
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
	if finish != nil {
		wrote, err := finish(ctx, q)
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
