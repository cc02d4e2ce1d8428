package notify_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/store"
)

// The hub and the lifecycle run against a real SQLite store; a second store on the same file
// plays another instance, whose writes this instance learns of only by polling.

const testPoll = 20 * time.Millisecond

var base = time.Date(2026, 11, 22, 7, 30, 0, 0, time.UTC)

// fixture is a store, a running hub over it, and a lifecycle that publishes to the hub.
type fixture struct {
	t     *testing.T
	dsn   string
	store *store.Store
	hub   *notify.Hub
	life  *alerts.Lifecycle
}

func newFixture(t *testing.T, o notify.HubOptions) *fixture {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "vw.db")
	f := &fixture{t: t, dsn: dsn, store: openStore(t, dsn)}
	if o.PollInterval == 0 {
		o.PollInterval = testPoll
	}
	f.hub = notify.NewHub(f.store, o)
	f.life = alerts.NewLifecycle(f.store, f.hub, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.hub.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Hub.Run: %v", err)
		}
	})
	return f
}

func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (f *fixture) subscribe(scope alerts.Scope) *notify.Subscription {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := f.hub.Subscribe(ctx, scope)
	if err != nil {
		f.t.Fatalf("Subscribe(%+v): %v", scope, err)
	}
	f.t.Cleanup(s.Close)
	return s
}

// apply records findings through the lifecycle and returns their events.
func (f *fixture) apply(fs ...alerts.Finding) []alerts.Event {
	f.t.Helper()
	changes, err := f.life.Apply(context.Background(), fs)
	if err != nil {
		f.t.Fatalf("Apply: %v", err)
	}
	var evs []alerts.Event
	for _, c := range changes {
		evs = append(evs, c.Event)
	}
	return evs
}

func clinical(rule, patient, team string, sev alerts.Severity) alerts.Finding {
	return alerts.Finding{Rule: rule, RuleVersion: 1, Category: alerts.Clinical, Severity: sev,
		Subject: alerts.Subject{Kind: "patient", ID: patient}, Patient: patient, Team: team, At: base, Value: "2.9 mmol/L"}
}

func fault(rule, device, site string, sev alerts.Severity) alerts.Finding {
	return alerts.Finding{Rule: rule, RuleVersion: 1, Category: alerts.Fault, Severity: sev,
		Subject: alerts.Subject{Kind: "device", ID: device}, Device: device, Site: site, At: base}
}

// receive reads n events from s, failing the test if they do not come within 5 s.
func receive(t *testing.T, s *notify.Subscription, n int) []alerts.Event {
	t.Helper()
	var out []alerts.Event
	timeout := time.After(5 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("subscription ended after %d of %d events (lagged %v)", len(out), n, s.Lagged())
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("received %d of %d events in 5 s: %v", len(out), n, ids(out))
		}
	}
	return out
}

// quiet fails the test if s receives anything for a few poll intervals.
func quiet(t *testing.T, s *notify.Subscription) {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if ok {
			t.Errorf("received event %d (%s of alert %d) that should not come", ev.ID, ev.Type, ev.AlertID)
		}
	case <-time.After(5 * testPoll):
	}
}

func ids(evs []alerts.Event) []int64 {
	out := []int64{}
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

// Every subscriber receives the events its scope covers, in order, and only those.
func TestHubFansOutByScope(t *testing.T) {
	f := newFixture(t, notify.HubOptions{})
	admin := f.subscribe(alerts.Scope{All: true})
	docA := f.subscribe(alerts.Scope{Teams: []string{"tA"}})
	docA2 := f.subscribe(alerts.Scope{Teams: []string{"tA", "tC"}})
	fleetA := f.subscribe(alerts.Scope{Sites: []string{"sA"}})
	fleetB := f.subscribe(alerts.Scope{Sites: []string{"sB"}})

	evs := f.apply(clinical("glucose_low", "pA1", "tA", alerts.Warning), clinical("glucose_low", "pB1", "tB", alerts.Warning),
		fault("battery_low", "dA1", "sA", alerts.Warning), fault("battery_low", "dB1", "sB", alerts.Warning),
		clinical("glucose_low", "pA1", "tA", alerts.Urgent))
	if len(evs) != 5 {
		t.Fatalf("Apply made %d events; want 5", len(evs))
	}
	for _, tt := range []struct {
		name string
		sub  *notify.Subscription
		want []int64
	}{
		{"admin", admin, ids(evs)},
		{"doctor of tA", docA, []int64{evs[0].ID, evs[4].ID}},
		{"another doctor of tA", docA2, []int64{evs[0].ID, evs[4].ID}},
		{"fleet manager of sA", fleetA, []int64{evs[2].ID}},
		{"fleet manager of sB", fleetB, []int64{evs[3].ID}},
	} {
		got := receive(t, tt.sub, len(tt.want))
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("%s received %v; want %v", tt.name, ids(got), tt.want)
		}
		quiet(t, tt.sub)
	}
	quiet(t, f.subscribe(alerts.Scope{All: true})) // a late subscriber gets nothing of the past
}

