package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A JSON body is sent as application/json. A body without a Content-Type is refused as one with
// another type is: 415, with the API's JSON error naming what is wrong. Without the check, a
// web page could make a signed-in browser POST JSON as a "simple" cross-site request (no
// Content-Type, or text/plain), which the browser sends without asking the API first. A request
// without a body needs no Content-Type.
func TestJSONBodyContentType(t *testing.T) {
	f := newRegistryFixture(t)
	for i, tt := range []struct {
		contentType, body string
		status            int
		says              string
	}{
		{"", `{"id": "sC", "name": "x"}`, 415, "Content-Type: send the body as application/json; the request has no Content-Type"},
		{"text/plain", `{"id": "sC", "name": "x"}`, 415, `Content-Type: send the body as application/json, not "text/plain"`},
		{"text/plain;charset=UTF-8", `{"id": "sC", "name": "x"}`, 415, `not "text/plain;charset=UTF-8"`},
		{"application/x-www-form-urlencoded", `id=sC&name=x`, 415, "application/x-www-form-urlencoded"},
		{"multipart/form-data; boundary=x", "--x\r\n\r\n--x--", 415, "multipart/form-data"},
		{"application/jsonp", `{"id": "sC", "name": "x"}`, 415, "application/jsonp"},
		{"application/json;;", `{"id": "sC", "name": "x"}`, 415, "Content-Type"},
		{"application/json; charset=iso-8859-1", `{"id": "sC", "name": "x"}`, 415, "UTF-8"},
		{"text/plain", ``, 415, `not "text/plain"`},
		{"", "  \n", 415, "has no Content-Type"},
		{"", ``, 400, "id: required"}, // no body: an empty object
		{"application/json", "  \n", 400, "id: required"},
		{"application/json", `{"id": "sD", "name": "x"}`, 201, ""},
		{"Application/JSON; charset=utf-8", `{"id": "sE", "name": "x"}`, 201, ""},
	} {
		w := f.callRaw("admin", "POST", "/sites", strings.NewReader(tt.body), tt.contentType)
		msg := errorOf(w.Body.Bytes())
		if w.Code != tt.status || (tt.says != "" && !strings.Contains(msg, tt.says)) {
			t.Errorf("%d: POST /sites as %q with %q = %d %s; want %d saying %q", i, tt.contentType, tt.body, w.Code, w.Body, tt.status, tt.says)
		}
		if w.Code == 415 && (!strings.HasPrefix(msg, CodeUnsupportedMediaType+": ") || w.Header().Get("Content-Type") != "application/json") {
			t.Errorf("%d: 415 answer %q (%s); want the JSON error with code %s", i, w.Body, w.Header().Get("Content-Type"), CodeUnsupportedMediaType)
		}
	}
	if _, err := f.store.GetSite(t.Context(), "sC"); err == nil {
		t.Error("a refused body created site sC")
	}
}

