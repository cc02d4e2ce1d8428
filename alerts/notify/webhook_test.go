package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/store"
)

// The deliverer runs against a real SQLite store and an httptest receiver; its clock is a
// whClock that the test moves, so that the schedule of retries is exact. The receivers listen
// on loopback, a private target: the deliverers allow it, but where the refusal is tested.

// whClock is a clock the test sets.
type whClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *whClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *whClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// received is one request the receiver got.
type received struct {
	At        time.Time // on the test's clock
	Body      []byte
	Signature string
	Key       string
	Event     string
	Type      string
}

// receiver is an httptest server that answers status(n) to its n-th request (from 1).
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newReceiver(t *testing.T, clock *whClock, status func(n int) int) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{At: clock.Now(), Body: body, Signature: r.Header.Get("X-VitalWatch-Signature"),
			Key: r.Header.Get("X-VitalWatch-Delivery"), Event: r.Header.Get("X-VitalWatch-Event"), Type: r.Header.Get("Content-Type")})
		n := len(rc.got)
		rc.mu.Unlock()
		w.WriteHeader(status(n))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// whFixture is a store with sites sA, sB and teams tA (at sA), tB (at sB), and a deliverer
// over it on a test clock.
type whFixture struct {
	t     *testing.T
	dsn   string
	store *store.Store
	clock *whClock
	del   *notify.Deliverer
}

