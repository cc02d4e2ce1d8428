package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// seedWebhookRegistry creates sites sA, sB and teams tA (at sA), tB (at sB).
func seedWebhookRegistry(t *testing.T, s *Store) {
	t.Helper()
	must(t, "sites", s.CreateSites(asAdmin, []devices.Site{{ID: "sA", Name: "A"}, {ID: "sB", Name: "B"}}))
	must(t, "teams", s.CreateTeams(asAdmin, []devices.Team{{ID: "tA", SiteID: "sA", Name: "Team A"}, {ID: "tB", SiteID: "sB", Name: "Team B"}}))
}

// mustWebhook creates a webhook and fails the test at once on an error.
func mustWebhook(t *testing.T, s *Store, w notify.Webhook) notify.Webhook {
	t.Helper()
	if w.Secret == "" {
		w.Secret = notify.NewWebhookSecret()
	}
	got, err := s.CreateWebhook(asAdmin, w)
	if err != nil {
		t.Fatalf("CreateWebhook(%+v): %v", w, err)
	}
	return got
}

// Webhooks are created for one team or one site, listed by scope, changed, given a new secret
// and deleted, each change audited without the secret.
func testWebhooks(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seedWebhookRegistry(t, s)
	mustApply(t, s, clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 0, "3.5 mmol/L")) // event 1

	secret := notify.NewWebhookSecret()
	wa := mustWebhook(t, s, notify.Webhook{Team: "tA", URL: "https://sms.example/hook?token=x", Secret: secret, Enabled: true,
		MinSeverity: alerts.Urgent})
	if wa.ID == 0 || wa.FromEvent != 1 || wa.CreatedBy != "admin:test" || wa.CreatedAt.IsZero() {
		t.Errorf("created %+v; want an id, from event 1, created by admin:test", wa)
	}
	ws := mustWebhook(t, s, notify.Webhook{Site: "sB", URL: "http://10.0.0.9:8080/in", Enabled: true})
	got, err := s.GetWebhook(ctx, wa.ID)
	if err != nil || got != wa || got.Secret != secret {
		t.Errorf("GetWebhook(%d) = %+v, %v; want %+v with its secret as given", wa.ID, got, err, wa)
	}
	_, err = s.GetWebhook(ctx, 99)
	wantCode(t, "GetWebhook(99)", err, errcode.NotFound)

	for _, tt := range []struct {
		name string
		w    notify.Webhook
		code string
	}{
		{"team and site", notify.Webhook{Team: "tA", Site: "sA", URL: "https://x.example/", Secret: "s"}, errcode.Invalid},
		{"neither", notify.Webhook{URL: "https://x.example/", Secret: "s"}, errcode.Invalid},
		{"ftp", notify.Webhook{Team: "tA", URL: "ftp://x.example/", Secret: "s"}, errcode.Invalid},
		{"no host", notify.Webhook{Team: "tA", URL: "https:///path", Secret: "s"}, errcode.Invalid},
		{"no secret", notify.Webhook{Team: "tA", URL: "https://x.example/"}, errcode.Invalid},
		{"unknown team", notify.Webhook{Team: "tZ", URL: "https://x.example/", Secret: "s"}, errcode.Invalid},
		{"unknown site", notify.Webhook{Site: "sZ", URL: "https://x.example/", Secret: "s"}, errcode.Invalid},
	} {
		_, err := s.CreateWebhook(asAdmin, tt.w)
		wantCode(t, "CreateWebhook "+tt.name, err, tt.code)
	}
	_, err = s.CreateWebhook(ctx, notify.Webhook{Team: "tA", URL: "https://x.example/", Secret: "s"})
	wantCode(t, "CreateWebhook without an actor", err, errcode.Invalid)

	ids := func(ws []notify.Webhook) []int64 {
		out := []int64{}
		for _, w := range ws {
			out = append(out, w.ID)
		}
		return out
	}
	for _, tt := range []struct {
		f    notify.WebhookFilter
		want []int64
	}{
		{notify.WebhookFilter{Scope: alerts.Scope{All: true}}, []int64{wa.ID, ws.ID}},
		{notify.WebhookFilter{Scope: alerts.Scope{Teams: []string{"tA"}}}, []int64{wa.ID}},
		{notify.WebhookFilter{Scope: alerts.Scope{Teams: []string{"tB"}}}, []int64{}},
		{notify.WebhookFilter{Scope: alerts.Scope{Sites: []string{"sB"}}}, []int64{ws.ID}},
		{notify.WebhookFilter{Scope: alerts.Scope{}}, []int64{}},
		{notify.WebhookFilter{Scope: alerts.Scope{All: true}, Site: "sB"}, []int64{ws.ID}},
		{notify.WebhookFilter{Scope: alerts.Scope{All: true}, After: wa.ID}, []int64{ws.ID}},
		{notify.WebhookFilter{Scope: alerts.Scope{All: true}, Limit: 1}, []int64{wa.ID}},
	} {
		list, err := s.ListWebhooks(ctx, tt.f)
		if err != nil || !slices.Equal(ids(list), tt.want) {
			t.Errorf("ListWebhooks(%+v) = %v, %v; want %v", tt.f, ids(list), err, tt.want)
		}
	}

	off, sev, url := false, alerts.Severity(0), "https://sms.example/v2"
	upd, err := s.UpdateWebhook(asAdmin, wa.ID, notify.WebhookPatch{URL: &url, Enabled: &off, MinSeverity: &sev})
	if err != nil || upd.URL != url || upd.Enabled || upd.MinSeverity != 0 || upd.Team != "tA" || upd.Secret != secret {
		t.Errorf("UpdateWebhook = %+v, %v; want the new URL, disabled, any severity, the same team and secret", upd, err)
	}
	bad := "mailto:x@example.org"
	_, err = s.UpdateWebhook(asAdmin, wa.ID, notify.WebhookPatch{URL: &bad})
	wantCode(t, "UpdateWebhook with a mailto URL", err, errcode.Invalid)
	_, err = s.UpdateWebhook(asAdmin, 99, notify.WebhookPatch{Enabled: &off})
	wantCode(t, "UpdateWebhook(99)", err, errcode.NotFound)

	rotated := notify.NewWebhookSecret()
	rot, err := s.RotateWebhookSecret(asAdmin, wa.ID, rotated)
	if err != nil || rot.Secret != rotated || rot.URL != url || rot.Team != "tA" || rot.Enabled {
		t.Errorf("RotateWebhookSecret = %+v, %v; want the new secret, the rest as it was", rot, err)
	}
	if got, err := s.GetWebhook(ctx, wa.ID); err != nil || got.Secret != rotated {
		t.Errorf("GetWebhook after rotating = %+v, %v; want the new secret", got, err)
	}
	if all, err := s.AllWebhooks(ctx); err != nil || len(all) != 2 || all[0].Secret != rotated {
		t.Errorf("AllWebhooks after rotating = %+v, %v; want the new secret, which the deliverer signs with", all, err)
	}
	_, err = s.RotateWebhookSecret(asAdmin, 99, rotated)
	wantCode(t, "RotateWebhookSecret(99)", err, errcode.NotFound)
	_, err = s.RotateWebhookSecret(asAdmin, wa.ID, "")
	wantCode(t, "RotateWebhookSecret without a secret", err, errcode.Invalid)
	_, err = s.RotateWebhookSecret(ctx, wa.ID, notify.NewWebhookSecret())
	wantCode(t, "RotateWebhookSecret without an actor", err, errcode.Invalid)

	cursor, err := s.WebhookCursor(ctx)
	must(t, "WebhookCursor", err)
	ok, err := s.EnqueueWebhookDeliveries(ctx, cursor, 1, []notify.Delivery{newTestDelivery(ws.ID, 1, alertBase)})
	if err != nil || !ok {
		t.Fatalf("EnqueueWebhookDeliveries = %v, %v", ok, err)
	}
	must(t, "DeleteWebhook", s.DeleteWebhook(asAdmin, ws.ID))
	_, err = s.ListWebhookDeliveries(ctx, ws.ID, notify.DeliveryFilter{})
	wantCode(t, "deliveries of a deleted webhook", err, errcode.NotFound)
	wantCode(t, "DeleteWebhook again", s.DeleteWebhook(asAdmin, ws.ID), errcode.NotFound)

	entries, err := s.AuditLog(ctx, audit.Filter{Action: "", Limit: 100})
	must(t, "AuditLog", err)
	var actions []string
	for _, e := range entries {
		if strings.HasPrefix(e.Subject, "webhook/") {
			actions = append(actions, e.Action+" "+e.Subject)
			if strings.Contains(e.Detail, "whsec_") || strings.Contains(e.Detail, secret) || strings.Contains(e.Detail, rotated) {
				t.Errorf("audit entry %s %s holds the secret: %s", e.Action, e.Subject, e.Detail)
			}
		}
	}
	want := []string{fmt.Sprintf("webhook.delete webhook/%d", ws.ID), fmt.Sprintf("webhook.secret_rotate webhook/%d", wa.ID),
		fmt.Sprintf("webhook.update webhook/%d", wa.ID),
		fmt.Sprintf("webhook.create webhook/%d", ws.ID), fmt.Sprintf("webhook.create webhook/%d", wa.ID)}
	if !slices.Equal(actions, want) {
		t.Errorf("audit of webhooks = %v; want %v", actions, want)
	}
}

