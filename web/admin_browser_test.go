package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// The admin's pages in a real browser against the whole of serve: who may open them, the
// registry's forms, the CSV import, API tokens and the audit log.

// A doctor and a fleet manager who open the admin's pages get the forbidden page, and the API
// refuses them what those pages would call, whatever the page shows.
func TestAdminPagesForbiddenToOthers(t *testing.T) {
	f := startFixture(t)
	for _, user := range []string{doctorA, fleetA} {
		ctx := f.browser(testsrv.BrowserOptions{})
		f.signIn(ctx, user)
		for _, path := range []string{"/app/admin", "/app/admin/users", "/app/admin/sites/" + siteA} {
			f.do(ctx, user+" opens "+path, 10*time.Second, chromedp.Navigate(f.base+path),
				chromedp.WaitVisible(chromedp.CSS("main h1")))
			got := eval[string](t, ctx, `document.querySelector('main').innerText`)
			if !strings.Contains(got, "Not for your role") || !strings.Contains(got, "Your role cannot open this page.") || strings.Contains(got, "Administration") {
				t.Errorf("%s at %s sees %q; want the forbidden page", user, path, got)
			}
			if nav := eval[string](t, ctx, `[...document.querySelectorAll('.main-nav a')].map(a => a.textContent.trim()).join(',')`); strings.Contains(nav, "Admin") {
				t.Errorf("%s's navigation %q has Admin", user, nav)
			}
		}
		// The API decides: the calls of the admin's pages, made from this browser's session.
		codes := eval[string](t, ctx, `Promise.all([
			fetch('/api/v1/audit').then(r => r.status),
			fetch('/api/v1/users').then(r => r.status),
			fetch('/api/v1/users/`+f.users[adminUser]+`/tokens', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"name":"x"}'}).then(r => r.status),
			fetch('/api/v1/sites', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"id":"evil","name":"Evil"}'}).then(r => r.status),
			fetch('/api/v1/teams/import', {method: 'POST', headers: {'Content-Type': 'text/csv'}, body: 'id,site,name\nevil,site-1,Evil\n'}).then(r => r.status),
		]).then(c => c.join(','))`)
		if codes != "403,403,403,403,403" {
			t.Errorf("%s's calls of /audit, /users, a token, a site, a teams import = %s; want 403 each", user, codes)
		}
	}
	if code := f.apiAs(adminUser, "GET", "/sites/evil", "", nil); code != http.StatusNotFound {
		t.Errorf("GET /sites/evil = %d; want 404: nothing was created", code)
	}
}

// openAdmin opens an admin page from the page shown, as following a link does (the app's
// router, no reload), and waits until what is loaded is drawn.
func (f *fixture) openAdmin(ctx context.Context, path, ready string) {
	f.t.Helper()
	f.do(ctx, "open "+path, 20*time.Second,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const old = document.querySelector('.page-root');
			if (old) old.dataset.left = '1';
			const a = document.createElement('a'); a.href = %q; document.body.append(a); a.click(); a.remove() })()`, path)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`location.pathname + location.search === %q && !document.querySelector('.page-root[data-left]')`, path)),
		chromedp.WaitVisible(chromedp.CSS(ready)))
}

// setField sets the value of the input or select sel as a person would, with its input and
// change events.
func setField(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})) })()`, sel, value))
}