// Events written by another instance reach this instance's subscribers by polling, in ID
// order, interleaved with this instance's own, each once.
func TestHubPollsOtherInstances(t *testing.T) {
	f := newFixture(t, notify.HubOptions{})
	other := openStore(t, f.dsn) // another instance: writes the store, publishes nothing here
	sub := f.subscribe(alerts.Scope{All: true})
	ctx := context.Background()
	otherApply := func(fd alerts.Finding) {
		t.Helper()
		if _, _, _, err := other.ApplyFinding(ctx, fd); err != nil {
			t.Fatal(err)
		}
	}

	f.apply(clinical("fever", "pA1", "tA", alerts.Warning))
	otherApply(clinical("fever", "pA2", "tA", alerts.Warning))
	f.apply(clinical("fever", "pA1", "tA", alerts.Urgent)) // follows an event this hub has not seen yet
	otherApply(fault("offline", "dA1", "sA", alerts.Warning))
	a, _, err := other.AcknowledgeAlert(audit.WithActor(ctx, "user:doc"), 1, "on it")
	if err != nil || a.ID != 1 {
		t.Fatalf("AcknowledgeAlert(1) on the other instance = %+v, %v", a, err)
	}
	f.apply(fault("offline", "dA1", "sA", alerts.Urgent))

	all, err := f.store.AlertEvents(ctx, 0, alerts.Scope{All: true}, 100)
	if err != nil || len(all) != 6 {
		t.Fatalf("the store holds %d events, %v; want 6", len(all), err)
	}
	got := receive(t, sub, len(all))
	if !slices.Equal(ids(got), ids(all)) {
		t.Errorf("received %v; want every event once, in order: %v", ids(got), ids(all))
	}
	quiet(t, sub)
	for i, ev := range got {
		if ev.Type != all[i].Type || ev.Alert.ID != all[i].AlertID || ev.Alert.State != all[i].Alert.State {
			t.Errorf("event %d received as %s of alert %d (%s); stored as %s of %d (%s)", ev.ID, ev.Type, ev.Alert.ID,
				ev.Alert.State, all[i].Type, all[i].AlertID, all[i].Alert.State)
		}
	}

	// Publishing what was already delivered delivers nothing again.
	f.hub.Publish(all...)
	quiet(t, sub)
}

// A subscription starts after the last event delivered, which it names in From.
func TestHubSubscriptionStartsAfterFrom(t *testing.T) {
	f := newFixture(t, notify.HubOptions{})
	early := f.subscribe(alerts.Scope{All: true})
	before := f.apply(clinical("fever", "pA1", "tA", alerts.Warning), clinical("fever", "pA2", "tA", alerts.Warning))
	receive(t, early, 2) // delivered, so the hub's last is the second

	sub := f.subscribe(alerts.Scope{All: true})
	if sub.From != before[1].ID {
		t.Errorf("From = %d; want %d, the last event delivered", sub.From, before[1].ID)
	}
	after := f.apply(clinical("fever", "pA3", "tA", alerts.Warning))
	if got := receive(t, sub, 1); got[0].ID != after[0].ID {
		t.Errorf("received %d; want %d", got[0].ID, after[0].ID)
	}
	quiet(t, sub)
}

// A hub that starts on a store with events delivers only the new ones.
func TestHubStartsAfterExistingEvents(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "vw.db")
	s := openStore(t, dsn)
	for _, p := range []string{"pA1", "pA2"} {
		if _, _, _, err := s.ApplyFinding(context.Background(), clinical("fever", p, "tA", alerts.Warning)); err != nil {
			t.Fatal(err)
		}
	}
	hub := notify.NewHub(s, notify.HubOptions{PollInterval: testPoll})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	defer func() { cancel(); <-done }()
	sub, err := hub.Subscribe(ctx, alerts.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if sub.From != 2 {
		t.Errorf("From = %d; want 2, the last event in the store", sub.From)
	}
	_, ev, _, err := s.ApplyFinding(ctx, clinical("fever", "pA3", "tA", alerts.Warning))
	if err != nil {
		t.Fatal(err)
	}
	if got := receive(t, sub, 1); got[0].ID != ev.ID {
		t.Errorf("received %d; want only the new event %d", got[0].ID, ev.ID)
	}
}

// A subscriber that does not keep up is cut off, not waited for: its channel closes after the
// events its buffer held, and it reports Lagged. Others are not held back.
func TestHubCutsOffASlowSubscriber(t *testing.T) {
	f := newFixture(t, notify.HubOptions{Buffer: 2})
	slow := f.subscribe(alerts.Scope{All: true})
	var fs []alerts.Finding
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5"} {
		fs = append(fs, clinical("fever", p, "tA", alerts.Warning))
	}
	f.apply(fs[:2]...)
	fast := f.subscribe(alerts.Scope{All: true})
	for _, fd := range fs[2:] {
		evs := f.apply(fd)
		if got := receive(t, fast, 1); got[0].ID != evs[0].ID {
			t.Errorf("the fast subscriber received %d; want %d", got[0].ID, evs[0].ID)
		}
	}
	got := 0
	for range slow.Events() {
		got++
	}
	if got != 2 || !slow.Lagged() {
		t.Errorf("the slow subscriber received %d events, lagged %v; want its 2 buffered, then cut off", got, slow.Lagged())
	}
}

// Stopping the hub ends every subscription, not as lagged, and refuses new ones.
func TestHubStopEndsSubscriptions(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "vw.db"))
	hub := notify.NewHub(s, notify.HubOptions{PollInterval: testPoll})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	sub, err := hub.Subscribe(context.Background(), alerts.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v; want nil", err)
	}
	if _, ok := <-sub.Events(); ok || sub.Lagged() {
		t.Errorf("subscription after stop: open %v, lagged %v; want closed, not lagged", ok, sub.Lagged())
	}
	if _, err := hub.Subscribe(context.Background(), alerts.Scope{All: true}); !errors.Is(err, notify.ErrHubStopped) {
		t.Errorf("Subscribe after stop = %v; want ErrHubStopped", err)
	}
	sub.Close() // once more is harmless
}

// Subscribe waits for Run, until its context ends.
func TestHubSubscribeWaitsForRun(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "vw.db"))
	hub := notify.NewHub(s, notify.HubOptions{PollInterval: testPoll})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := hub.Subscribe(ctx, alerts.Scope{All: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Subscribe before Run = %v; want the context's deadline", err)
	}
}
