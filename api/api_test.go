package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
)

type lister struct{ got deadletter.Filter }

func (l *lister) ListDeadLetters(_ context.Context, f deadletter.Filter) ([]deadletter.DeadLetter, error) {
	l.got = f
	return []deadletter.DeadLetter{{ID: 7, Device: "d1", Reason: "malformed_json", Index: -1, Payload: []byte{0xff, 0x00}, PayloadSize: 5000}}, nil
}

// fakeAuth admits the bearer tokens it maps to principals; the real authenticator, UserAuth,
// is tested against a store in auth_test.go.
type fakeAuth map[string]*access.Principal

func (f fakeAuth) Authenticate(r *http.Request) (*access.Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, nil
	}
	if p, ok := f[tok]; ok {
		return p, nil
	}
	return nil, apiError(errcode.Unauthorized, "unknown token")
}

// adminToken is the bearer token of an admin in the APIs newAPI makes.
const adminToken = "admin-token"

func newAPI(t *testing.T, checks ...Check) (*API, *lister) {
	t.Helper()
	l := &lister{}
	auth := fakeAuth{adminToken: {UserID: "usr_admin", Role: access.Admin}}
	a, err := New(Options{Gatherer: prometheus.NewRegistry(), Checks: checks, DeadLetters: l, Auth: auth,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a, l
}

func do(a http.Handler, remote, target, bearer string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = remote
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	return w
}

// Every /api/v1 request goes through the authenticator, from loopback too; health, readiness,
// metrics and sign-in do not.
func TestAccess(t *testing.T) {
	a, _ := newAPI(t)
	tests := []struct {
		name   string
		remote string
		bearer string
		want   int
	}{
		{"token accepted", "10.1.2.3:5000", adminToken, 200},
		{"wrong token", "10.1.2.3:5000", "guess", 401},
		{"no credentials", "10.1.2.3:5000", "", 401},
		{"no credentials, loopback", "127.0.0.1:5000", "", 401},
	}
	for _, tt := range tests {
		w := do(a, tt.remote, "/api/v1/deadletters", tt.bearer)
		if w.Code != tt.want {
			t.Errorf("%s: status %d %s; want %d", tt.name, w.Code, w.Body, tt.want)
		}
		if w.Code != 200 && !strings.Contains(w.Body.String(), `"code"`) {
			t.Errorf("%s: error body %s is not a JSON error", tt.name, w.Body)
		}
	}
	// An unknown path under /api/v1 is 401 before it is 404: it tells strangers nothing.
	if w := do(a, "10.1.2.3:5000", "/api/v1/nothing", ""); w.Code != 401 {
		t.Errorf("/api/v1/nothing without credentials = %d; want 401", w.Code)
	}
	// Probes and scrapers carry no credentials.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if w := do(a, "10.1.2.3:5000", path, ""); w.Code != 200 {
			t.Errorf("%s = %d; want 200 without credentials", path, w.Code)
		}
	}
	// Signing in needs none either: without a user store it is unavailable, not unauthorised.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/login", strings.NewReader(`{"username":"x","password":"y"}`))
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("POST /api/v1/login without a user store = %d %s; want 503", w.Code, w.Body)
	}
	if _, err := New(Options{Gatherer: prometheus.NewRegistry(), Log: slog.Default()}); err == nil {
		t.Error("New without an authenticator succeeded")
	}
}

func TestReadyz(t *testing.T) {
	ok := Check{Name: "store", Check: func(context.Context) error { return nil }}
	down := Check{Name: "influx", Check: func(context.Context) error { return errors.New("connection refused") }}
	a, _ := newAPI(t, ok, down)
	w := do(a, "127.0.0.1:1", "/readyz", "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "connection refused") {
		t.Fatalf("/readyz with influx down = %d %s; want 503 naming the failure", w.Code, w.Body)
	}
	a, _ = newAPI(t, ok)
	if w := do(a, "127.0.0.1:1", "/readyz", ""); w.Code != http.StatusOK {
		t.Fatalf("/readyz all up = %d; want 200", w.Code)
	}
}

func TestDeadLetterParams(t *testing.T) {
	a, l := newAPI(t)
	w := do(a, "127.0.0.1:1", "/api/v1/deadletters?device=d1&reason=implausible_value&since=2026-11-01T00:00:00Z&before=99&limit=1", adminToken)
	if w.Code != 200 {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	if l.got.Device != "d1" || l.got.Reason != "implausible_value" || l.got.Before != 99 || l.got.Limit != 1 || l.got.Since.IsZero() {
		t.Errorf("filter = %+v; want the query's values", l.got)
	}
	var page struct {
		Items []map[string]any
		Next  string
	}
	json.Unmarshal(w.Body.Bytes(), &page)
	if page.Next != "7" || page.Items[0]["payload_base64"] != "/wA=" || page.Items[0]["truncated"] != true || page.Items[0]["reading"] != nil {
		t.Errorf("page = %s; want next cursor 7, binary payload as base64, truncated, no reading index", w.Body)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "before=-1", "since=yesterday", "reason=nope", "device=a%20b", "colour=red", "device=d1&device=d2"} {
		w := do(a, "127.0.0.1:1", "/api/v1/deadletters?"+q, adminToken)
		key, _, _ := strings.Cut(q, "=")
		if w.Code != 400 || !strings.Contains(w.Body.String(), key) {
			t.Errorf("?%s = %d %s; want 400 naming %s", q, w.Code, w.Body, key)
		}
	}
}