// typeInto types text into the input sel after clearing it.
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(setField(sel, ""), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// An admin makes a site and a team through the forms, and the API then lists them; a site id
// with a space and a time zone that is no zone are shown next to their fields with everything
// typed kept; the audit log lists the site's creation.
func TestAdminCreatesSiteAndTeam(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, adminUser)
	f.openAdmin(ctx, "/app/admin/sites", ".admin-table")

	// A bad id: the error is under the id, and what was typed stays.
	f.do(ctx, "new site with a bad id", 15*time.Second,
		steadyClick(".admin-head .btn-primary"),
		chromedp.WaitVisible(chromedp.CSS("#create-sites-id")),
		chromedp.SendKeys(chromedp.CSS("#create-sites-id"), "centre 9!"),
		chromedp.SendKeys(chromedp.CSS("#create-sites-name"), "Xinhua centre"),
		chromedp.SendKeys(chromedp.CSS("#create-sites-district"), "Hongkou"),
		chromedp.SendKeys(chromedp.CSS("#create-sites-lat"), "31.27"),
		chromedp.SendKeys(chromedp.CSS("#create-sites-lon"), "121.48"),
		typeInto("#create-sites-time_zone", "Asia/Shanghia"),
		steadyClick("#create-sites button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#create-sites-id-error")),
	)
	formState := `(() => { const f = document.querySelector('#create-sites'); return JSON.stringify({
		values: ['id', 'name', 'district', 'lat', 'lon', 'time_zone'].map(n => f.elements.namedItem(n).value),
		errors: [...f.querySelectorAll('.field-error')].map(e => e.id + ': ' + e.textContent.trim()),
		invalid: [...f.querySelectorAll('[aria-invalid=true]')].map(e => e.name),
		focused: document.activeElement && document.activeElement.name || '' }) })()`
	type state struct {
		Values  []string
		Errors  []string
		Invalid []string
		Focused string
	}
	read := func() state {
		var s state
		if err := json.Unmarshal([]byte(eval[string](t, ctx, formState)), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	typed := []string{"centre 9!", "Xinhua centre", "Hongkou", "31.27", "121.48", "Asia/Shanghia"}
	s := read()
	if !slices.Equal(s.Values, typed) || len(s.Errors) != 1 || !strings.HasPrefix(s.Errors[0], `create-sites-id-error: ⚠ site id "centre 9!" is not`) ||
		!slices.Equal(s.Invalid, []string{"id"}) || s.Focused != "id" {
		t.Errorf("after a bad id: %+v; want the values kept, one error under id, id invalid and focused", s)
	}
	// The id put right, the time zone still wrong: the error moves to the time zone.
	f.do(ctx, "a bad time zone", 15*time.Second,
		typeInto("#create-sites-id", "centre-9"),
		steadyClick("#create-sites button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#create-sites-time_zone-error")),
	)
	typed[0] = "centre-9"
	s = read()
	if !slices.Equal(s.Values, typed) || len(s.Errors) != 1 ||
		s.Errors[0] != `create-sites-time_zone-error: ⚠ site time zone "Asia/Shanghia" is not an IANA zone name` ||
		!slices.Equal(s.Invalid, []string{"time_zone"}) || s.Focused != "time_zone" {
		t.Errorf("after a bad time zone: %+v; want the values kept, one error under time_zone", s)
	}
	f.do(ctx, "the site made", 15*time.Second,
		typeInto("#create-sites-time_zone", "Asia/Shanghai"),
		steadyClick("#create-sites button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".created-notice")),
		chromedp.WaitVisible(chromedp.CSS(`.admin-table tr[data-id="centre-9"]`)),
	)
	var site struct {
		Name, District string
		TimeZone       string `json:"time_zone"`
		Lat, Lon       float64
	}
	if code := f.apiAs(adminUser, "GET", "/sites/centre-9", "", &site); code != 200 || site.Name != "Xinhua centre" ||
		site.District != "Hongkou" || site.Lat != 31.27 || site.Lon != 121.48 || site.TimeZone != "Asia/Shanghai" {
		t.Errorf("GET /sites/centre-9 = %d %+v; want the site as typed", code, site)
	}

	// A team at the new site: the site is in the form's list without a reload.
	f.openAdmin(ctx, "/app/admin/teams", ".admin-table")
	f.do(ctx, "new team", 15*time.Second,
		steadyClick(".admin-head .btn-primary"),
		chromedp.WaitVisible(chromedp.CSS("#create-teams-id")),
		chromedp.SendKeys(chromedp.CSS("#create-teams-id"), "team-9"),
		chromedp.SendKeys(chromedp.CSS("#create-teams-name"), "Team 9"),
		setField("#create-teams-site", "centre-9"),
		chromedp.SendKeys(chromedp.CSS("#create-teams-ack_within"), "5s"),
		steadyClick("#create-teams button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#create-teams-ack_within-error")),
	)
	if v := eval[string](t, ctx, `['id','name','site','ack_within'].map(n => document.querySelector('#create-teams').elements.namedItem(n).value).join('|')`); v != "team-9|Team 9|centre-9|5s" {
		t.Errorf("the team form after a refused response target holds %q", v)
	}
	f.do(ctx, "the team made", 15*time.Second,
		typeInto("#create-teams-ack_within", "10m"),
		steadyClick("#create-teams button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(`.admin-table tr[data-id="team-9"]`)),
	)
	var teams struct {
		Items []struct{ ID, Site, Name string }
	}
	f.apiAs(adminUser, "GET", "/teams?site=centre-9", "", &teams)
	if len(teams.Items) != 1 || teams.Items[0].ID != "team-9" || teams.Items[0].Name != "Team 9" {
		t.Errorf("GET /teams?site=centre-9 = %+v; want team-9", teams)
	}

	// A device at the new site: its MQTT secret is shown once, and opens the broker; its next
	// calibration, a date, is that day at the site (Asia/Shanghai).
	f.openAdmin(ctx, "/app/admin/devices?new=1", "#create-devices-id")
	f.do(ctx, "new device", 15*time.Second,
		chromedp.SendKeys(chromedp.CSS("#create-devices-id"), "cuff-9001"),
		setField("#create-devices-kind", "bp_cuff"),
		setField("#create-devices-site", "centre-9"),
		setField("#create-devices-next_calibration", "2027-06-01"),
		steadyClick("#create-devices button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".secret-panel #secret-value")),
	)
	var dev struct {
		Site, Status    string
		NextCalibration string `json:"next_calibration"`
	}
	if code := f.apiAs(adminUser, "GET", "/devices/cuff-9001", "", &dev); code != 200 || dev.Site != "centre-9" || dev.Status != "active" ||
		dev.NextCalibration != "2027-05-31T16:00:00Z" {
		t.Errorf("GET /devices/cuff-9001 = %d %+v; want active at centre-9, calibration due 2027-06-01 in Shanghai", code, dev)
	}
	f.secrets["cuff-9001"] = eval[string](t, ctx, `document.querySelector('#secret-value').value`)
	f.publish("cuff-9001", fmt.Sprintf(`{"ts":%d,"readings":[{"type":"bp","systolic":128,"diastolic":82,"unit":"mm[Hg]"}]}`, time.Now().UnixMilli()))

	// The audit log lists the site's creation, by this admin, also when filtered by the site.
	f.openAdmin(ctx, "/app/admin/audit", ".audit-table")
	row := `[...document.querySelectorAll('.audit-table tbody tr')].find(r => r.dataset.subject === 'site/centre-9' && r.dataset.action === 'site.create')`
	f.waitJS(ctx, "the site's creation in the audit log", row+` !== undefined`, 5*time.Second)
	if got := eval[string](t, ctx, row+`.innerText`); !strings.Contains(got, "Site created") || !strings.Contains(got, adminUser) ||
		!strings.Contains(got, "Xinhua centre") || !strings.Contains(got, "Asia/Shanghai") {
		t.Errorf("the audit row says %q; want who, what and the values", got)
	}
	f.do(ctx, "filter by the site", 15*time.Second,
		setField("#audit-kind", "site"),
		chromedp.SendKeys(chromedp.CSS("#audit-object"), "centre-9"),
		steadyClick("#audit-filter button[type=submit]"),
		chromedp.Poll[chromedp.Void](`location.search.includes('subject=site%2Fcentre-9') && document.querySelector('#audit-results[aria-busy=false]')`),
	)
	if got := eval[string](t, ctx, `[...document.querySelectorAll('.audit-table tbody tr')].map(r => r.dataset.action + ' ' + r.dataset.subject).join(';')`); got != "site.create site/centre-9" {
		t.Errorf("the audit log of site/centre-9 lists %q; want its creation only", got)
	}

	// A phone: no page-wide horizontal scroll on the list, a form and the audit log.
	phone := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740})
	f.signIn(phone, adminUser)
	for _, p := range []struct{ path, ready string }{{"/app/admin/sites?new=1", "#create-sites-id"}, {"/app/admin/teams/team-9", "#edit-teams-name"},
		{"/app/admin/audit", ".audit-table"}, {"/app/admin/import", "#import-file"}, {"/app/admin/users/" + f.users[doctorA], "#token-name"}} {
		f.openAdmin(phone, p.path, p.ready)
		if w := eval[string](t, phone, `document.documentElement.scrollWidth + ' ' + window.innerWidth`); w != "360 360" {
			t.Errorf("%s at 360 px: scroll width and window %s; want no horizontal scroll", p.path, w)
		}
	}
}

