package web

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func newHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New(Options{EscalateAfter: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "http://vitalwatch.test"+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

var bootRE = regexp.MustCompile(`(?s)<script type="application/json" id="vw-boot">(.*?)</script>`)

// bootOf reads the shell's bootstrap JSON.
func bootOf(t *testing.T, body string) boot {
	t.Helper()
	m := bootRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no boot JSON in the shell:\n%s", body)
	}
	var b boot
	if err := json.Unmarshal([]byte(m[1]), &b); err != nil {
		t.Fatalf("boot JSON %s: %v", m[1], err)
	}
	return b
}

// Every answer carries the policy that allows nothing from elsewhere and no inline script; the
// shell loads only its own files, and hands the app its data as JSON, not as script.
func TestSecurityHeadersAndShell(t *testing.T) {
	h := newHandler(t)
	for _, p := range []string{"/app/inbox", "/app/alerts/7", "/static/app/main.js", "/static/nothing.js", "/"} {
		w := get(h, p)
		if got := w.Header().Get("Content-Security-Policy"); got != CSP {
			t.Errorf("%s: CSP %q; want %q", p, got, CSP)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: headers %v; want nosniff and Referrer-Policy same-origin", p, w.Header())
		}
	}
	if !strings.Contains(CSP, "script-src 'self';") || strings.Contains(CSP, "unsafe") || !strings.Contains(CSP, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", CSP)
	}
	w := get(h, "/app/inbox")
	body := w.Body.String()
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("shell = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	// No inline script: every <script> either loads a file of ours or is JSON data.
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(tag, `type="application/json"`) && !strings.Contains(tag, `src="/static/`) {
			t.Errorf("shell has a script that is neither data nor our file: %s", tag)
		}
	}
	// The markup, without the JSON data (whose words may name a scheme, such as a form's hint
	// that a webhook's address starts with https://), has no inline style and no outside address.
	markup := regexp.MustCompile(`(?s)(<script type="application/json"[^>]*>).*?</script>`).ReplaceAllString(body, "$1</script>")
	if strings.Contains(markup, "style=") || strings.Contains(markup, "<style") || strings.Contains(markup, "http://") || strings.Contains(markup, "https://") {
		t.Errorf("shell has inline style or an outside address:\n%s", markup)
	}
	b := bootOf(t, body)
	// The libraries are there when make web copied them; a plain go build says so in the shell.
	_, err := fs.Stat(files, libraries["lit-html"])
	vendored := err == nil
	if vendored == strings.Contains(body, `id="vw-no-libraries"`) || vendored != strings.Contains(body, `id="vw-loading"`) {
		t.Errorf("libraries copied: %v; the shell says otherwise:\n%s", vendored, body)
	}
	if b.Lang != "en" || b.Messages["nav.inbox"] != "Inbox" || b.EscalateAfter != 900 || len(b.Languages) != 2 || b.Libraries["lit-html"] != vendored {
		t.Errorf("boot = lang %q, nav.inbox %q, escalate_after %d, languages %v, libraries %v", b.Lang, b.Messages["nav.inbox"],
			b.EscalateAfter, b.Languages, b.Libraries)
	}
	if !strings.Contains(body, `<a class="skip-link" href="#main">Skip to content</a>`) {
		t.Errorf("shell lacks the skip link")
	}
}

// The language follows the cookie the switch sets, else Accept-Language (zh* is zh-CN), else
// English; <html lang> and the messages follow it.
func TestLanguage(t *testing.T) {
	h := newHandler(t)
	for _, c := range []struct {
		headers []string
		want    string
	}{
		{nil, "en"},
		{[]string{"Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8"}, "zh-CN"},
		{[]string{"Accept-Language", "zh-TW"}, "zh-CN"},
		{[]string{"Accept-Language", "zh"}, "zh-CN"},
		{[]string{"Accept-Language", "fr-FR,en;q=0.5,zh;q=0.4"}, "en"},
		{[]string{"Accept-Language", "fr-FR,zh;q=0.7,en;q=0.5"}, "zh-CN"},
		{[]string{"Accept-Language", "en;q=0.2,zh-CN;q=0.8"}, "zh-CN"},
		{[]string{"Accept-Language", "de"}, "en"},
		{[]string{"Accept-Language", "zh-CN", "Cookie", "vw_lang=en"}, "en"},
		{[]string{"Cookie", "vw_lang=zh-CN"}, "zh-CN"},
		{[]string{"Accept-Language", "zh-CN", "Cookie", "vw_lang=klingon"}, "zh-CN"},
	} {
		w := get(h, "/app/signin", c.headers...)
		body := w.Body.String()
		b := bootOf(t, body)
		if b.Lang != c.want || !strings.Contains(body, `<html lang="`+c.want+`">`) {
			t.Errorf("%v: lang %q; want %q", c.headers, b.Lang, c.want)
		}
		if want := map[string]string{"en": "Sign in", "zh-CN": "登录"}[c.want]; b.Messages["signin.title"] != want {
			t.Errorf("%v: signin.title %q; want %q", c.headers, b.Messages["signin.title"], want)
		}
	}
}

// Static files are ours, typed, revalidated by ETag; the vendor README and paths outside
// static/ are not served; the root goes to the app; nothing but GET and HEAD.
func TestStaticFiles(t *testing.T) {
	h := newHandler(t)
	w := get(h, "/static/app/main.js")
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || w.Header().Get("ETag") == "" ||
		!strings.Contains(w.Body.String(), "router.start()") {
		t.Fatalf("main.js = %d %v", w.Code, w.Header())
	}
	if again := get(h, "/static/app/main.js", "If-None-Match", w.Header().Get("ETag")); again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Errorf("main.js with its ETag = %d, %d bytes; want 304 and none", again.Code, again.Body.Len())
	}
	if css := get(h, "/static/app/app.css"); css.Header().Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("app.css is %q", css.Header().Get("Content-Type"))
	}
	for _, p := range []string{"/static/vendor/README", "/static/../web.go", "/static/app/nothing.js", "/static/", "/elsewhere"} {
		if w := get(h, p); w.Code != http.StatusNotFound {
			t.Errorf("%s = %d; want 404", p, w.Code)
		}
	}
	if w := get(h, "/"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/app/" {
		t.Errorf("/ = %d to %q; want 303 to /app/", w.Code, w.Header().Get("Location"))
	}
	req := httptest.NewRequest("POST", "/app/inbox", strings.NewReader("x"))
	pw := httptest.NewRecorder()
	h.ServeHTTP(pw, req)
	if pw.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /app/inbox = %d; want 405", pw.Code)
	}
	hr := httptest.NewRecorder()
	h.ServeHTTP(hr, httptest.NewRequest("HEAD", "/app/inbox", nil))
	if body, _ := io.ReadAll(hr.Body); hr.Code != 200 || len(body) != 0 {
		t.Errorf("HEAD /app/inbox = %d with %d bytes", hr.Code, len(body))
	}
}

func TestOwns(t *testing.T) {
	for p, want := range map[string]bool{"/": true, "/app": true, "/app/": true, "/app/inbox": true, "/static/x.js": true,
		"/api/v1/me": false, "/metrics": false, "/healthz": false, "/readyz": false, "/apple": false, "/staticx": false} {
		if Owns(p) != want {
			t.Errorf("Owns(%q) = %v; want %v", p, !want, want)
		}
	}
}
