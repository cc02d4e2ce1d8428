package status

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// memStore keeps the log and the folded records as the store does, in memory, with a clock of
// its own for when entries were saved. It fails appends while failing is set. (package store is
// tested for the same behaviour on SQLite and PostgreSQL.)
type memStore struct {
	mu      sync.Mutex
	failing bool
	now     time.Time
	point   int64 // the last entry's number
	folded  int64 // entries up to this number are folded
	log     []memEntry
	recs    map[string]*Record // folded, with hour totals
}

type memEntry struct {
	n     int64
	saved time.Time
	LogEntry
}

func newMemStore() *memStore { return &memStore{recs: map[string]*Record{}, now: t0} }

func (m *memStore) AppendDeviceStatus(_ context.Context, instance string, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing {
		return errors.New("the store is away")
	}
	m.point++
	cp := make([]Record, len(recs))
	for i, r := range recs {
		r.Hours = slices.Clone(r.Hours)
		cp[i] = r
	}
	m.log = append(m.log, memEntry{n: m.point, saved: m.now, LogEntry: LogEntry{Instance: instance, Records: cp}})
	return nil
}

func (m *memStore) DeviceStatusLog(_ context.Context, after int64) ([]LogEntry, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.folded > after {
		return nil, after, ErrFolded
	}
	var out []LogEntry
	for _, e := range m.log {
		if e.n > after {
			out = append(out, e.LogEntry)
		}
	}
	return out, m.point, nil
}

func (m *memStore) LoadDeviceStatus(_ context.Context, fromHour int64) ([]Record, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for _, r := range m.recs {
		c := *r
		c.Hours = nil
		for _, h := range r.Hours {
			if h.Hour >= fromHour {
				c.Hours = append(c.Hours, h)
			}
		}
		out = append(out, c)
	}
	for _, e := range m.log {
		out = append(out, e.Records...)
	}
	return out, m.point, nil
}

func (m *memStore) FoldDeviceStatus(_ context.Context, olderThan time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for n < len(m.log) && m.log[n].saved.Before(m.now.Add(-olderThan)) {
		for _, r := range m.log[n].Records {
			cur, ok := m.recs[r.Device]
			if !ok {
				cur = &Record{Device: r.Device}
				m.recs[r.Device] = cur
			}
			cur.Merge(&r)
			for _, h := range r.Hours {
				i := slices.IndexFunc(cur.Hours, func(x Hour) bool { return x.Hour == h.Hour })
				if i < 0 {
					cur.Hours = append(cur.Hours, Hour{Hour: h.Hour})
					i = len(cur.Hours) - 1
				}
				cur.Hours[i].Readings += h.Readings
				cur.Hours[i].DeadLetters += h.DeadLetters
			}
		}
		m.folded = m.log[n].n
		n++
	}
	m.log = m.log[n:]
	return nil
}

func (m *memStore) PruneDeviceStatusHours(_ context.Context, before int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.recs {
		r.Hours = slices.DeleteFunc(r.Hours, func(h Hour) bool { return h.Hour < before })
	}
	return nil
}

// Two instances over one store: each saves its own, reads the other's, and their counts add
// up; a failed save is kept for the next; a new instance loads it all; the last save of an
// instance with the embedded broker records its connections as ended.
func TestSyncTwoInstances(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	c := &clock{t: t0}
	a, b := NewTracker(DefaultLimits(), c.now), NewTracker(DefaultLimits(), c.now)
	sa, sb := NewSync(a, st, SyncOptions{}), NewSync(b, st, SyncOptions{})
	a.Connection("d1", Connect, t0)
	a.Observe([]Message{{Device: "d1", Received: t0, Readings: 4, Battery: 60, HasBattery: true}})
	b.Observe([]Message{{Device: "d1", Received: t0.Add(time.Second), Readings: 6, DeadLetters: 2, Battery: 55, HasBattery: true}})
	for _, s := range []*Sync{sa, sb, sa} {
		if err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for name, tr := range map[string]*Tracker{"a": a, "b": b} {
		s := mustSeen(t, tr, "d1")
		if s.Readings != 10 || s.DeadLetters != 2 || s.Battery != 55 || s.Event != Connect {
			t.Errorf("instance %s sees %d readings, %d dead letters, battery %v, event %q; want 10, 2, 55 (the newer), connect",
				name, s.Readings, s.DeadLetters, s.Battery, s.Event)
		}
	}
	// The store goes away for one step: the counts wait and are saved once, later.
	st.failing = true
	a.Observe([]Message{{Device: "d1", Received: t0.Add(time.Minute), Readings: 5}})
	if err := sa.Step(ctx); err == nil {
		t.Fatal("Step with the store away succeeded")
	}
	st.failing = false
	a.Observe([]Message{{Device: "d1", Received: t0.Add(2 * time.Minute), Readings: 1}})
	for _, s := range []*Sync{sa, sb} {
		if err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s := mustSeen(t, b, "d1"); s.Readings != 16 {
		t.Errorf("after the retry, b sees %d readings; want 16", s.Readings)
	}
	// A new instance loads what was saved.
	fresh := NewTracker(DefaultLimits(), c.now)
	if err := NewSync(fresh, st, SyncOptions{}).Load(ctx); err != nil {
		t.Fatal(err)
	}
	if s := mustSeen(t, fresh, "d1"); s.Readings != 16 || s.DeadLetters != 2 || !s.LastMessage.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("a new instance loads %+v; want 16 readings, 2 dead letters, last message at %v", s, t0.Add(2*time.Minute))
	}
	// The log is folded; b has not read for a while and finds it folded past what it read:
	// it loads again, and counts nothing twice.
	a.Observe([]Message{{Device: "d1", Received: t0.Add(3 * time.Minute), Readings: 4}})
	if err := sa.Step(ctx); err != nil {
		t.Fatal(err)
	}
	st.now = t0.Add(time.Hour)
	if err := st.FoldDeviceStatus(ctx, foldAfter); err != nil {
		t.Fatal(err)
	}
	if len(st.log) != 0 || st.folded == 0 {
		t.Fatalf("after folding, the log holds %d entries, folded to %d; want none left", len(st.log), st.folded)
	}
	b.Observe([]Message{{Device: "d1", Received: t0.Add(4 * time.Minute), Readings: 1}})
	for _, s := range []*Sync{sb, sa} {
		if err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for name, tr := range map[string]*Tracker{"a": a, "b": b} {
		if s := mustSeen(t, tr, "d1"); s.Readings != 21 {
			t.Errorf("after the fold, instance %s sees %d readings; want 21", name, s.Readings)
		}
	}
	// a runs the embedded broker: its last save says the device's connection ended.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- NewSync(a, st, SyncOptions{Every: time.Hour, EmbeddedBroker: true}).Run(runCtx)
	}()
	c.t = t0.Add(time.Hour)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := sb.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if s := mustSeen(t, b, "d1"); s.Event != BrokerStopped || !s.EventAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after a stopped: event %q at %v; want broker_stopped at %v", s.Event, s.EventAt, t0.Add(time.Hour))
	}
}
