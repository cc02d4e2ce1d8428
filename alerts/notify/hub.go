package notify

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// EventSource reads the alert events that every instance writes (store.Store).
type EventSource interface {
	// AlertEvents returns up to limit events with an ID above afterID that scope covers, in
	// ID order.
	AlertEvents(ctx context.Context, afterID int64, scope alerts.Scope, limit int) ([]alerts.Event, error)
	// LastAlertEventID returns the highest event ID, 0 if there is none.
	LastAlertEventID(ctx context.Context) (int64, error)
}

// HubOptions tune a Hub.
type HubOptions struct {
	// PollInterval is how often the hub reads the events written since the last it delivered,
	// which brings those of other instances: default 200ms.
	PollInterval time.Duration
	// Buffer is how many events may wait for a subscriber: default 256. A subscriber that
	// falls further behind is cut off (Lagged), and resumes from the store.
	Buffer int
	Log    *slog.Logger
}

// pollBatch is how many events one read of the store returns at most.
const pollBatch = 500

// ErrHubStopped is returned by Subscribe once the hub's Run has ended.
var ErrHubStopped = errors.New("alerts: the event hub has stopped")

// Hub delivers alert events to the subscribers of this instance, each event once, in ID order,
// and only to those whose scope covers it. Events come from Publish (this instance's changes,
// delivered at once when they follow the last one delivered) and from polling the store every
// PollInterval (the other instances' changes, and any of this instance's that arrived out of
// order). Because event IDs are handed out in commit order, "every event after the last one
// delivered" misses none and repeats none.
type Hub struct {
	src  EventSource
	opts HubOptions
	log  *slog.Logger
	kick chan struct{} // asks the poller to read the store now

	ready chan struct{} // closed once Run knows the last event ID

	mu      sync.Mutex
	started bool
	stopped bool
	last    int64 // the ID of the last event delivered
	subs    map[*Subscription]struct{}
}

// NewHub returns a hub over src. Run it to deliver anything.
func NewHub(src EventSource, o HubOptions) *Hub {
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Hub{src: src, opts: o, log: o.Log.With("component", "alert-hub"), kick: make(chan struct{}, 1),
		ready: make(chan struct{}), subs: map[*Subscription]struct{}{}}
}

// Run delivers events until ctx is done, then ends every subscription. It starts after the
// last event already written: subscribers get what happens from then on.
func (h *Hub) Run(ctx context.Context) error {
	defer h.stop()
	ticker := time.NewTicker(h.opts.PollInterval)
	defer ticker.Stop()
	for {
		last, err := h.src.LastAlertEventID(ctx)
		if err == nil {
			h.mu.Lock()
			h.last, h.started = last, true
			h.mu.Unlock()
			close(h.ready)
			break
		}
		h.log.Warn("reading the last alert event; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-h.kick:
		}
		h.poll(ctx)
	}
}

// stop ends every subscription and refuses new ones.
func (h *Hub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for s := range h.subs {
		s.end(false)
	}
}

// poll delivers the events written after the last one delivered.
func (h *Hub) poll(ctx context.Context) {
	for {
		h.mu.Lock()
		after := h.last
		h.mu.Unlock()
		evs, err := h.src.AlertEvents(ctx, after, alerts.Scope{All: true}, pollBatch)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("reading alert events", "after", after, "err", err)
			}
			return
		}
		h.mu.Lock()
		for _, ev := range evs {
			h.deliver(ev)
		}
		h.mu.Unlock()
		if len(evs) < pollBatch {
			return
		}
	}
}

// Publish offers events that this instance has just committed. One that follows the last
// delivered is delivered now; one that does not (an event of another instance, or of a
// concurrent change here, lies between) waits for the poller, which is asked to read at once.
func (h *Hub) Publish(events ...alerts.Event) {
	events = slices.Clone(events)
	slices.SortFunc(events, func(a, b alerts.Event) int { return cmp.Compare(a.ID, b.ID) })
	behind := false
	h.mu.Lock()
	for _, ev := range events {
		switch {
		case !h.started || ev.ID > h.last+1:
			behind = true
		case ev.ID == h.last+1:
			h.deliver(ev)
		}
	}
	h.mu.Unlock()
	if behind {
		select {
		case h.kick <- struct{}{}:
		default: // a read is already due
		}
	}
}

// deliver sends ev to every subscriber whose scope covers it, unless it was delivered. It
// never blocks: a subscriber whose buffer is full is cut off. h.mu is held.
func (h *Hub) deliver(ev alerts.Event) {
	if ev.ID <= h.last {
		return
	}
	h.last = ev.ID
	for s := range h.subs {
		if !s.scope.Allows(ev.Alert.Category, ev.Alert.Team, ev.Alert.Site) {
			continue
		}
		select {
		case s.c <- ev:
		default:
			h.log.Warn("alert subscriber fell behind; cut off", "buffer", h.opts.Buffer, "event", ev.ID)
			s.end(true)
		}
	}
}

// Subscribe returns a subscription to the events that scope covers, from the next one the hub
// delivers. It waits until Run has started, or ctx is done.
func (h *Hub) Subscribe(ctx context.Context, scope alerts.Scope) (*Subscription, error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return nil, ErrHubStopped
	}
	s := &Subscription{hub: h, scope: scope, c: make(chan alerts.Event, h.opts.Buffer), From: h.last}
	h.subs[s] = struct{}{}
	return s, nil
}

// Subscription receives the events of its scope.
type Subscription struct {
	hub   *Hub
	scope alerts.Scope
	c     chan alerts.Event
	// From is the ID of the last event delivered before the subscription began: every event
	// with a higher ID that the scope covers comes through Events, and none with a lower one.
	// A reader that resumes from an earlier ID reads the events up to From from the store.
	From int64

	lagged bool // under hub.mu
	ended  bool // under hub.mu
}

// Events is the channel of events, in ID order. It is closed when the subscription ends: by
// Close, when the hub stops, or when the subscriber fell behind (Lagged).
func (s *Subscription) Events() <-chan alerts.Event { return s.c }

// Lagged reports whether the subscription was cut off because its reader fell behind.
func (s *Subscription) Lagged() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.lagged
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.end(false)
}

// end removes the subscription and closes its channel, once. hub.mu is held.
func (s *Subscription) end(lagged bool) {
	if s.ended {
		return
	}
	s.ended, s.lagged = true, lagged
	delete(s.hub.subs, s)
	close(s.c)
}