func newWHFixture(t *testing.T, o notify.DelivererOptions) *whFixture {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "vw.db")
	s := openStore(t, dsn)
	if err := s.CreateSites(asAdminWH, []devices.Site{{ID: "sA", Name: "A"}, {ID: "sB", Name: "B"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTeams(asAdminWH, []devices.Team{{ID: "tA", SiteID: "sA", Name: "A"}, {ID: "tB", SiteID: "sB", Name: "B"}}); err != nil {
		t.Fatal(err)
	}
	f := &whFixture{t: t, dsn: dsn, store: s, clock: &whClock{now: base}}
	o.Now = f.clock.Now
	f.del = notify.NewDeliverer(s, o)
	return f
}

var asAdminWH = audit.WithActor(context.Background(), "user:admin")

func (f *whFixture) webhook(w notify.Webhook) notify.Webhook {
	f.t.Helper()
	if w.Secret == "" {
		w.Secret = notify.NewWebhookSecret()
	}
	w.Enabled = true
	got, err := f.store.CreateWebhook(asAdminWH, w)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

func (f *whFixture) apply(fd alerts.Finding) alerts.Event {
	f.t.Helper()
	_, ev, _, err := f.store.ApplyFinding(context.Background(), fd)
	if err != nil {
		f.t.Fatal(err)
	}
	return ev
}

// runAt sets the clock to at and runs one round of the deliverer.
func (f *whFixture) runAt(at time.Time) {
	f.t.Helper()
	f.clock.Set(at)
	if err := f.del.RunOnce(context.Background()); err != nil {
		f.t.Fatalf("RunOnce at %v: %v", at, err)
	}
}

func (f *whFixture) deliveries(webhook int64) []notify.Delivery {
	f.t.Helper()
	ds, err := f.store.ListWebhookDeliveries(context.Background(), webhook, notify.DeliveryFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

// hmacHex is the signature a receiver computes, with crypto/hmac alone.
func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// A receiver that fails the first attempts gets the delivery again after 10 s, 20 s and 40 s,
// the same request each time, and once it answers 2xx, never again.
func TestDelivererRetriesUntilDelivered(t *testing.T) {
	f := newWHFixture(t, notify.DelivererOptions{AllowPrivate: true})
	rc := newReceiver(t, f.clock, func(n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	w := f.webhook(notify.Webhook{Team: "tA", URL: rc.URL + "/hook"})
	ev := f.apply(clinical("glucose_very_low", "pA1", "tA", alerts.Urgent))

	schedule := []time.Duration{0, 10 * time.Second, 30 * time.Second, 70 * time.Second}
	for i, at := range schedule {
		if i > 0 {
			f.runAt(base.Add(at - time.Millisecond)) // not due yet
			if n := len(rc.requests()); n != i {
				t.Fatalf("requests at %v = %d; want %d: the retry is not due", at-time.Millisecond, n, i)
			}
		}
		f.runAt(base.Add(at))
		if n := len(rc.requests()); n != i+1 {
			t.Fatalf("requests at %v = %d; want %d", at, n, i+1)
		}
	}
	f.runAt(base.Add(2 * time.Hour))
	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("requests = %d; want 4: delivered once, after 3 failures", len(reqs))
	}
	for i, r := range reqs {
		if want := base.Add(schedule[i]); !r.At.Equal(want) {
			t.Errorf("attempt %d at %v; want %v", i+1, r.At, want)
		}
		if r.Key != reqs[0].Key || string(r.Body) != string(reqs[0].Body) {
			t.Errorf("attempt %d: key %q, body %s; want the first attempt's %q, %s", i+1, r.Key, r.Body, reqs[0].Key, reqs[0].Body)
		}
		if r.Signature != hmacHex(w.Secret, r.Body) {
			t.Errorf("attempt %d: signature %q does not verify with the webhook's secret", i+1, r.Signature)
		}
		if r.Event != "raised" || r.Type != "application/json" {
			t.Errorf("attempt %d: X-VitalWatch-Event %q, Content-Type %q; want raised, application/json", i+1, r.Event, r.Type)
		}
	}
	if !notify.VerifySignature(w.Secret, reqs[0].Body, reqs[0].Signature) || notify.VerifySignature("other", reqs[0].Body, reqs[0].Signature) {
		t.Error("VerifySignature does not tell the right secret from another")
	}
	var body struct {
		ID    string `json:"id"`
		Event struct {
			ID       int64  `json:"id"`
			Type     string `json:"type"`
			Severity string `json:"severity"`
		} `json:"event"`
		Alert struct {
			ID      int64  `json:"id"`
			Rule    string `json:"rule"`
			Subject string `json:"subject"`
			Team    string `json:"team"`
			State   string `json:"state"`
		} `json:"alert"`
	}
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatalf("body %s: %v", reqs[0].Body, err)
	}
	if body.ID != reqs[0].Key || body.Event.ID != ev.ID || body.Event.Type != "raised" || body.Event.Severity != "urgent" ||
		body.Alert.ID != ev.AlertID || body.Alert.Rule != "glucose_very_low" || body.Alert.Subject != "patient/pA1" ||
		body.Alert.Team != "tA" || body.Alert.State != "open" {
		t.Errorf("body = %+v; want the key, event %d raised urgent, and alert %d", body, ev.ID, ev.AlertID)
	}
	ds := f.deliveries(w.ID)
	if len(ds) != 1 || ds[0].State != notify.DeliveryDelivered || ds[0].Attempts != 4 || ds[0].LastStatus != 204 ||
		!ds[0].DeliveredAt.Equal(base.Add(70*time.Second)) || ds[0].Key != reqs[0].Key || ds[0].EventID != ev.ID {
		t.Errorf("delivery log = %+v; want one delivery of event %d, delivered on the 4th attempt", ds, ev.ID)
	}
}

// A receiver that never answers 2xx is tried with backoff doubling from 10 s up to 1 h, until
// 24 h have passed since the first attempt; the delivery is then failed and not tried again.
func TestDelivererGivesUpAfter24Hours(t *testing.T) {
	f := newWHFixture(t, notify.DelivererOptions{AllowPrivate: true})
	rc := newReceiver(t, f.clock, func(int) int { return http.StatusInternalServerError })
	w := f.webhook(notify.Webhook{Site: "sA", URL: rc.URL})
	f.apply(fault("battery_low", "dA1", "sA", alerts.Warning))

	f.runAt(base)
	for range 100 {
		ds := f.deliveries(w.ID)
		if ds[0].State != notify.DeliveryPending {
			break
		}
		f.runAt(ds[0].NextAttempt)
	}
	reqs := rc.requests()
	var gaps []time.Duration
	for i := 1; i < len(reqs); i++ {
		gaps = append(gaps, reqs[i].At.Sub(reqs[i-1].At))
	}
	wantGaps := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
		320 * time.Second, 640 * time.Second, 1280 * time.Second, 2560 * time.Second}
	for len(wantGaps) < len(gaps) {
		wantGaps = append(wantGaps, time.Hour)
	}
	if !slices.Equal(gaps, wantGaps) {
		t.Errorf("waits between attempts = %v; want %v", gaps, wantGaps)
	}
	last := reqs[len(reqs)-1].At.Sub(base)
	if last < 24*time.Hour || last >= 25*time.Hour {
		t.Errorf("last attempt %v after the first; want the first one at or after 24h", last)
	}
	ds := f.deliveries(w.ID)
	if ds[0].State != notify.DeliveryFailed || ds[0].Attempts != len(reqs) || ds[0].LastStatus != 500 || ds[0].LastError != "HTTP 500" {
		t.Errorf("delivery = %+v; want failed after %d attempts, last status 500", ds[0], len(reqs))
	}
	f.runAt(base.Add(48 * time.Hour))
	if n := len(rc.requests()); n != len(reqs) {
		t.Errorf("requests after giving up = %d; want still %d", n, len(reqs))
	}
}

// An attempt that gets no answer within the timeout is a failed attempt, retried.
func TestDelivererTimeout(t *testing.T) {
	f := newWHFixture(t, notify.DelivererOptions{Timeout: 50 * time.Millisecond, AllowPrivate: true})
	slow := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server notices the client going
		select {
		case <-slow:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(slow) }) // before srv.Close, which waits for the handler
	w := f.webhook(notify.Webhook{Team: "tA", URL: srv.URL})
	f.apply(clinical("glucose_very_low", "pA1", "tA", alerts.Urgent))
	f.runAt(base)
	ds := f.deliveries(w.ID)
	if len(ds) != 1 || ds[0].State != notify.DeliveryPending || ds[0].Attempts != 1 || ds[0].LastStatus != 0 ||
		ds[0].LastError == "" || !ds[0].NextAttempt.Equal(base.Add(10*time.Second)) {
		t.Errorf("delivery after a timeout = %+v; want pending, 1 attempt, an error, next in 10s", ds)
	}
}

// Each event goes to the webhooks of its routing at or above their minimum severity; a repeat
// that notifies no one, an acknowledgement and a late alert are not sent.
func TestDelivererSendsToMatchingWebhooks(t *testing.T) {
	f := newWHFixture(t, notify.DelivererOptions{AllowPrivate: true})
	rc := newReceiver(t, f.clock, func(int) int { return http.StatusOK })
	f.apply(clinical("glucose_low", "pA9", "tA", alerts.Warning)) // before any webhook: never sent
	teamA := f.webhook(notify.Webhook{Team: "tA", URL: rc.URL + "/tA"})
	teamAUrgent := f.webhook(notify.Webhook{Team: "tA", URL: rc.URL + "/tA-urgent", MinSeverity: alerts.Urgent})
	teamB := f.webhook(notify.Webhook{Team: "tB", URL: rc.URL + "/tB"})
	siteA := f.webhook(notify.Webhook{Site: "sA", URL: rc.URL + "/sA"})

	raised := f.apply(clinical("glucose_low", "pA1", "tA", alerts.Warning))
	f.apply(clinical("glucose_low", "pA1", "tA", alerts.Warning)) // updated: not sent
	rose := f.apply(clinical("glucose_low", "pA1", "tA", alerts.Urgent))
	if _, _, err := f.store.AcknowledgeAlert(asAdminWH, raised.AlertID, ""); err != nil { // not sent
		t.Fatal(err)
	}
	resolved, _, err := f.store.ResolveAlert(asAdminWH, raised.AlertID, "called the patient")
	if err != nil {
		t.Fatal(err)
	}
	late := clinical("spo2_low", "pA1", "tA", alerts.Urgent)
	late.Late = true
	f.apply(late) // late: not sent
	faultA := f.apply(fault("battery_low", "dA1", "sA", alerts.Warning))
	f.apply(fault("battery_low", "dB1", "sB", alerts.Warning)) // site sB has no webhook
	clinB := f.apply(clinical("glucose_low", "pB1", "tB", alerts.Warning))
	f.runAt(base)

	hist, err := f.store.AlertHistory(context.Background(), resolved.ID)
	if err != nil {
		t.Fatal(err)
	}
	resolvedEv := hist[len(hist)-1].ID
	want := map[int64][]int64{
		teamA.ID:       {raised.ID, rose.ID, resolvedEv},
		teamAUrgent.ID: {rose.ID, resolvedEv},
		teamB.ID:       {clinB.ID},
		siteA.ID:       {faultA.ID},
	}
	for id, evs := range want {
		var got []int64
		for _, d := range f.deliveries(id) {
			got = append(got, d.EventID)
			if d.State != notify.DeliveryDelivered {
				t.Errorf("webhook %d, event %d: %s; want delivered", id, d.EventID, d.State)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, evs) {
			t.Errorf("events delivered to webhook %d = %v; want %v", id, got, evs)
		}
	}
	if n := len(rc.requests()); n != 7 {
		t.Errorf("requests = %d; want 7", n)
	}
}

// The cursor is in the store: a deliverer that starts again (or runs on another instance)
// goes on from it; two running at once send each delivery once.
func TestDeliverersShareTheOutbox(t *testing.T) {
	f := newWHFixture(t, notify.DelivererOptions{AllowPrivate: true})
	rc := newReceiver(t, f.clock, func(int) int { return http.StatusOK })
	f.webhook(notify.Webhook{Team: "tA", URL: rc.URL})
	f.apply(clinical("glucose_low", "pA1", "tA", alerts.Warning))
	f.runAt(base)

	other := openStore(t, f.dsn)
	second := notify.NewDeliverer(other, notify.DelivererOptions{Now: f.clock.Now, AllowPrivate: true})
	for i := range 20 {
		f.apply(clinical("glucose_low", "pA"+string(rune('b'+i)), "tA", alerts.Warning))
	}
	var wg sync.WaitGroup
	for _, d := range []*notify.Deliverer{f.del, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.RunOnce(context.Background()); err != nil {
				t.Errorf("RunOnce: %v", err)
			}
		}()
	}
	wg.Wait()
	keys := map[string]int{}
	events := map[int64]int{}
	for _, r := range rc.requests() {
		keys[r.Key]++
		var b struct {
			Event struct {
				ID int64 `json:"id"`
			} `json:"event"`
		}
		json.Unmarshal(r.Body, &b)
		events[b.Event.ID]++
	}
	if len(keys) != 21 || len(events) != 21 {
		t.Errorf("%d keys, %d events delivered; want 21 each", len(keys), len(events))
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("delivery %s sent %d times; want once", k, n)
		}
	}
}

func TestWebhookMatches(t *testing.T) {
	ev := func(typ alerts.EventType, c alerts.Category, team, site string, sev, notified alerts.Severity, notify bool) alerts.Event {
		return alerts.Event{ID: 10, Type: typ, Severity: sev, Notify: notify,
			Alert: alerts.Alert{Category: c, Team: team, Site: site, Severity: sev, NotifiedSeverity: notified}}
	}
	team := notify.Webhook{Team: "tA", Enabled: true, FromEvent: 5}
	urgent := notify.Webhook{Team: "tA", Enabled: true, MinSeverity: alerts.Urgent}
	site := notify.Webhook{Site: "sA", Enabled: true}
	tests := []struct {
		name string
		w    notify.Webhook
		ev   alerts.Event
		want bool
	}{
		{"raised to its team", team, ev(alerts.EventRaised, alerts.Clinical, "tA", "sA", alerts.Warning, alerts.Warning, true), true},
		{"raised to another team", team, ev(alerts.EventRaised, alerts.Clinical, "tB", "sA", alerts.Warning, alerts.Warning, true), false},
		{"clinical to the site", site, ev(alerts.EventRaised, alerts.Clinical, "tA", "sA", alerts.Warning, alerts.Warning, true), false},
		{"fault to its site", site, ev(alerts.EventRaised, alerts.Fault, "", "sA", alerts.Warning, alerts.Warning, true), true},
		{"fault to a team", team, ev(alerts.EventRaised, alerts.Fault, "tA", "sA", alerts.Warning, alerts.Warning, true), false},
		{"quiet raise", team, ev(alerts.EventRaised, alerts.Clinical, "tA", "", alerts.Info, 0, false), false},
		{"updated, no notify", team, ev(alerts.EventUpdated, alerts.Clinical, "tA", "", alerts.Warning, alerts.Warning, false), false},
		{"updated, first clean", team, ev(alerts.EventUpdated, alerts.Clinical, "tA", "", alerts.Warning, alerts.Warning, true), true},
		{"severity raised", team, ev(alerts.EventSeverityRaised, alerts.Clinical, "tA", "", alerts.Urgent, alerts.Urgent, true), true},
		{"acknowledged", team, ev(alerts.EventAcknowledged, alerts.Clinical, "tA", "", alerts.Urgent, alerts.Urgent, false), false},
		{"escalated", team, ev(alerts.EventEscalated, alerts.Clinical, "tA", "", alerts.Urgent, alerts.Urgent, false), true},
		{"resolved, was notified", team, ev(alerts.EventResolved, alerts.Clinical, "tA", "", alerts.Warning, alerts.Warning, false), true},
		{"resolved, never notified", team, ev(alerts.EventResolved, alerts.Clinical, "tA", "", alerts.Info, 0, false), false},
		{"below the minimum", urgent, ev(alerts.EventRaised, alerts.Clinical, "tA", "", alerts.Warning, alerts.Warning, true), false},
		{"at the minimum", urgent, ev(alerts.EventRaised, alerts.Clinical, "tA", "", alerts.Urgent, alerts.Urgent, true), true},
		{"resolved, notified below the minimum", urgent, ev(alerts.EventResolved, alerts.Clinical, "tA", "", alerts.Urgent, alerts.Warning, false), false},
		{"disabled", notify.Webhook{Team: "tA"}, ev(alerts.EventRaised, alerts.Clinical, "tA", "", alerts.Warning, alerts.Warning, true), false},
		{"before the webhook", notify.Webhook{Team: "tA", Enabled: true, FromEvent: 10}, ev(alerts.EventRaised, alerts.Clinical, "tA", "", alerts.Warning, alerts.Warning, true), false},
	}
	for _, tt := range tests {
		if got := tt.w.Matches(tt.ev); got != tt.want {
			t.Errorf("%s: Matches = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestRetryBackoff(t *testing.T) {
	var p notify.RetryPolicy
	for _, tt := range []struct {
		attempts int
		want     time.Duration
	}{{1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {9, 2560 * time.Second}, {10, time.Hour}, {40, time.Hour}} {
		if got := p.Backoff(tt.attempts); got != tt.want {
			t.Errorf("Backoff(%d) = %v; want %v", tt.attempts, got, tt.want)
		}
	}
}

// The deliverer's own client refuses to connect to a private address, judged after the name
// is resolved: a webhook whose name resolves to loopback (as a rebinding name would), or that
// was stored when private targets were allowed, gets a failed attempt that says why, retried
// with the usual backoff, and the receiver gets nothing. A deliverer that allows private
// targets delivers the same delivery.
func TestDelivererRefusesPrivateTargets(t *testing.T) {
	f := newWHFixture(t, notify.DelivererOptions{})
	rc := newReceiver(t, f.clock, func(int) int { return http.StatusOK })
	_, port, _ := strings.Cut(strings.TrimPrefix(rc.URL, "http://"), ":")
	byName := f.webhook(notify.Webhook{Team: "tA", URL: "http://localhost:" + port + "/hook"}) // a name, resolved when dialling
	byAddr := f.webhook(notify.Webhook{Site: "sA", URL: rc.URL + "/hook"})
	f.apply(clinical("glucose_very_low", "pA1", "tA", alerts.Urgent))
	f.apply(fault("battery_low", "dA1", "sA", alerts.Warning))
	f.runAt(base)

	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the receiver on loopback got %d requests; want none", n)
	}
	for _, w := range []notify.Webhook{byName, byAddr} {
		ds := f.deliveries(w.ID)
		if len(ds) != 1 || ds[0].State != notify.DeliveryPending || ds[0].Attempts != 1 || ds[0].LastStatus != 0 ||
			!strings.Contains(ds[0].LastError, "is a loopback address") || !strings.Contains(ds[0].LastError, "alerts.webhooks.allow_private") ||
			!ds[0].NextAttempt.Equal(base.Add(10*time.Second)) {
			t.Errorf("delivery to %s = %+v; want a refused attempt saying why, retried in 10s", w.URL, ds)
		}
	}
	f.runAt(base.Add(10 * time.Second))
	if ds := f.deliveries(byName.ID); ds[0].Attempts != 2 || len(rc.requests()) != 0 {
		t.Errorf("after the backoff: %d attempts, %d requests; want a second refused attempt", ds[0].Attempts, len(rc.requests()))
	}

	allowing := notify.NewDeliverer(f.store, notify.DelivererOptions{Now: f.clock.Now, AllowPrivate: true})
	f.clock.Set(base.Add(30 * time.Second))
	if err := allowing.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.requests()); n != 2 {
		t.Errorf("a deliverer allowing private targets sent %d requests; want 2", n)
	}
}

// The client's check after resolution judges an IPv6 address that carries a refused IPv4 one
// as that IPv4 address: a webhook stored with such a URL (when private targets were allowed,
// or before the registration check knew the form) is refused when it connects, not sent.
func TestDelivererRefusesIPv6FormsOfPrivateTargets(t *testing.T) {
	f := newWHFixture(t, notify.DelivererOptions{Timeout: 2 * time.Second})
	rc := newReceiver(t, f.clock, func(int) int { return http.StatusOK })
	_, port, _ := strings.Cut(strings.TrimPrefix(rc.URL, "http://"), ":")
	var hooks []notify.Webhook
	for _, host := range []string{"[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[64:ff9b::a9fe:a9fe]", "100.100.100.200"} {
		hooks = append(hooks, f.webhook(notify.Webhook{Team: "tA", URL: "http://" + host + ":" + port + "/hook"}))
	}
	f.apply(clinical("glucose_very_low", "pA1", "tA", alerts.Urgent))
	f.runAt(base)
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the receiver got %d requests; want none", n)
	}
	for _, w := range hooks {
		ds := f.deliveries(w.ID)
		if len(ds) != 1 || ds[0].State != notify.DeliveryPending || ds[0].Attempts != 1 ||
			!strings.Contains(ds[0].LastError, "refused") || !strings.Contains(ds[0].LastError, "alerts.webhooks.allow_private") {
			t.Errorf("delivery to %s = %+v; want an attempt refused before connecting, saying why", w.URL, ds)
		}
	}
}

// Requests sent after a rotation are signed with the new secret, a retry of an event queued
// before it included.
func TestDelivererSignsWithRotatedSecret(t *testing.T) {
	f := newWHFixture(t, notify.DelivererOptions{AllowPrivate: true})
	rc := newReceiver(t, f.clock, func(n int) int {
		if n == 2 {
			return http.StatusBadGateway // the second event's first attempt
		}
		return http.StatusOK
	})
	w := f.webhook(notify.Webhook{Team: "tA", URL: rc.URL})
	old := w.Secret
	f.apply(clinical("glucose_very_low", "pA1", "tA", alerts.Urgent))
	f.runAt(base)
	f.apply(clinical("glucose_very_low", "pA2", "tA", alerts.Urgent))
	f.runAt(base.Add(time.Second)) // fails: retried in 10s

	rotated, err := f.store.RotateWebhookSecret(asAdminWH, w.ID, notify.NewWebhookSecret())
	if err != nil {
		t.Fatal(err)
	}
	f.apply(clinical("glucose_very_low", "pA3", "tA", alerts.Urgent))
	f.runAt(base.Add(11 * time.Second)) // the retry and the third event

	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests; want 4", len(reqs))
	}
	for i, r := range reqs {
		wantSecret, other := old, rotated.Secret
		if i >= 2 {
			wantSecret, other = rotated.Secret, old
		}
		if !notify.VerifySignature(wantSecret, r.Body, r.Signature) || notify.VerifySignature(other, r.Body, r.Signature) {
			t.Errorf("request %d (%s) is not signed with the secret in force when it was sent", i+1, r.Key)
		}
	}
	if reqs[2].Key != reqs[1].Key && reqs[3].Key != reqs[1].Key {
		t.Errorf("no request after the rotation retries %s", reqs[1].Key)
	}
}
