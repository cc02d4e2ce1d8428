package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/deadletter"
)

type lister struct{ got deadletter.Filter }

func (l *lister) ListDeadLetters(_ context.Context, f deadletter.Filter) ([]deadletter.DeadLetter, error) {
	l.got = f
	return []deadletter.DeadLetter{{ID: 7, Device: "d1", Reason: "malformed_json", Index: -1, Payload: []byte{0xff, 0x00}, PayloadSize: 5000}}, nil
}

func newAPI(t *testing.T, tokens []string, checks ...Check) (*API, *lister) {
	t.Helper()
	l := &lister{}
	auth, err := StaticTokens(tokens)
	if err != nil {
		t.Fatal(err)
	}
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

func TestAccess(t *testing.T) {
	sum := sha256.Sum256([]byte("s3cret"))
	withToken, _ := newAPI(t, []string{hex.EncodeToString(sum[:])})
	loopbackOnly, _ := newAPI(t, nil)
	tests := []struct {
		name   string
		api    *API
		remote string
		bearer string
		want   int
	}{
		{"token accepted", withToken, "10.1.2.3:5000", "s3cret", 200},
		{"wrong token", withToken, "10.1.2.3:5000", "guess", 401},
		{"no token", withToken, "127.0.0.1:5000", "", 401},
		{"no tokens configured, loopback", loopbackOnly, "127.0.0.1:5000", "", 200},
		{"no tokens configured, IPv6 loopback", loopbackOnly, "[::1]:5000", "", 200},
		{"no tokens configured, remote", loopbackOnly, "10.1.2.3:5000", "", 403},
	}
	for _, tt := range tests {
		w := do(tt.api, tt.remote, "/api/v1/deadletters", tt.bearer)
		if w.Code != tt.want {
			t.Errorf("%s: status %d %s; want %d", tt.name, w.Code, w.Body, tt.want)
		}
		if w.Code != 200 && !strings.Contains(w.Body.String(), `"code"`) {
			t.Errorf("%s: error body %s is not a JSON error", tt.name, w.Body)
		}
	}
	// Health and metrics stay open: probes and scrapers carry no tokens.
	if w := do(withToken, "10.1.2.3:5000", "/healthz", ""); w.Code != 200 {
		t.Errorf("/healthz = %d; want 200 without a token", w.Code)
	}
	if _, err := StaticTokens([]string{"abc"}); err == nil {
		t.Error("StaticTokens accepted a hash that is not SHA-256 hex")
	}
}

func TestReadyz(t *testing.T) {
	ok := Check{Name: "store", Check: func(context.Context) error { return nil }}
	down := Check{Name: "influx", Check: func(context.Context) error { return errors.New("connection refused") }}
	a, _ := newAPI(t, nil, ok, down)
	w := do(a, "127.0.0.1:1", "/readyz", "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "connection refused") {
		t.Fatalf("/readyz with influx down = %d %s; want 503 naming the failure", w.Code, w.Body)
	}
	a, _ = newAPI(t, nil, ok)
	if w := do(a, "127.0.0.1:1", "/readyz", ""); w.Code != http.StatusOK {
		t.Fatalf("/readyz all up = %d; want 200", w.Code)
	}
}

func TestDeadLetterParams(t *testing.T) {
	a, l := newAPI(t, nil)
	w := do(a, "127.0.0.1:1", "/api/v1/deadletters?device=d1&reason=implausible_value&since=2026-11-01T00:00:00Z&before=99&limit=1", "")
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
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "before=-1", "since=yesterday", "reason=nope", "device=a%20b", "colour=red"} {
		w := do(a, "127.0.0.1:1", "/api/v1/deadletters?"+q, "")
		key, _, _ := strings.Cut(q, "=")
		if w.Code != 400 || !strings.Contains(w.Body.String(), key) {
			t.Errorf("?%s = %d %s; want 400 naming %s", q, w.Code, w.Body, key)
		}
	}
}
