package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
)

// doerFunc answers webhook requests without a network.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// answer is a response with status and no body.
func answer(status int) *http.Response {
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(""))}
}

// serveWebhooks makes the fixture's API serve webhooks from its store, to public targets only.
func serveWebhooks(f *registryFixture) { serveWebhooksAllowing(f, false) }

// serveWebhooksAllowing is serveWebhooks that allows private targets if allowPrivate.
func serveWebhooksAllowing(f *registryFixture, allowPrivate bool) {
	f.t.Helper()
	var err error
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: f.store, Registry: f.store, Devices: f.view,
		Alerts: f.store, Webhooks: f.store, AllowPrivateWebhooks: allowPrivate, Auth: registryPrincipals, Users: f.store,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.t.Fatal(err)
	}
}

// seedWebhooks adds webhooks 1 of team tA, 2 of team tB, 3 of site sA and 4 of site sB, then
// an alert of tA and a fault at sA, each delivered once to its webhook (1 and 3).
func seedWebhooks(f *registryFixture) {
	f.t.Helper()
	ctx := context.Background()
	for i, w := range []notify.Webhook{{Team: "tA"}, {Team: "tB"}, {Site: "sA"}, {Site: "sB"}} {
		w.URL, w.Secret, w.Enabled = "https://hooks.example/"+w.Team+w.Site, notify.NewWebhookSecret(), true
		got, err := f.store.CreateWebhook(asSeedWH, w)
		if err != nil || got.ID != int64(i+1) {
			f.t.Fatalf("seedWebhooks: webhook %d = %+v, %v", i+1, got, err)
		}
	}
	for _, fd := range []alerts.Finding{clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0),
		faultAt("battery_low", "dA1", "sA", alerts.Warning, 1)} {
		if _, _, _, err := f.store.ApplyFinding(ctx, fd); err != nil {
			f.t.Fatal(err)
		}
	}
	d := notify.NewDeliverer(f.store, notify.DelivererOptions{Client: doerFunc(func(*http.Request) (*http.Response, error) {
		return answer(http.StatusOK), nil
	})})
	if err := d.RunOnce(ctx); err != nil {
		f.t.Fatal(err)
	}
	serveWebhooks(f)
}

// asSeedWH is the actor of the seeded webhooks.
var asSeedWH = audit.WithActor(context.Background(), "test:seed")

