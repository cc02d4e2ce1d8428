package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// A doctor signs in and sees the open alerts of their own team only; a fleet manager the faults
// of their own sites only; each with the navigation of their role.
func TestSignInSeesOnlyOwnAlerts(t *testing.T) {
	f := startFixture(t)
	for _, c := range []struct {
		user      string
		want      []string // alert names
		nav, role string
	}{
		{doctorA, []string{"glucose"}, "Inbox,Patients", "Family doctor"},
		{doctorB, []string{"heart"}, "Inbox,Patients", "Family doctor"},
		{fleetA, []string{"battery"}, "Inbox,Devices,Map,Utilisation,Repairs,Plan & moves", "Fleet manager"},
		{adminUser, []string{"glucose", "heart", "battery", "offline"}, "Inbox,Patients,Devices,Map,Utilisation,Repairs,Plan & moves,Admin", "Administrator"},
	} {
		ctx := f.browser(testsrv.BrowserOptions{})
		f.signIn(ctx, c.user)
		rows := eval[[]string](t, ctx, rowRules)
		var got []string
		for _, r := range rows {
			for name, id := range f.alerts {
				if strings.HasPrefix(r, fmt.Sprintf("/app/alerts/%d ", id)) {
					got = append(got, name)
				}
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, want) || len(rows) != len(want) {
			t.Errorf("%s sees %v (rows %q); want %v", c.user, got, rows, want)
		}
		nav := eval[string](t, ctx, `[...document.querySelectorAll('.main-nav a')].map(a => a.textContent.trim()).join(',')`)
		role := eval[string](t, ctx, `document.querySelector('.who-role').textContent`)
		if nav != c.nav || role != c.role {
			t.Errorf("%s: nav %q, role %q; want %q, %q", c.user, nav, role, c.nav, c.role)
		}
	}
}

// The sign-in page shows a wrong password next to the form, keeps the username typed, and the
// app signs out.
func TestSignInErrorsAndSignOut(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.do(ctx, "wrong password", 20*time.Second,
		chromedp.Navigate(f.base+"/app/inbox"),
		chromedp.WaitVisible(chromedp.CSS("#signin-username")),
		chromedp.SendKeys(chromedp.CSS("#signin-username"), doctorA),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), "not the password at all"),
		steadyClick(".signin button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".signin .form-error")),
	)
	msg := eval[string](t, ctx, `document.querySelector('.signin .form-error').textContent.trim() + '|' + document.querySelector('#signin-username').value + '|' + location.pathname + location.search`)
	if msg != "⚠ Wrong username or password.|dr-a|/app/signin?next=%2Fapp%2Finbox" {
		t.Errorf("after a wrong password: %q", msg)
	}
	f.signIn(ctx, doctorA)
	f.do(ctx, "sign out", 10*time.Second,
		steadyClick(".header-tools button"),
		chromedp.WaitVisible(chromedp.CSS("#signin-username")),
	)
	if code := eval[int](t, ctx, `fetch('/api/v1/me').then(r => r.status)`); code != http.StatusUnauthorized {
		t.Errorf("after signing out, /me = %d; want 401", code)
	}
}

// A state-changing request from another origin is refused even with the session cookie, here
// a form on another port of the same host (the same site, so SameSite=Strict still sends the
// cookie): the session survives. The app's own request does the same thing; and an
// integration's, without Origin or Sec-Fetch-Site, gets through.
func TestCrossOriginPostRefused(t *testing.T) {
	f := startFixture(t)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form method="POST" action="%s/api/v1/logout"></form><script>document.forms[0].submit()</script>`, f.base)
	}))
	defer evil.Close()
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, doctorA)
	f.do(ctx, "the other origin's form", 20*time.Second,
		chromedp.Navigate(evil.URL),
		chromedp.Poll[chromedp.Void](`location.href.startsWith('`+f.base+`') && document.body && document.body.innerText.includes('cross-origin')`),
	)
	f.do(ctx, "back to the app", 20*time.Second,
		chromedp.Navigate(f.base+"/app/inbox"),
		chromedp.WaitVisible(chromedp.CSS(".inbox [role=tabpanel][aria-busy=false]")),
	)
	if me := eval[int](t, ctx, `fetch('/api/v1/me').then(r => r.status)`); me != 200 {
		t.Fatalf("after the cross-origin post, /me = %d; want 200: the session must live", me)
	}
	if got := eval[string](t, ctx, `fetch('/api/v1/logout', {method: 'POST'}).then(r => r.status + ' ' + r.headers.get('content-type'))
		.then(s => fetch('/api/v1/me').then(r => s + ' ' + r.status))`); got != "204 null 401" {
		t.Errorf("the app's own sign-out and /me = %q; want 204, then 401", got)
	}
	// An integration: no Origin, no Sec-Fetch-Site.
	if code := f.apiAs(doctorA, "POST", "/logout", "", nil); code != http.StatusNoContent {
		t.Errorf("an integration's POST /logout = %d; want 204", code)
	}
}