// A CSV import with two bad lines shows both, with their columns, and stores nothing; put
// right, it stores every row.
func TestAdminImportShowsBadLines(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, adminUser)
	f.openAdmin(ctx, "/app/admin/import?kind=devices", "#import-file")
	dir := t.TempDir()
	bad := "id,kind,site,mode,model\n" +
		"imp-1,bp_cuff,site-1,home,Omron\n" + // 2: good
		"imp-2,toaster,site-1,home,\n" + // 3: no such kind
		"imp-3,oximeter,site-2,home,\n" + // 4: good
		"imp 4,oximeter,site-2,home,\n" // 5: an id with a space
	file := filepath.Join(dir, "devices.csv")
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	f.do(ctx, "choose the file", 10*time.Second,
		chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{file}),
		chromedp.WaitVisible(chromedp.CSS(".import-preview")),
	)
	if got := eval[string](t, ctx, `document.querySelector('[aria-labelledby=import-preview-title]').innerText`); !strings.Contains(got, "devices.csv: 4 rows after the header") {
		t.Errorf("the preview says %q", got)
	}
	f.do(ctx, "import it", 15*time.Second,
		steadyClick("#import button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".import-errors")),
	)
	rows := eval[[]string](t, ctx, `[...document.querySelectorAll('.import-errors tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim()).join(' | '))`)
	want := []string{`3 | kind | device kind "toaster" is not one of [glucose_meter cgm bp_cuff oximeter wearable thermometer scale station]`,
		`5 | id | device id "imp 4" is not 1-64 characters of A-Z a-z 0-9 . _ : -`}
	if !slices.Equal(rows, want) {
		t.Errorf("the import's errors:\n%q\nwant\n%q", rows, want)
	}
	if got := eval[string](t, ctx, `document.querySelector('.import-errors').innerText`); !strings.Contains(got, "2 rows are wrong") || !strings.Contains(got, "Nothing was imported.") {
		t.Errorf("the import's result says %q", got)
	}
	if marked := eval[string](t, ctx, `[...document.querySelectorAll('.import-preview tr.is-bad')].map(r => r.dataset.line).join(',')`); marked != "3,5" {
		t.Errorf("the preview marks lines %q; want 3,5", marked)
	}
	for _, id := range []string{"imp-1", "imp-3"} {
		if code := f.apiAs(adminUser, "GET", "/devices/"+id, "", nil); code != http.StatusNotFound {
			t.Errorf("GET /devices/%s = %d; want 404: nothing is imported when a row is bad", id, code)
		}
	}

	// Put right and pasted: every row is stored, and the new devices' secrets are shown once.
	good := strings.NewReplacer("toaster", "bp_cuff", "imp 4", "imp-4").Replace(bad)
	f.do(ctx, "paste the corrected file", 15*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('details.paste').open = true`),
		setField("#import-paste", good),
		steadyClick("#import button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#import-ok-title")),
	)
	if got := eval[string](t, ctx, `document.querySelector('#import-result').innerText`); !strings.Contains(got, "4 imported") ||
		!strings.Contains(got, "MQTT secrets of the 4 new devices") || strings.Count(got, "imp-") < 8 {
		t.Errorf("the import's result says %q; want 4 imported with their secrets", got)
	}
	var dev struct{ ID, Kind, Site, Model string }
	if code := f.apiAs(adminUser, "GET", "/devices/imp-1", "", &dev); code != 200 || dev.Model != "Omron" || dev.Site != siteA {
		t.Errorf("GET /devices/imp-1 = %d %+v", code, dev)
	}
}

// An admin makes a user (a doctor of a team) and disables them; an API token is shown once,
// with a warning and a copy button, and after a reload not again, only its name; it works until
// it is revoked from the page. A webhook's signing secret is shown once too.
func TestAdminUsersTokensWebhooks(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, adminUser)

	// A new doctor: the teams are offered for a doctor, the sites for a fleet manager.
	f.openAdmin(ctx, "/app/admin/users", ".admin-table")
	f.do(ctx, "new user", 15*time.Second,
		steadyClick(".admin-head .btn-primary"),
		chromedp.WaitVisible(chromedp.CSS("#create-user-username")),
		chromedp.SendKeys(chromedp.CSS("#create-user-username"), "dr.zhao"),
		setField("#create-user-role", "fleet_manager"),
		chromedp.WaitVisible(chromedp.CSS(`#create-user-sites input[value="site-2"]`)),
		setField("#create-user-role", "doctor"),
		chromedp.WaitVisible(chromedp.CSS(`#create-user-teams input[value="team-2"]`)),
		chromedp.SendKeys(chromedp.CSS("#create-user-password"), "short"),
		steadyClick("#create-user button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#create-user-password-error")),
	)
	if got := eval[string](t, ctx, `document.querySelector('#create-user-password-error').textContent.trim()`); got != "⚠ a password needs at least 12 characters, this one has 5" {
		t.Errorf("a short password: %q", got)
	}
	f.do(ctx, "without a team", 15*time.Second,
		typeInto("#create-user-password", "a long passphrase for dr zhao"),
		steadyClick("#create-user button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#create-user-teams-error")),
	)
	if got := eval[string](t, ctx, `document.querySelector('#create-user-teams-error').textContent.trim() + '|' + document.querySelector('#create-user-username').value`); got != "⚠ a doctor needs at least one team|dr.zhao" {
		t.Errorf("a doctor without a team: %q", got)
	}
	f.do(ctx, "with a team", 15*time.Second,
		steadyClick(`#create-user-teams input[value="team-2"]`),
		steadyClick("#create-user button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".created-notice a")),
	)
	var users struct {
		Items []struct {
			ID, Username, Role string
			Teams              []string
			Disabled           bool
		}
	}
	f.apiAs(adminUser, "GET", "/users?team=team-2", "", &users)
	var zhao string
	for _, u := range users.Items {
		if u.Username == "dr.zhao" && u.Role == "doctor" && slices.Equal(u.Teams, []string{"team-2"}) && !u.Disabled {
			zhao = u.ID
		}
	}
	if zhao == "" {
		t.Fatalf("GET /users?team=team-2 = %+v; want dr.zhao, an enabled doctor of team-2", users)
	}
	f.do(ctx, "disable dr.zhao", 15*time.Second,
		steadyClick(".created-notice a"),
		chromedp.WaitVisible(chromedp.CSS("[aria-labelledby=access-title] .btn-danger")),
		steadyClick("[aria-labelledby=access-title] .btn-danger"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#user-title').innerText.includes('Disabled')`),
	)
	var u struct{ Disabled bool }
	if f.apiAs(adminUser, "GET", "/users/"+zhao, "", &u); !u.Disabled {
		t.Errorf("dr.zhao after Disable: %+v; want disabled", u)
	}

	path := "/app/admin/users/" + f.users[fleetA]
	f.openAdmin(ctx, path, "#token-name")
	f.do(ctx, "make a token", 15*time.Second,
		chromedp.SendKeys(chromedp.CSS("#token-name"), "hospital-sync"),
		steadyClick("#token button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".secret-panel #secret-value")),
	)
	token := eval[string](t, ctx, `document.querySelector('#secret-value').value`)
	panel := eval[string](t, ctx, `document.querySelector('.secret-panel').innerText`)
	if !strings.HasPrefix(token, "vwt_") || !strings.Contains(panel, "Shown this once.") || !strings.Contains(panel, "will not be shown again") ||
		!strings.Contains(panel, "Copy") {
		t.Fatalf("token %q, panel %q; want a vwt_ token with the warning and a copy button", token, panel)
	}
	if focused := eval[string](t, ctx, `document.activeElement.className`); !strings.Contains(focused, "secret-panel") {
		t.Errorf("focus is on %q; want the panel with the token", focused)
	}
	if got := bearer(t, f, token, "/me"); got != 200 {
		t.Errorf("GET /me with the new token = %d; want 200", got)
	}
	f.do(ctx, "reload", 20*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#token-name")))
	f.waitJS(ctx, "the token list", `document.querySelector('table.tokens') !== null`, 5*time.Second)
	page := eval[string](t, ctx, `document.body.innerText + [...document.querySelectorAll('input')].map(i => i.value).join(' ')`)
	if strings.Contains(page, token) || strings.Contains(page, token[4:12]) || !strings.Contains(page, "hospital-sync") ||
		eval[int](t, ctx, `document.querySelectorAll('.secret-panel').length`) != 0 {
		t.Errorf("after a reload the page shows the token, or not its name: %q", page)
	}
	// Revoke it: confirm() is answered yes by the page's stand-in.
	f.do(ctx, "revoke", 15*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		steadyClick("table.tokens .btn-danger"),
		chromedp.Poll[chromedp.Void](`document.querySelector('table.tokens').innerText.includes('Revoked')`),
	)
	if got := bearer(t, f, token, "/me"); got != http.StatusUnauthorized {
		t.Errorf("GET /me with the revoked token = %d; want 401", got)
	}

	// A webhook for a team's clinical alerts: its secret once, and the API lists it.
	f.openAdmin(ctx, "/app/admin/webhooks?new=1", "#create-webhook-url")
	f.do(ctx, "new webhook", 15*time.Second,
		setField("#create-webhook-team", teamA),
		chromedp.SendKeys(chromedp.CSS("#create-webhook-url"), "https://hooks.example.org/vitalwatch"),
		setField("#create-webhook-min_severity", "urgent"),
		steadyClick("#create-webhook button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".secret-panel #secret-value")),
		chromedp.WaitVisible(chromedp.CSS(".admin-table tbody tr")),
	)
	var hooks struct {
		Items []struct {
			Team, URL   string
			MinSeverity string `json:"min_severity"`
			Enabled     bool
		}
	}
	f.apiAs(adminUser, "GET", "/webhooks", "", &hooks)
	if len(hooks.Items) != 1 || hooks.Items[0].Team != teamA || hooks.Items[0].URL != "https://hooks.example.org/vitalwatch" ||
		hooks.Items[0].MinSeverity != "urgent" || !hooks.Items[0].Enabled {
		t.Errorf("GET /webhooks = %+v; want the webhook made", hooks)
	}
	if secret := eval[string](t, ctx, `document.querySelector('#secret-value').value`); len(secret) < 32 {
		t.Errorf("the webhook's secret shown is %q", secret)
	}
}

// bearer calls the API with an API token, as an integration does, and answers the status.
func bearer(t *testing.T, f *fixture, token, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", f.base+"/api/v1"+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestScreenshotsAdmin writes PNGs of the admin's pages (a registry list, a form with an error,
// the audit log) into the folder VITALWATCH_SCREENSHOTS names (make screenshots:
// docs/screenshots). Without it, it does nothing.
func TestScreenshotsAdmin(t *testing.T) {
	dir := os.Getenv("VITALWATCH_SCREENSHOTS")
	if dir == "" {
		t.Skip("VITALWATCH_SCREENSHOTS is not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := startFixture(t)
	for i, s := range []string{`{"id":"site-3","name":"Xinhua centre","district":"Hongkou","time_zone":"Asia/Shanghai","lat":31.27,"lon":121.48}`,
		`{"id":"site-4","name":"Quyang centre","district":"Hongkou","time_zone":"Asia/Shanghai","lat":31.28,"lon":121.49}`} {
		if code := f.apiAs(adminUser, "POST", "/sites", s, nil); code != 201 {
			t.Fatalf("site %d: %d", i, code)
		}
	}
	desk := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 860})
	shoot := func(ctx context.Context, name string) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		time.Sleep(300 * time.Millisecond) // let the last frame paint
		png, err := chromedp.Run(c, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", name, len(png))
	}
	f.signIn(desk, adminUser)
	f.openAdmin(desk, "/app/admin/devices", ".admin-table")
	shoot(desk, "admin-devices.png")
	f.openAdmin(desk, "/app/admin/sites?new=1", "#create-sites-id")
	f.do(desk, "a site with a bad time zone", 15*time.Second,
		chromedp.SendKeys(chromedp.CSS("#create-sites-id"), "site-5"),
		chromedp.SendKeys(chromedp.CSS("#create-sites-name"), "Ouyang centre"),
		chromedp.SendKeys(chromedp.CSS("#create-sites-district"), "Hongkou"),
		typeInto("#create-sites-time_zone", "Asia/Shangai"),
		steadyClick("#create-sites button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#create-sites-time_zone-error")),
	)
	shoot(desk, "admin-site-error.png")
	f.openAdmin(desk, "/app/admin/audit", ".audit-table")
	shoot(desk, "admin-audit.png")
	phone := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740})
	f.signIn(phone, adminUser)
	f.openAdmin(phone, "/app/admin/sites", ".admin-table")
	shoot(phone, "admin-sites-360.png")
}