// A doctor registers a webhook of their team and sees its secret once; another team's doctor
// and a fleet manager may not touch it; the delivery log shows each attempt's outcome.
func TestWebhookLifecycle(t *testing.T) {
	f := newRegistryFixture(t)
	serveWebhooks(f)

	for _, tt := range []struct {
		token, body string
		status      int
		says        string
	}{
		{"docA", `{"team": "tA"}`, 400, "url: required"},
		{"docA", `{"team": "tA", "url": "ftp://x.example/"}`, 400, "http"},
		{"docA", `{"team": "tA", "site": "sA", "url": "https://x.example/"}`, 400, "exactly one"},
		{"docA", `{"team": "tA", "url": "https://x.example/", "min_severity": "loud"}`, 400, "min_severity"},
		{"docA", `{"team": "tA", "url": "https://x.example/", "secret": "mine"}`, 400, "unknown field"},
		{"admin", `{"team": "tZ", "url": "https://x.example/"}`, 400, "tZ"},
		{"docA", `{"team": "tB", "url": "https://x.example/"}`, 403, "tB"},
		{"docA", `{"site": "sA", "url": "https://x.example/"}`, 403, "doctor"},
		{"fleetA", `{"team": "tA", "url": "https://x.example/"}`, 403, "fleet manager"},
	} {
		w := f.call(tt.token, "POST", "/webhooks", tt.body)
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.says) {
			t.Errorf("POST /webhooks %s as %s = %d %s; want %d saying %q", tt.body, tt.token, w.Code, w.Body, tt.status, tt.says)
		}
	}

	var created createdWebhookJSON
	w := f.want(201, "docA", "POST", "/webhooks", `{"team": "tA", "url": "https://sms.example/in", "min_severity": "urgent"}`, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || created.Team != "tA" || !created.Enabled || created.MinSeverity != "urgent" ||
		created.CreatedBy != "user:docA" {
		t.Errorf("created %+v; want a secret, team tA, enabled, min urgent, by user:docA", created)
	}
	if loc := w.Header().Get("Location"); loc != "/api/v1/webhooks/1" {
		t.Errorf("Location = %q; want /api/v1/webhooks/1", loc)
	}
	got := f.want(200, "docA", "GET", "/webhooks/1", "", nil)
	if strings.Contains(got.Body.String(), "secret") || strings.Contains(got.Body.String(), created.Secret) {
		t.Errorf("GET /webhooks/1 shows the secret again: %s", got.Body)
	}
	f.want(403, "docB", "GET", "/webhooks/1", "", nil)
	f.want(403, "fleetA", "GET", "/webhooks/1", "", nil)
	f.want(403, "docB", "GET", "/webhooks/1/deliveries", "", nil)
	f.want(400, "docA", "PATCH", "/webhooks/1", `{"team": "tB"}`, nil)
	f.want(400, "docA", "GET", "/webhooks/x", "", nil)
	var list page[webhookJSON]
	f.want(200, "docB", "GET", "/webhooks", "", &list)
	if len(list.Items) != 0 {
		t.Errorf("docB's webhooks = %+v; want none", list.Items)
	}

	// A receiver that fails once, then answers 200, on an injected clock.
	var mu sync.Mutex
	now, calls := alertTime, 0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	d := notify.NewDeliverer(f.store, notify.DelivererOptions{Now: clock, Client: doerFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls == 1 {
			return answer(http.StatusBadGateway), nil
		}
		return answer(http.StatusOK), nil
	})})
	if _, _, _, err := f.store.ApplyFinding(context.Background(), clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0)); err != nil {
		t.Fatal(err)
	}
	if err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var log page[deliveryJSON]
	f.want(200, "docA", "GET", "/webhooks/1/deliveries", "", &log)
	if len(log.Items) != 1 || log.Items[0].State != "pending" || log.Items[0].Attempts != 1 || log.Items[0].LastStatus != 502 ||
		!log.Items[0].NextAttempt.Equal(alertTime.Add(10*time.Second)) || log.Items[0].Event != 1 || log.Items[0].EventType != "raised" {
		t.Fatalf("delivery log after a 502 = %+v; want event 1 pending, 1 attempt, 502, next in 10s", log.Items)
	}
	mu.Lock()
	now = now.Add(10 * time.Second)
	mu.Unlock()
	if err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	log = page[deliveryJSON]{} // omitted fields must not keep the first answer's values
	f.want(200, "docA", "GET", "/webhooks/1/deliveries", "", &log)
	if len(log.Items) != 1 || log.Items[0].State != "delivered" || log.Items[0].Attempts != 2 || log.Items[0].LastStatus != 200 ||
		!log.Items[0].DeliveredAt.Equal(alertTime.Add(10*time.Second)) || !log.Items[0].NextAttempt.IsZero() {
		t.Errorf("delivery log after a 200 = %+v; want delivered on the 2nd attempt", log.Items)
	}

	var patched webhookJSON
	f.want(200, "docA", "PATCH", "/webhooks/1", `{"enabled": false, "min_severity": ""}`, &patched)
	if patched.Enabled || patched.MinSeverity != "" {
		t.Errorf("patched %+v; want disabled, every severity", patched)
	}
	f.want(204, "docA", "DELETE", "/webhooks/1", "", nil)
	f.want(404, "docA", "GET", "/webhooks/1", "", nil)
	f.want(404, "docA", "GET", "/webhooks/1/deliveries", "", nil)
}

