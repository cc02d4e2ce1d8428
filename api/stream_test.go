package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// sseEvent is one event of a Server-Sent Events stream.
type sseEvent struct {
	ID    int64
	Event string
	Data  string
}

// sseClient reads an alert stream over HTTP.
type sseClient struct {
	t          *testing.T
	resp       *http.Response
	cancel     context.CancelFunc
	events     chan sseEvent
	heartbeats atomic.Int64
	done       chan struct{}
}

// stream connects to the alert stream as the user of name, with Last-Event-ID if given.
func (af *alertFixture) stream(name, lastEventID string) *sseClient {
	af.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", af.server.URL+"/api/v1/alerts/stream", nil)
	if err != nil {
		af.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+af.tokens[name])
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := af.server.Client().Do(req)
	if err != nil {
		cancel()
		af.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		af.t.Fatalf("GET /alerts/stream as %s = %d %s %s; want 200 text/event-stream", name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	c := &sseClient{t: af.t, resp: resp, cancel: cancel, events: make(chan sseEvent, 100), done: make(chan struct{})}
	go c.read()
	af.t.Cleanup(c.close)
	return c
}

// read parses the stream (id:, event:, data: lines; a blank line ends an event; a line that
// starts with a colon is a comment) until it ends.
func (c *sseClient) read() {
	defer close(c.done)
	defer close(c.events)
	sc := bufio.NewScanner(c.resp.Body)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		field, value, _ := strings.Cut(line, ": ")
		switch {
		case line == "":
			if ev.Event != "" {
				c.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			c.heartbeats.Add(1)
		case field == "id":
			ev.ID, _ = strconv.ParseInt(value, 10, 64)
		case field == "event":
			ev.Event = value
		case field == "data":
			ev.Data = value
		}
	}
}

// close disconnects and waits for the reader.
func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
	<-c.done
}

// next returns the next event, failing the test if none comes within 5 s.
func (c *sseClient) next() sseEvent {
	c.t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			c.t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		c.t.Fatal("no event within 5 s")
	}
	return sseEvent{}
}

// nothing fails the test if an event comes within d.
func (c *sseClient) nothing(d time.Duration) {
	c.t.Helper()
	select {
	case ev, ok := <-c.events:
		if ok {
			c.t.Errorf("unexpected event %d %s %s", ev.ID, ev.Event, ev.Data)
		}
	case <-time.After(d):
	}
}

// alert decodes an event's data, strictly.
func (ev sseEvent) alert(t *testing.T) alertJSON {
	t.Helper()
	var a alertJSON
	dec := json.NewDecoder(strings.NewReader(ev.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("event %d data %s: %v", ev.ID, ev.Data, err)
	}
	return a
}

// The live feed: each user receives, as it happens, what they may see; a client that reconnects
// with Last-Event-ID receives exactly the events it missed, including those another instance
// wrote, and then the live ones, none twice.
func TestAlertStream(t *testing.T) {
	af := newAlertFixture(t)
	docA := af.stream("docA", "")
	fleetA := af.stream("fleetA", "")

	evs := af.apply(clinicalAt("glucose_very_low", "pB1", "tB", alerts.Urgent, 0), faultAt("battery_low", "dA1", "sA", alerts.Warning, 0),
		clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0))
	got := docA.next()
	a := got.alert(t)
	if got.ID != evs[2].ID || got.Event != "raised" || a.Subject != "patient/pA1" || a.State != "open" || a.Severity != "urgent" || a.Evidence != nil {
		t.Errorf("docA received %d %s %+v; want %d raised, the open alert of pA1 without evidence", got.ID, got.Event, a, evs[2].ID)
	}
	if got := fleetA.next(); got.ID != evs[1].ID || got.alert(t).Device != "dA1" {
		t.Errorf("fleetA received %d %s; want %d, the fault of dA1", got.ID, got.Data, evs[1].ID)
	}
	docA.nothing(100 * time.Millisecond)
	fleetA.nothing(0)

	// docA goes away; meanwhile the alert repeats, docA acknowledges it (from another device),
	// and another instance writes to the store directly (no publish here): a new alert of tA
	// and a repeat of tB's.
	docA.close()
	missed := af.apply(clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 5))
	af.do(200, "docA", "POST", fmt.Sprintf("/alerts/%d/acknowledge", evs[2].AlertID), `{"note": "on my way"}`, nil)
	for _, fd := range []alerts.Finding{clinicalAt("glucose_low", "pA2", "tA", alerts.Warning, 6), clinicalAt("glucose_very_low", "pB1", "tB", alerts.Urgent, 6)} {
		if _, _, _, err := af.store.ApplyFinding(context.Background(), fd); err != nil {
			t.Fatal(err)
		}
	}
	tA, err := af.store.AlertEvents(context.Background(), evs[2].ID, alerts.Scope{Teams: []string{"tA"}}, 100)
	if err != nil || len(tA) != 3 || tA[0].ID != missed[0].ID {
		t.Fatalf("tA's events after %d = %d, %v; want 3, from %d", evs[2].ID, len(tA), err, missed[0].ID)
	}

	again := af.stream("docA", strconv.FormatInt(got.ID, 10))
	var types []string
	for i := range tA {
		ev := again.next()
		if ev.ID != tA[i].ID {
			t.Errorf("resumed event %d is %d; want %d", i, ev.ID, tA[i].ID)
		}
		types = append(types, ev.Event+" "+ev.alert(t).State)
	}
	if want := []string{"updated open", "acknowledged acknowledged", "raised open"}; !slices.Equal(types, want) {
		t.Errorf("resumed events = %v; want %v", types, want)
	}
	// Then live, with nothing repeated at the seam.
	live := af.apply(clinicalAt("glucose_very_low", "pA1", "tA", alerts.Critical, 10))
	if ev := again.next(); ev.ID != live[0].ID || ev.Event != "severity_raised" || ev.alert(t).Severity != "critical" {
		t.Errorf("live event after resuming = %d %s %s; want %d severity_raised, critical", ev.ID, ev.Event, ev.Data, live[0].ID)
	}
	again.nothing(100 * time.Millisecond)

	// Resuming from 0 replays everything in scope: docB's two events of pB1, in order.
	docB := af.stream("docB", "0")
	first, second := docB.next(), docB.next()
	if first.ID != evs[0].ID || second.Event != "updated" || second.alert(t).Subject != "patient/pB1" || second.ID <= first.ID {
		t.Errorf("docB from 0 = %d %s, %d %s; want %d raised, then the update of pB1", first.ID, first.Event, second.ID, second.Event, evs[0].ID)
	}
	docB.nothing(100 * time.Millisecond)

	// A quiet stream sends heartbeats (every 50 ms in this fixture).
	if n := again.heartbeats.Load(); n < 2 {
		t.Errorf("%d heartbeats on a stream open for over 200 ms; want some", n)
	}
}

