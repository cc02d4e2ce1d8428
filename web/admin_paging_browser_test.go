package web_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// extraUsers is how many fleet managers TestAdminPagingAndForms adds to the seed: with the four
// seeded users, a second page of users (50 a page) and of the audit log.
const extraUsers = 52

// The admin's lists page with the API's cursor (next, previous, first again, and a filter
// starts the list again), the audit log too; an item that is not there says so with the way
// back; the forms of an item's page show the API's error with what was typed kept, then save: a
// user's password, a webhook's URL, a patient's transfer; a webhook's and a device's new secret
// are shown once and focused, and a webhook deleted goes back to the list. No page throws.
func TestAdminPagingAndForms(t *testing.T) {
	f := startFixtureWith(t, func(dataDir string) []string {
		ctx := audit.WithActor(context.Background(), "test")
		st, err := store.Open(ctx, filepath.Join(dataDir, config.DBFile))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for i := range extraUsers {
			if _, err := st.CreateUser(ctx, access.User{Username: fmt.Sprintf("fm-%02d", i), Role: access.FleetManager,
				Sites: []string{siteB}}); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, adminUser)
	f.do(ctx, "catch the page's errors", 5*time.Second, chromedp.Evaluate[chromedp.Void](`window.__errors = [];
		addEventListener('error', (e) => __errors.push(e.message));
		addEventListener('unhandledrejection', (e) => __errors.push(String(e.reason)))`))
	rows := func(table string) int {
		return eval[int](t, ctx, `document.querySelectorAll('`+table+` tbody tr').length`)
	}
	pageN := `(document.querySelector('.pager .muted') || {}).textContent`
	settled := `document.querySelector('[aria-busy=false] .admin-table, [aria-busy=false] .audit-table')`

	// Users: 56, 50 a page.
	f.openAdmin(ctx, "/app/admin/users", ".admin-table")
	if n, p := rows(".admin-table"), eval[string](t, ctx, pageN); n != 50 || p != "Page 1" {
		t.Errorf("users: %d rows on %q; want 50 on Page 1", n, p)
	}
	f.do(ctx, "next page of users", 10*time.Second,
		steadyClick(".pager .btn:last-child"),
		chromedp.Poll[chromedp.Void](pageN+` === 'Page 2' && `+settled))
	if n := rows(".admin-table"); n != 4+extraUsers-50 {
		t.Errorf("users, page 2: %d rows; want %d", n, 4+extraUsers-50)
	}
	if next := eval[bool](t, ctx, `document.querySelector('.pager .btn:last-child').disabled`); !next {
		t.Error("users, page 2: next is enabled; want disabled on the last page")
	}
	f.do(ctx, "previous page of users", 10*time.Second,
		steadyClick(".pager .btn:nth-child(2)"),
		chromedp.Poll[chromedp.Void](pageN+` === 'Page 1' && `+settled))
	if n := rows(".admin-table"); n != 50 {
		t.Errorf("users, back on page 1: %d rows; want 50", n)
	}
	f.do(ctx, "next, then first", 10*time.Second,
		steadyClick(".pager .btn:last-child"),
		chromedp.Poll[chromedp.Void](pageN+` === 'Page 2' && `+settled),
		steadyClick(".pager .btn:first-child"),
		chromedp.Poll[chromedp.Void](pageN+` === 'Page 1' && `+settled))
	f.do(ctx, "only admins", 10*time.Second,
		setField("#users-role", "admin"),
		chromedp.Poll[chromedp.Void](`location.search === '?role=admin' && `+settled+` && !document.querySelector('.pager')`))
	if got := eval[string](t, ctx, `[...document.querySelectorAll('.admin-table tbody th')].map(th => th.innerText).join(',')`); got != adminUser {
		t.Errorf("users filtered by admin: %q; want %s", got, adminUser)
	}

	// The audit log: the seed's changes, newest first, 50 a page; the results take the focus.
	f.openAdmin(ctx, "/app/admin/audit", ".audit-table")
	first := eval[string](t, ctx, `document.querySelector('.audit-table tbody tr').dataset.id`)
	f.do(ctx, "next page of the audit log", 10*time.Second,
		steadyClick(".pager .btn:last-child"),
		chromedp.Poll[chromedp.Void](pageN+` === 'Page 2' && `+settled))
	if n, focused := rows(".audit-table"), eval[string](t, ctx, `document.activeElement.id`); n == 0 || focused != "audit-results" {
		t.Errorf("audit, page 2: %d rows, focus on %q; want some, on audit-results", n, focused)
	}
	f.do(ctx, "back to the first page", 10*time.Second,
		steadyClick(".pager .btn:first-child"),
		chromedp.Poll[chromedp.Void](pageN+` === 'Page 1' && `+settled))
	if got := eval[string](t, ctx, `document.querySelector('.audit-table tbody tr').dataset.id`); got != first {
		t.Errorf("audit, first page again: first row %s; want %s", got, first)
	}

	// Devices searched by the start of an id.
	f.openAdmin(ctx, "/app/admin/devices", ".admin-table")
	f.do(ctx, "search cuff", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#admin-q"), "cuff"),
		steadyClick(".admin-filters button[type=submit]"),
		chromedp.Poll[chromedp.Void](`location.search.includes('q=cuff') && `+settled))
	if got := eval[string](t, ctx, `[...document.querySelectorAll('.admin-table tbody tr')].map(r => r.dataset.id).join(',')`); got != "cuff-8,cuff-9" {
		t.Errorf("devices searched by cuff: %q; want cuff-8,cuff-9", got)
	}

	// A user that is not there.
	f.openAdmin(ctx, "/app/admin/users/no-such-user", ".notice-error")
	if href := eval[string](t, ctx, `document.querySelector('.notice-error + p a').getAttribute('href')`); href != "/app/admin/users" {
		t.Errorf("a missing user's page links back to %q; want /app/admin/users", href)
	}

	// A password too short, then one long enough.
	f.openAdmin(ctx, "/app/admin/users/"+f.users[fleetA], "#password-password")
	f.do(ctx, "a short password", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#password-password"), "short"),
		steadyClick("#password button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#password-password-error")))
	if focused := eval[string](t, ctx, `document.activeElement.id + '|' + document.querySelector('#password-password').value`); focused != "password-password|short" {
		t.Errorf("after a short password, focus and value %q; want password-password|short", focused)
	}
	f.do(ctx, "a long password", 10*time.Second,
		typeInto("#password-password", "another long passphrase"),
		steadyClick("#password button[type=submit]"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#password .notice-ok') && !document.querySelector('#password-password-error')`))
	if v := eval[string](t, ctx, `document.querySelector('#password-password').value`); v != "" {
		t.Errorf("the password field after it was set holds %q; want it emptied", v)
	}
	f.do(ctx, "save the user as they are", 10*time.Second,
		steadyClick("#edit-user button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#edit-user .notice-ok")))

	// A webhook's URL refused, then changed.
	var hook struct{ ID int64 }
	if code := f.apiAs(adminUser, "POST", "/webhooks", `{"team":"team-1","url":"https://hooks.example.org/a"}`, &hook); code != 201 {
		t.Fatalf("POST /webhooks = %d", code)
	}
	f.openAdmin(ctx, fmt.Sprintf("/app/admin/webhooks/%d", hook.ID), "#edit-webhook-url")
	f.waitJS(ctx, "the delivery log", `document.querySelector('[aria-labelledby=log-title] .empty')`, 10*time.Second)
	f.do(ctx, "a URL that is not https", 10*time.Second,
		typeInto("#edit-webhook-url", "ftp://x.example/"),
		steadyClick("#edit-webhook button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#edit-webhook [role=alert]")))
	if got := eval[string](t, ctx, `document.querySelector('#edit-webhook-url').value + '|' + !!document.querySelector('#edit-webhook .notice-ok')`); got != "ftp://x.example/|false" {
		t.Errorf("after a refused URL: %q; want it kept, not saved", got)
	}
	f.do(ctx, "a good URL", 10*time.Second,
		typeInto("#edit-webhook-url", "https://hooks.example.org/b"),
		steadyClick("#edit-webhook button[type=submit]"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#edit-webhook .notice-ok') && !document.querySelector('#edit-webhook [role=alert]')`))
	var got struct{ URL string }
	if f.apiAs(adminUser, "GET", fmt.Sprintf("/webhooks/%d", hook.ID), "", &got); got.URL != "https://hooks.example.org/b" {
		t.Errorf("the webhook's URL after saving: %q", got.URL)
	}
	f.do(ctx, "a new signing secret", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		steadyClick("[aria-labelledby=hook-actions] .btn:not(.btn-danger)"),
		chromedp.WaitVisible(chromedp.CSS(".secret-panel #secret-value")))
	if focused := eval[string](t, ctx, `document.activeElement.className`); !strings.Contains(focused, "secret-panel") {
		t.Errorf("after a new signing secret the focus is on %q; want the panel", focused)
	}
	f.do(ctx, "delete the webhook", 10*time.Second,
		steadyClick("[aria-labelledby=hook-actions] .btn-danger"),
		chromedp.Poll[chromedp.Void](`location.pathname === '/app/admin/webhooks' && document.querySelector('[aria-busy=false] .empty')`))
	if code := f.apiAs(adminUser, "GET", fmt.Sprintf("/webhooks/%d", hook.ID), "", nil); code != 404 {
		t.Errorf("GET the deleted webhook = %d; want 404", code)
	}

	// A patient's transfer: without a team, then to team-2.
	f.openAdmin(ctx, "/app/admin/patients/"+patientA, "#transfer-team")
	f.do(ctx, "a transfer without a team", 10*time.Second,
		steadyClick("#transfer button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#transfer [role=alert]")))
	f.do(ctx, "a transfer to team-2", 10*time.Second,
		setField("#transfer-team", teamB),
		steadyClick("#transfer button[type=submit]"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#transfer .notice-ok') && !document.querySelector('#transfer [role=alert]')`))
	if got := eval[string](t, ctx, `document.querySelector('#transfer .notice-ok').innerText + '|' + document.querySelector('#edit-patients-team').value`); got != "Transferred from team-1 to team-2.|team-2" {
		t.Errorf("after the transfer: %q; want the notice and team-2 in the patient's form", got)
	}

	// A device's new secret, shown once, focused.
	f.openAdmin(ctx, "/app/admin/devices/"+faultyA, "[aria-labelledby=rotate-title] .btn")
	f.do(ctx, "a new secret", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		steadyClick("[aria-labelledby=rotate-title] .btn"),
		chromedp.WaitVisible(chromedp.CSS(".secret-panel #secret-value")))
	if focused := eval[string](t, ctx, `document.activeElement.className`); !strings.Contains(focused, "secret-panel") {
		t.Errorf("after a new secret the focus is on %q; want the panel", focused)
	}

	if errs := eval[[]string](t, ctx, `window.__errors`); len(errs) > 0 {
		t.Errorf("the pages threw: %q", errs)
	}
}