// A URL that names this machine, a private network or anything but a public address is refused
// when a webhook is registered or changed, naming url, unless private targets are allowed.
func TestWebhookURLRefusesPrivateTargets(t *testing.T) {
	f := newRegistryFixture(t)
	serveWebhooks(f)
	for _, tt := range []struct{ url, says string }{
		{"http://127.0.0.1:8080/in", "url: host 127.0.0.1 is a loopback address"},
		{"http://localhost/in", "url: host localhost is this machine"},
		{"http://sms.LOCALHOST./in", "url: host sms.LOCALHOST. is this machine"},
		{"http://[::1]:9000/", "url: host ::1 is a loopback address"},
		{"http://169.254.169.254/latest/meta-data/", "url: host 169.254.169.254 is a link-local address"},
		{"https://10.1.2.3/hook", "url: host 10.1.2.3 is a private address"},
		{"https://192.168.0.10/hook", "url: host 192.168.0.10 is a private address"},
		{"https://[fd00::5]/hook", "url: host fd00::5 is a private address"},
		{"http://0.0.0.0:80/", "url: host 0.0.0.0 is an unspecified address"},
		{"http://224.0.0.1/", "url: host 224.0.0.1 is a multicast address"},
		{"http://[::ffff:10.0.0.1]/", "url: host ::ffff:10.0.0.1 is a private address"},
		{"https://user:pw@sms.example/in", "url: "},
		{"gopher://sms.example/in", "url: "},
	} {
		body := `{"team": "tA", "url": "` + tt.url + `"}`
		w := f.call("docA", "POST", "/webhooks", body)
		if msg := errorOf(w.Body.Bytes()); w.Code != 400 || !strings.Contains(msg, tt.says) {
			t.Errorf("POST /webhooks %s = %d %s; want 400 saying %q", body, w.Code, msg, tt.says)
		}
	}
	var created createdWebhookJSON
	f.want(201, "docA", "POST", "/webhooks", `{"team": "tA", "url": "https://203.0.113.7/in"}`, &created)
	w := f.call("docA", "PATCH", "/webhooks/1", `{"url": "http://10.0.0.5:8080/in"}`)
	if msg := errorOf(w.Body.Bytes()); w.Code != 400 || !strings.Contains(msg, "url: host 10.0.0.5 is a private address") {
		t.Errorf("PATCH /webhooks/1 to a private address = %d %s; want 400 naming url", w.Code, msg)
	}
	var got webhookJSON
	f.want(200, "docA", "GET", "/webhooks/1", "", &got)
	if got.URL != "https://203.0.113.7/in" {
		t.Errorf("after a refused change the URL is %q; want it unchanged", got.URL)
	}

	// Allowed: a receiver on the same network.
	serveWebhooksAllowing(f, true)
	f.want(201, "docA", "POST", "/webhooks", `{"team": "tA", "url": "http://127.0.0.1:8080/in"}`, nil)
	f.want(200, "docA", "PATCH", "/webhooks/1", `{"url": "http://10.0.0.5:8080/in"}`, nil)
	f.want(400, "docA", "POST", "/webhooks", `{"team": "tA", "url": "ftp://10.0.0.5/in"}`, nil)
}

// An address in another form than dotted decimal (hex, octal, decimal, short, IPv6 forms of
// IPv4, zones, full-width digits) is refused by POST and PATCH as the address it names.
func TestWebhookURLRefusesOtherAddressForms(t *testing.T) {
	f := newRegistryFixture(t)
	serveWebhooks(f)
	f.want(201, "docA", "POST", "/webhooks", `{"team": "tA", "url": "https://203.0.113.7/in"}`, nil)
	for _, tt := range []struct{ host, says string }{
		{"0x7f000001", "url: host 0x7f000001 (127.0.0.1) is a loopback address"},
		{"2130706433", "url: host 2130706433 (127.0.0.1) is a loopback address"},
		{"127.1", "url: host 127.1 (127.0.0.1) is a loopback address"},
		{"0177.0.0.1", "url: host 0177.0.0.1 (127.0.0.1) is a loopback address"},
		{"017700000001", "url: host 017700000001 (127.0.0.1) is a loopback address"},
		{"0", "url: host 0 (0.0.0.0) is an unspecified address"},
		{"0xa9.0xfe.0xa9.0xfe", "(169.254.169.254) is a link-local address"},
		{"10.1", "(10.0.0.1) is a private address"},
		{"127.0.0.1.", "(127.0.0.1) is a loopback address"},
		{"\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11", "(127.0.0.1) is a loopback address"},
		{"[::ffff:127.0.0.1]", "is a loopback address"},
		{"[::1]", "url: host ::1 is a loopback address"},
		{"[0:0:0:0:0:0:0:1]", "url: host 0:0:0:0:0:0:0:1 (::1) is a loopback address"},
		{"[::127.0.0.1]", "an IPv6 form of 127.0.0.1, a loopback address"},
		{"[64:ff9b::a9fe:a9fe]", "an IPv6 form of 169.254.169.254, a link-local address"},
		{"[::1%25lo]", "is a loopback address"},
		{"[fe80::1%25eth0]", "is a link-local address"},
		{"localhost.", "is this machine"},
		{"100.100.100.200", "is a shared address"},
	} {
		body := `{"team": "tA", "url": "http://` + tt.host + `:8080/in"}`
		w := f.call("docA", "POST", "/webhooks", body)
		if msg := errorOf(w.Body.Bytes()); w.Code != 400 || !strings.Contains(msg, tt.says) || !strings.HasPrefix(msg, "invalid: url: ") {
			t.Errorf("POST /webhooks %s = %d %s; want 400 saying %q", body, w.Code, msg, tt.says)
		}
		body = `{"url": "http://` + tt.host + `/in"}`
		w = f.call("docA", "PATCH", "/webhooks/1", body)
		if msg := errorOf(w.Body.Bytes()); w.Code != 400 || !strings.HasPrefix(msg, "invalid: url: ") {
			t.Errorf("PATCH /webhooks/1 %s = %d %s; want 400 naming url", body, w.Code, msg)
		}
	}
	var got page[webhookJSON]
	f.want(200, "docA", "GET", "/webhooks", "", &got)
	if len(got.Items) != 1 || got.Items[0].URL != "https://203.0.113.7/in" {
		t.Errorf("webhooks after the refusals = %+v; want the one public webhook, unchanged", got.Items)
	}
	// Public addresses in the same forms are accepted: the form alone is no reason to refuse.
	f.want(201, "docA", "POST", "/webhooks", `{"team": "tA", "url": "http://0xcb007107/in"}`, nil)
	f.want(200, "docA", "PATCH", "/webhooks/1", `{"url": "http://[::ffff:203.0.113.8]/in"}`, nil)
}