// Every route that takes a JSON body refuses one without a Content-Type, or with another, and
// changes nothing; sent as application/json, the same request does what it does.
func TestEveryJSONRouteNeedsContentType(t *testing.T) {
	doc := loadOpenAPI(t)
	for n, m := range accessMatrix {
		if m.method == "GET" || m.method == "DELETE" || strings.HasPrefix(m.body, "csv:") || m.want[0] >= 300 {
			continue
		}
		t.Run(fmt.Sprintf("%02d %s %s", n, m.method, m.path), func(t *testing.T) {
			t.Parallel()
			f := newRegistryFixture(t)
			switch {
			case strings.HasPrefix(m.pattern, "/moves"):
				seedMoves(f)
			case strings.HasPrefix(m.pattern, "/alerts"):
				seedAlerts(f)
			case strings.HasPrefix(m.pattern, "/webhooks"):
				seedWebhooks(f)
			case strings.HasSuffix(m.pattern, "/overrides"), strings.HasPrefix(m.pattern, "/silences"):
				seedSettings(f)
			}
			body := m.body
			if body == "" {
				body = "{}"
			}
			for _, contentType := range []string{"", "text/plain"} {
				w := f.callRaw("admin", m.method, m.path, strings.NewReader(body), contentType)
				if w.Code != http.StatusUnsupportedMediaType || !strings.HasPrefix(errorOf(w.Body.Bytes()), CodeUnsupportedMediaType+": Content-Type") {
					t.Fatalf("%s %s %s as %q = %d %s; want 415 naming Content-Type", m.method, m.path, body, contentType, w.Code, w.Body)
				}
				// An operation documented with a JSON body documents the 415 too; one without
				// (rotate a secret, dispatch a move) refuses any body anyway.
				op, _ := doc.paths[m.pattern][strings.ToLower(m.method)].(map[string]any)
				if _, takesBody := op["requestBody"]; !takesBody {
					continue
				}
				if err := doc.checkAnswer(m.method, m.pattern, w.Code, w.Body.Bytes()); err != nil {
					t.Errorf("%s %s: the 415 answer does not fit the OpenAPI document: %v", m.method, m.path, err)
				}
			}
			if w := f.call("admin", m.method, m.path, m.body); w.Code != m.want[0] {
				t.Errorf("%s %s %s as JSON after the refusals = %d %s; want %d", m.method, m.path, m.body, w.Code, w.Body, m.want[0])
			}
		})
	}
}

// Signing in and the user routes go through the same check.
func TestAccountRoutesNeedContentType(t *testing.T) {
	c := newAccountsAPI(t)
	admin := sessionOf(t, c.login("admin", adminPassword, "")).Value
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/v1/users", `{"username": "x.y", "role": "admin", "password": "a long password 1"}`},
		{"PATCH", "/api/v1/users/usr_wang", `{"role": "admin"}`},
		{"POST", "/api/v1/users/usr_wang/tokens", `{"name": "mine"}`},
		// Last: signing in anew ends the session of the cookie sent with it.
		{"POST", "/api/v1/login", `{"username": "admin", "password": "` + adminPassword + `"}`},
	} {
		for _, contentType := range []string{"", "text/plain"} {
			req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: admin})
			req.RemoteAddr = "192.0.2.1:40000"
			w := httptest.NewRecorder()
			c.api.ServeHTTP(w, req)
			if w.Code != http.StatusUnsupportedMediaType || !strings.HasPrefix(errorOf(w.Body.Bytes()), CodeUnsupportedMediaType+": Content-Type") {
				t.Errorf("%s %s as %q = %d %s; want 415 naming Content-Type", r.method, r.path, contentType, w.Code, w.Body)
			}
		}
	}
	if u, _ := c.st.GetUser(t.Context(), "usr_wang"); u.Role != "doctor" {
		t.Errorf("a refused PATCH made usr_wang %s", u.Role)
	}
}

// A field given twice is refused: which of the two a proxy, a log or the API reads is not for the
// body to leave open (encoding/json would take the last).
func TestJSONBodyDuplicateField(t *testing.T) {
	f := newRegistryFixture(t)
	serveWebhooks(f)
	for _, body := range []string{
		`{"team": "tA", "url": "http://127.0.0.1:8080/in", "url": "https://sms.example/in"}`,
		`{"team": "tA", "team": "tB", "url": "https://sms.example/in"}`,
		`{"team": "tA", "url": "https://sms.example/in", "\u0075rl": "https://other.example/in"}`,
	} {
		w := f.call("admin", "POST", "/webhooks", body)
		if msg := errorOf(w.Body.Bytes()); w.Code != 400 || !strings.Contains(msg, "given twice") {
			t.Errorf("POST /webhooks %s = %d %s; want 400 naming the field given twice", body, w.Code, msg)
		}
	}
	f.want(201, "admin", "POST", "/webhooks", `{"team": "tA", "url": "https://sms.example/in", "min_severity": "urgent"}`, nil)
}