// newTestDelivery is a pending delivery of event to webhook, due at at.
func newTestDelivery(webhook, event int64, at time.Time) notify.Delivery {
	return notify.Delivery{WebhookID: webhook, EventID: event, EventType: alerts.EventRaised,
		Key: fmt.Sprintf("whd_test_%d_%d", webhook, event), Payload: []byte(fmt.Sprintf(`{"id":"%d"}`, event)),
		State: notify.DeliveryPending, CreatedAt: at, NextAttempt: at}
}

// The outbox: the cursor moves by compare and set; a claim leases due deliveries of enabled
// webhooks; the outcome is recorded only under the claim; the log pages newest first.
func testWebhookOutbox(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seedWebhookRegistry(t, s)
	w1 := mustWebhook(t, s, notify.Webhook{Team: "tA", URL: "https://a.example/", Enabled: true})
	w2 := mustWebhook(t, s, notify.Webhook{Site: "sA", URL: "https://b.example/", Enabled: true})
	if c, err := s.WebhookCursor(ctx); err != nil || c != 0 {
		t.Fatalf("WebhookCursor on a new store = %d, %v; want 0", c, err)
	}
	t0 := alertBase
	ok, err := s.EnqueueWebhookDeliveries(ctx, 0, 2, []notify.Delivery{newTestDelivery(w1.ID, 1, t0), newTestDelivery(w2.ID, 2, t0)})
	if err != nil || !ok {
		t.Fatalf("EnqueueWebhookDeliveries(0 -> 2) = %v, %v; want true", ok, err)
	}
	// A second instance that read from 0 too writes nothing.
	ok, err = s.EnqueueWebhookDeliveries(ctx, 0, 2, []notify.Delivery{newTestDelivery(w1.ID, 1, t0)})
	if err != nil || ok {
		t.Fatalf("EnqueueWebhookDeliveries(0 -> 2) again = %v, %v; want false: the cursor moved", ok, err)
	}
	if c, _ := s.WebhookCursor(ctx); c != 2 {
		t.Errorf("cursor = %d; want 2", c)
	}
	ok, err = s.EnqueueWebhookDeliveries(ctx, 2, 3, []notify.Delivery{newTestDelivery(w1.ID, 3, t0.Add(time.Minute))})
	if err != nil || !ok {
		t.Fatalf("EnqueueWebhookDeliveries(2 -> 3) = %v, %v", ok, err)
	}

	// At t0, events 1 and 2 are due; 3 is not.
	a, err := s.ClaimWebhookDeliveries(ctx, "a", t0, time.Minute, 10)
	if err != nil || len(a) != 2 || a[0].EventID != 1 || a[1].EventID != 2 {
		t.Fatalf("claim at t0 = %+v, %v; want events 1 and 2", a, err)
	}
	if a[0].LeaseOwner != "a" || !a[0].LeaseUntil.Equal(t0.Add(time.Minute)) || string(a[0].Payload) != `{"id":"1"}` || a[0].Key != "whd_test_1_1" {
		t.Errorf("claimed %+v; want leased to a until t0+1m, with its payload and key", a[0])
	}
	// Leased: no one else gets them while the lease runs, even once event 3 is due.
	b, err := s.ClaimWebhookDeliveries(ctx, "b", t0.Add(59*time.Second), time.Minute, 10)
	if err != nil || len(b) != 0 {
		t.Errorf("claim by b during a's lease = %+v, %v; want none", b, err)
	}
	b, err = s.ClaimWebhookDeliveries(ctx, "b", t0.Add(time.Minute), time.Minute, 10)
	if err != nil || len(b) != 3 {
		t.Fatalf("claim by b once a's lease ran out = %d, %v; want 3", len(b), err)
	}
	// a's claim is lost: it cannot record an outcome over b's.
	d := a[0]
	d.Record(200, "", t0.Add(70*time.Second), notify.RetryPolicy{})
	wantCode(t, "FinishWebhookDelivery under a lost claim", s.FinishWebhookDelivery(ctx, d), errcode.Conflict)
	// b records: the first delivered, the second to retry in 10 s, the third failed.
	at := t0.Add(61 * time.Second)
	b[0].Record(204, "", at, notify.RetryPolicy{})
	b[1].Record(503, "HTTP 503", at, notify.RetryPolicy{})
	b[2].FirstAttempt = at.Add(-24 * time.Hour) // tried for a day already
	b[2].Record(0, "connection refused", at, notify.RetryPolicy{})
	for _, d := range b {
		must(t, "FinishWebhookDelivery", s.FinishWebhookDelivery(ctx, d))
	}
	if c, err := s.ClaimWebhookDeliveries(ctx, "c", at.Add(9*time.Second), time.Minute, 10); err != nil || len(c) != 0 {
		t.Errorf("claim before the retry is due = %+v, %v; want none", c, err)
	}
	// A disabled webhook's deliveries wait.
	off := false
	_, err = s.UpdateWebhook(asAdmin, w2.ID, notify.WebhookPatch{Enabled: &off})
	must(t, "disable", err)
	if c, err := s.ClaimWebhookDeliveries(ctx, "c", at.Add(10*time.Second), time.Minute, 10); err != nil || len(c) != 0 {
		t.Errorf("claim of a disabled webhook's delivery = %+v, %v; want none", c, err)
	}
	on := true
	_, err = s.UpdateWebhook(asAdmin, w2.ID, notify.WebhookPatch{Enabled: &on})
	must(t, "enable", err)
	c, err := s.ClaimWebhookDeliveries(ctx, "c", at.Add(10*time.Second), time.Minute, 10)
	if err != nil || len(c) != 1 || c[0].EventID != 2 || c[0].Attempts != 1 || c[0].LastStatus != 503 {
		t.Errorf("claim once the retry is due = %+v, %v; want event 2 after one attempt that got 503", c, err)
	}

	log, err := s.ListWebhookDeliveries(ctx, w1.ID, notify.DeliveryFilter{})
	if err != nil || len(log) != 2 {
		t.Fatalf("ListWebhookDeliveries(w1) = %+v, %v; want 2", log, err)
	}
	if log[0].EventID != 3 || log[0].State != notify.DeliveryFailed || log[0].LastError != "connection refused" || log[0].Payload != nil {
		t.Errorf("newest of w1's log = %+v; want event 3 failed with its error, without the payload", log[0])
	}
	if log[1].EventID != 1 || log[1].State != notify.DeliveryDelivered || !log[1].DeliveredAt.Equal(at) || log[1].Attempts != 1 {
		t.Errorf("oldest of w1's log = %+v; want event 1 delivered at %v after 1 attempt", log[1], at)
	}
	page, err := s.ListWebhookDeliveries(ctx, w1.ID, notify.DeliveryFilter{Before: log[0].ID, Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != log[1].ID {
		t.Errorf("ListWebhookDeliveries(before %d) = %+v, %v; want the older one", log[0].ID, page, err)
	}
}

// Claimers running at once never get the same delivery, and between them get every one.
func testWebhookConcurrentClaims(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	s := mustOpen(t, dsn)
	other := mustOpen(t, dsn) // another instance on the same database
	seedWebhookRegistry(t, s)
	w := mustWebhook(t, s, notify.Webhook{Team: "tA", URL: "https://a.example/", Enabled: true})
	const n = 200
	var ds []notify.Delivery
	for i := range n {
		ds = append(ds, newTestDelivery(w.ID, int64(i+1), alertBase))
	}
	if ok, err := s.EnqueueWebhookDeliveries(ctx, 0, n, ds); err != nil || !ok {
		t.Fatalf("EnqueueWebhookDeliveries = %v, %v", ok, err)
	}
	const claimers = 6
	got := make([][]int64, claimers)
	var wg sync.WaitGroup
	for i := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if i%2 == 1 {
				st = other
			}
			for range n { // bounded: with a broken lease, the same rows would come back forever
				c, err := st.ClaimWebhookDeliveries(ctx, fmt.Sprintf("claimer-%d", i), alertBase.Add(time.Second), time.Hour, 7)
				if err != nil {
					t.Errorf("claimer %d: %v", i, err)
					return
				}
				if len(c) == 0 {
					return
				}
				for _, d := range c {
					got[i] = append(got[i], d.EventID)
				}
			}
		}()
	}
	wg.Wait()
	seen := map[int64]int{}
	for i, evs := range got {
		for _, ev := range evs {
			if prev, dup := seen[ev]; dup {
				t.Errorf("delivery of event %d claimed by claimer %d and claimer %d", ev, prev, i)
			}
			seen[ev] = i
		}
	}
	if len(seen) != n {
		t.Errorf("claimed %d distinct deliveries; want %d", len(seen), n)
	}
}