// The seam between replay and live, made deterministic: the hub polls only when a publish
// finds it behind. A stream resuming from 0 replays what the hub had delivered when it
// subscribed, and receives the rest live: events the hub had not read yet when the stream
// began come once, in order, after the replayed ones.
func TestAlertStreamSeam(t *testing.T) {
	af := newAlertFixturePolling(t, time.Hour)
	direct := func(fd alerts.Finding) int64 { // another instance's write: not published here
		t.Helper()
		_, ev, _, err := af.store.ApplyFinding(context.Background(), fd)
		if err != nil {
			t.Fatal(err)
		}
		return ev.ID
	}
	watcher := af.stream("admin", "")
	e1 := direct(faultAt("offline", "dA1", "sA", alerts.Warning, 0))
	e2 := af.apply(faultAt("offline", "dB1", "sB", alerts.Warning, 0))[0].ID // behind: the hub reads e1 and e2
	if a, b := watcher.next(), watcher.next(); a.ID != e1 || b.ID != e2 {
		t.Fatalf("watcher received %d, %d; want %d, %d", a.ID, b.ID, e1, e2)
	}

	e3 := direct(faultAt("offline", "stA", "sA", alerts.Warning, 0)) // the hub has not read it
	resumed := af.stream("admin", "0")                               // replays e1, e2 (up to the hub's last)
	var got []int64
	for range 2 {
		got = append(got, resumed.next().ID)
	}
	resumed.nothing(50 * time.Millisecond) // e3 is not the replay's: it comes live
	e4 := af.apply(faultAt("battery_low", "dA1", "sA", alerts.Warning, 0))[0].ID
	for range 2 {
		got = append(got, resumed.next().ID)
	}
	if want := []int64{e1, e2, e3, e4}; !slices.Equal(got, want) {
		t.Errorf("resumed from 0 = %v; want %v, each once", got, want)
	}
	resumed.nothing(100 * time.Millisecond)
	if a, b := watcher.next(), watcher.next(); a.ID != e3 || b.ID != e4 {
		t.Errorf("watcher received %d, %d; want %d, %d", a.ID, b.ID, e3, e4)
	}
}

// A stream's events fit the alert schema of the OpenAPI document.
func TestAlertStreamDataFitsTheDocument(t *testing.T) {
	af := newAlertFixture(t)
	doc := loadOpenAPI(t)
	s := af.stream("admin", "")
	af.apply(faultAt("offline", "dB1", "sB", alerts.Urgent, 0))
	ev := s.next()
	var v any
	if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
		t.Fatal(err)
	}
	if err := doc.check("data", v, map[string]any{"$ref": "#/components/schemas/Alert"}); err != nil {
		t.Errorf("event data %s does not fit the Alert schema: %v", ev.Data, err)
	}
	if !bytes.Contains([]byte(ev.Data), []byte(`"escalation_level":0`)) {
		t.Errorf("event data %s has no escalation level", ev.Data)
	}
}