// Rotating a webhook's secret shows the new one once; requests from then on are signed with
// it, not the old one; the rotation is audited without it.
func TestWebhookSecretRotation(t *testing.T) {
	f := newRegistryFixture(t)
	serveWebhooks(f)
	var created createdWebhookJSON
	f.want(201, "docA", "POST", "/webhooks", `{"team": "tA", "url": "https://sms.example/in"}`, &created)

	var mu sync.Mutex
	var signatures []string
	var bodies [][]byte
	d := notify.NewDeliverer(f.store, notify.DelivererOptions{Client: doerFunc(func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		signatures, bodies = append(signatures, r.Header.Get("X-VitalWatch-Signature")), append(bodies, body)
		return answer(http.StatusOK), nil
	})})
	deliver := func(minutes int) {
		t.Helper()
		if _, _, _, err := f.store.ApplyFinding(context.Background(), clinicalAt("glucose_low", fmt.Sprintf("pA%d", minutes), "tA", alerts.Warning, minutes)); err != nil {
			t.Fatal(err)
		}
		if err := d.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	deliver(1)

	f.want(403, "docB", "POST", "/webhooks/1/rotate-secret", "", nil)
	f.want(403, "fleetA", "POST", "/webhooks/1/rotate-secret", "", nil)
	f.want(400, "docA", "POST", "/webhooks/1/rotate-secret", `{"secret": "mine"}`, nil)
	f.want(400, "docA", "POST", "/webhooks/1/rotate-secret?now=1", "", nil)
	var rotated createdWebhookJSON
	f.want(200, "docA", "POST", "/webhooks/1/rotate-secret", "", &rotated)
	if !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == created.Secret || rotated.ID != 1 || rotated.URL != created.URL {
		t.Fatalf("rotated %+v; want webhook 1 with a new secret (was %s)", rotated, created.Secret)
	}
	if got := f.want(200, "docA", "GET", "/webhooks/1", "", nil); strings.Contains(got.Body.String(), rotated.Secret) {
		t.Errorf("GET /webhooks/1 shows the new secret: %s", got.Body)
	}
	deliver(2)

	mu.Lock()
	defer mu.Unlock()
	if len(signatures) != 2 {
		t.Fatalf("%d requests; want 2", len(signatures))
	}
	if !notify.VerifySignature(created.Secret, bodies[0], signatures[0]) {
		t.Error("the request before the rotation is not signed with the first secret")
	}
	if !notify.VerifySignature(rotated.Secret, bodies[1], signatures[1]) || notify.VerifySignature(created.Secret, bodies[1], signatures[1]) {
		t.Error("the request after the rotation is not signed with the new secret alone")
	}
	var audit page[auditJSON]
	w := f.want(200, "admin", "GET", "/audit?subject=webhook/1", "", &audit)
	if len(audit.Items) != 2 || audit.Items[0].Action != "webhook.secret_rotate" || audit.Items[0].Actor != "user:docA" ||
		strings.Contains(w.Body.String(), rotated.Secret) || strings.Contains(w.Body.String(), created.Secret) {
		t.Errorf("audit of webhook 1 = %s; want create then secret_rotate by user:docA, without the secrets", w.Body)
	}
}
