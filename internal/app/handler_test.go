package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHTTPHandlerRefusesCrossOriginChanges: a browser's state-changing request from another
// origin is refused before it reaches the API, session cookie or not; the same request from the
// app's own pages, or from an integration (no Origin, no Sec-Fetch-Site), gets through; reads
// are not refused; the web app's paths go to the web app.
func TestHTTPHandlerRefusesCrossOriginChanges(t *testing.T) {
	var reached []string
	record := func(who string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = append(reached, who+" "+r.Method+" "+r.URL.Path)
			w.WriteHeader(http.StatusNoContent)
		})
	}
	h := httpHandler(record("api"), record("web"))
	for _, c := range []struct {
		name, method, path string
		headers            map[string]string
		status             int
		reached            string
	}{
		{"cross-site form post with the cookie", "POST", "/api/v1/logout",
			map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example", "Cookie": "vw_session=s"}, 403, ""},
		{"same-site other origin (another port)", "POST", "/api/v1/alerts/1/acknowledge",
			map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://vitalwatch.test:9999", "Cookie": "vw_session=s"}, 403, ""},
		{"old browser: Origin only, not ours", "DELETE", "/api/v1/silences/1",
			map[string]string{"Origin": "https://evil.example"}, 403, ""},
		{"the app's own page", "POST", "/api/v1/logout",
			map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://vitalwatch.test", "Cookie": "vw_session=s"}, 204, "api POST /api/v1/logout"},
		{"old browser: Origin ours", "POST", "/api/v1/logout",
			map[string]string{"Origin": "http://vitalwatch.test"}, 204, "api POST /api/v1/logout"},
		{"an integration (curl, a token)", "POST", "/api/v1/alerts/1/acknowledge",
			map[string]string{"Authorization": "Bearer vwt_x"}, 204, "api POST /api/v1/alerts/1/acknowledge"},
		{"a cross-site read", "GET", "/api/v1/me",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, 204, "api GET /api/v1/me"},
		{"the web app's shell", "GET", "/app/inbox", nil, 204, "web GET /app/inbox"},
		{"the web app's files", "GET", "/static/app/main.js", nil, 204, "web GET /static/app/main.js"},
		{"the root", "GET", "/", nil, 204, "web GET /"},
		{"metrics stay with the API", "GET", "/metrics", nil, 204, "api GET /metrics"},
		{"a path that only starts like the app's", "GET", "/application", nil, 204, "api GET /application"},
	} {
		reached = nil
		req := httptest.NewRequest(c.method, "http://vitalwatch.test"+c.path, nil)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != c.status || strings.Join(reached, ",") != c.reached {
			t.Errorf("%s: %s %s = %d reaching %q; want %d reaching %q", c.name, c.method, c.path, w.Code, reached, c.status, c.reached)
		}
		if c.status == 403 && !strings.Contains(w.Body.String(), `"code":"forbidden"`) {
			t.Errorf("%s: refusal %s; want the API's JSON error", c.name, w.Body.String())
		}
	}
}
