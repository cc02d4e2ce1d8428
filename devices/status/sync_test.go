package status

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// memStore keeps records as the store does, in memory: merged field by field, hour counts
// added, each save a new point. It fails saves while failing is set. (package store is tested
// against the same behaviour on SQLite and PostgreSQL.)
type memStore struct {
	mu      sync.Mutex
	failing bool
	point   int64
	recs    map[string]*Record
	changed map[string]int64 // point of the last change, by device
	hours   map[string]map[int64]*Hour
	saves   int
}

func newMemStore() *memStore {
	return &memStore{recs: map[string]*Record{}, changed: map[string]int64{}, hours: map[string]map[int64]*Hour{}}
}

func (m *memStore) SaveDeviceStatus(_ context.Context, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing {
		return errors.New("the store is away")
	}
	m.saves++
	m.point++
	for _, r := range recs {
		cur, ok := m.recs[r.Device]
		if !ok {
			cur = &Record{Device: r.Device}
			m.recs[r.Device] = cur
			m.hours[r.Device] = map[int64]*Hour{}
		}
		cur.Merge(&r)
		for _, h := range r.Hours {
			got, ok := m.hours[r.Device][h.Hour]
			if !ok {
				got = &Hour{Hour: h.Hour}
				m.hours[r.Device][h.Hour] = got
			}
			got.Readings += h.Readings
			got.DeadLetters += h.DeadLetters
		}
		m.changed[r.Device] = m.point
	}
	return nil
}

func (m *memStore) DeviceStatusSince(_ context.Context, after, fromHour int64) ([]Record, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for id, p := range m.changed {
		if p <= after {
			continue
		}
		r := *m.recs[id]
		for _, h := range m.hours[id] {
			if h.Hour >= fromHour {
				r.Hours = append(r.Hours, *h)
			}
		}
		out = append(out, r)
	}
	return out, m.point, nil
}

func (m *memStore) PruneDeviceStatusHours(_ context.Context, before int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, hs := range m.hours {
		for h := range hs {
			if h < before {
				delete(hs, h)
			}
		}
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
