package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The fleet manager's pages run on the shared fixture with more seed, shaped like the demo:
// four centres with coordinates in two of the demo's districts (whose outlines it serves), health stations in service for five months
// with a use history, so that site-1 has stations to spare (about 29% used) and site-3 is short
// (about 120%), and the planner moves one station from site-1 to site-3. fleet-a looks after
// site-1 only.

const (
	siteC, siteD  = "site-3", "site-4"
	faultyStation = "st-1a" // a station of site-1 with an open fault
)

// fleetStation is a seeded health station and its uses a day.
type fleetStation struct {
	id, site string
	uses     int
}

var fleetStations = []fleetStation{
	{"st-1a", siteA, 14}, {"st-1b", siteA, 14}, {"st-1c", siteA, 14}, {"st-1d", siteA, 14},
	{"st-2a", siteB, 36},
	{"st-3a", siteC, 58},
	{"st-4a", siteD, 36},
}

// startFleetFixture is the fixture with the demo-like centres, stations and history, and a fault
// on faultyStation.
func startFleetFixture(t *testing.T) *fixture {
	t.Helper()
	fault := seedAlert{"station", alerts.Finding{Rule: "stuck_sensor", RuleVersion: 1, Category: alerts.Fault, Severity: alerts.Warning,
		Subject: alerts.Subject{Kind: "device", ID: faultyStation}, Device: faultyStation, Site: siteA,
		At: time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second), Value: "the same reading 12 times"}}
	districts, err := filepath.Abs("../scripts/demo-districts.geojson")
	if err != nil {
		t.Fatal(err)
	}
	return startFixtureWith(t, func(dataDir string) []string {
		seedFleet(t, dataDir, time.Now())
		return []string{"VITALWATCH_WEB_DISTRICTS_GEOJSON=" + districts}
	}, fault)
}

// seedFleet adds the centres' coordinates, two more centres, the stations and their uses.
func seedFleet(t *testing.T, dataDir string, now time.Time) {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(dataDir, config.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []devices.Site{
		{ID: siteA, Name: "Hongpailou centre", District: "Wuhou", Lat: 30.6010, Lon: 104.0320},
		{ID: siteB, Name: "Yulin centre", District: "Wuhou", Lat: 30.6120, Lon: 104.0500},
	} {
		cur, err := st.GetSite(ctx, s.ID)
		must(err)
		cur.District, cur.Lat, cur.Lon = s.District, s.Lat, s.Lon
		must(st.UpdateSite(ctx, cur))
	}
	must(st.CreateSite(ctx, devices.Site{ID: siteC, Name: "Zhonghe centre", District: "Gaoxin", Lat: 30.5420, Lon: 104.0620,
		TimeZone: "Asia/Shanghai", OpeningHours: "Mon-Sun 08:00-17:00"}))
	must(st.CreateSite(ctx, devices.Site{ID: siteD, Name: "Guixi centre", District: "Gaoxin", Lat: 30.5700, Lon: 104.0580,
		TimeZone: "Asia/Shanghai", OpeningHours: "Mon-Sun 08:00-17:00"}))

	loc, err := time.LoadLocation("Asia/Shanghai")
	must(err)
	local := now.In(loc)
	start := time.Date(local.Year(), local.Month()-4, 1, 0, 0, 0, 0, loc)
	var devs []devices.Device
	for _, s := range fleetStations {
		devs = append(devs, devices.Device{ID: s.id, Kind: devices.Station, SiteID: s.site, Mode: devices.StationMode,
			Status: devices.Active, RatedUsesPerDay: 48, Model: "VitalSim Kiosk 8", Firmware: "8.2.0", InService: start,
			SecretHash: devices.HashSecret(devices.NewSecret())})
	}
	must(st.CreateDevices(ctx, devs))
	var uses []usage.Use
	for day := start; day.Before(time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)); day = day.AddDate(0, 0, 1) {
		for _, s := range fleetStations {
			for i := range s.uses {
				at := day.Add(8*time.Hour + time.Duration(i)*9*time.Minute)
				uses = append(uses, usage.Use{Device: s.id, Site: s.site, At: at, Day: usage.DayOf(at, loc)})
			}
		}
	}
	_, err = st.RecordUses(ctx, uses)
	must(err)
}

// A fleet manager's map shows the centres by their coordinates (theirs, and the other end of
// each planned move), the plan's move as an arrow from site-1 to site-3, the same in the table
// beside it, and for the faulty station the centres its residents can go to, as the API lists
// them.
func TestFleetMapShowsCentresAndPlannedMove(t *testing.T) {
	f := startFleetFixture(t)
	var plan struct {
		Moves []struct {
			Type, From, To string
			Count          int
		}
	}
	if code := f.apiAs(fleetA, "GET", "/reallocation/plan", "", &plan); code != 200 || len(plan.Moves) != 1 {
		t.Fatalf("fleet-a's plan = %d %+v; want one move", code, plan)
	}
	if m := plan.Moves[0]; m.From != siteA || m.To != siteC || m.Type != "station" || m.Count != 1 {
		t.Fatalf("the planned move is %+v; want 1 station from %s to %s", m, siteA, siteC)
	}
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, fleetA)
	f.do(ctx, "the map", 20*time.Second, chromedp.Navigate(f.base+"/app/map"),
		chromedp.WaitVisible(chromedp.CSS(".centre-table tbody tr")))
	f.waitJS(ctx, "the markers and the arrow", `document.querySelectorAll('.centre-marker').length === 2 && document.querySelectorAll('path.move-arrow').length === 1`, 10*time.Second)
	if got := eval[string](t, ctx, `document.querySelectorAll('path.district-outline').length + ' ' + [...document.querySelectorAll('.district-label')].map(l => l.textContent).join(',')`); got != "4 Wuhou,Jinjiang,Gaoxin,Tianfu New Area" {
		t.Errorf("district outlines: %s; want the demo's four", got)
	}
	got := eval[string](t, ctx, `[...document.querySelectorAll('.centre-marker')].map(m => m.dataset.site + ':' + m.getAttribute('aria-label') + ':' + m.tabIndex).sort().join('|')`)
	want := "site-1:Hongpailou centre, 6 devices, Spare: Health station:0|site-3:Zhonghe centre, Short: Health station:0"
	if got != want {
		t.Errorf("markers:\n got %s\nwant %s", got, want)
	}
	// The arrow runs from site-1 (north-west) towards site-3 (south-east): its head is nearer site-3.
	geo := eval[string](t, ctx, `(() => {
		const c = (el) => { const r = el.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; };
		const a = c(document.querySelector('.centre-marker[data-site="site-1"]')), b = c(document.querySelector('.centre-marker[data-site="site-3"]'));
		const h = c(document.querySelector('path.move-arrowhead'));
		const d = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1]);
		return (d(h, b) < d(h, a)) + ' ' + (d(h, b) < 40);
	})()`)
	if geo != "true true" {
		t.Errorf("the arrowhead is not at site-3's end: %s", geo)
	}
	// The keyboard: a centre is focused and Enter opens its details.
	f.do(ctx, "open a centre with the keyboard", 10*time.Second,
		chromedp.Focus(chromedp.CSS(`.centre-marker[data-site="site-1"]`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".leaflet-popup .centre-detail")),
	)
	if got := eval[string](t, ctx, `document.querySelector('.leaflet-popup .centre-detail').innerText.replace(/\s+/g, ' ')`); !strings.Contains(got, "Hongpailou centre District: Wuhou 6 devices") {
		t.Errorf("site-1's details say %q", got)
	}
	rows := eval[string](t, ctx, `[...document.querySelectorAll('.centre-table tbody tr')].map(r => r.innerText.replace(/\s+/g, ' ').trim()).join('\n')`)
	for _, s := range []string{"Hongpailou centre", "6", "+ Spare Health station", "gives 1 × Health station to Zhonghe centre",
		"Zhonghe centre", "Not one of your centres.", "− Short Health station", "gets 1 × Health station from Hongpailou centre"} {
		if !strings.Contains(rows, s) {
			t.Errorf("the table lacks %q:\n%s", s, rows)
		}
	}

	var alt struct {
		Alternatives []struct {
			Site    string
			Devices int
		}
	}
	f.apiAs(fleetA, "GET", "/devices/"+faultyStation+"/alternatives", "", &alt)
	if len(alt.Alternatives) == 0 {
		t.Fatalf("the API lists no alternatives for %s", faultyStation)
	}
	var wantAlt []string
	for _, a := range alt.Alternatives {
		wantAlt = append(wantAlt, fmt.Sprintf("%s %d", map[string]string{siteB: "Yulin centre", siteD: "Guixi centre", siteC: "Zhonghe centre"}[a.Site], a.Devices))
	}
	f.do(ctx, "where the faulty station's residents can go", 10*time.Second,
		steadyClick(`.faulty-list li:has(a[href="/app/devices/`+faultyStation+`"]) button`),
		chromedp.WaitVisible(chromedp.CSS("#alternatives table")))
	gotAlt := eval[string](t, ctx, `[...document.querySelectorAll('#alternatives tbody tr')].map(r => r.cells[0].innerText + ' ' + r.cells[2].innerText).join(', ')`)
	if gotAlt != strings.Join(wantAlt, ", ") {
		t.Errorf("alternatives shown %q; want %q", gotAlt, strings.Join(wantAlt, ", "))
	}
	f.waitJS(ctx, "the dashed lines", fmt.Sprintf(`document.querySelectorAll('path.alt-line').length === %d`, len(alt.Alternatives)), 5*time.Second)
}

// TestScreenshotsFleet writes PNGs of the fleet manager's pages into the folder
// VITALWATCH_SCREENSHOTS names (make screenshots: docs/screenshots). Without it, it does nothing.
// The map and utilisation are the admin's, who sees every centre; the devices and the plan
// fleet-a's, with a move proposed and approved.
func TestScreenshotsFleet(t *testing.T) {
	dir := os.Getenv("VITALWATCH_SCREENSHOTS")
	if dir == "" {
		t.Skip("VITALWATCH_SCREENSHOTS is not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := startFleetFixture(t)
	now := time.Now()
	f.publish(oximeter, fmt.Sprintf(`{"ts":%d,"battery":64,"readings":[{"type":"spo2","value":97,"unit":"%%"},{"type":"heart_rate","value":71,"unit":"/min"}]}`, now.Add(-3*time.Hour).UnixMilli()))
	f.publish(oximeter, fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":95,"unit":"%%"},{"type":"heart_rate","value":78,"unit":"/min"}]}`, now.Add(-1*time.Hour).UnixMilli()))
	f.publish(faultyA, fmt.Sprintf(`{"ts":%d,"battery":12,"readings":[{"type":"bp","systolic":182,"unit":"mm[Hg]"}]}`, now.Add(-30*time.Minute).UnixMilli()))
	var m struct{ ID int64 }
	if code := f.apiAs(fleetA, "POST", "/moves", `{"kind":"station","from":"site-1","to":"site-3","devices":["st-1a"],"reason":"Zhonghe is short of stations"}`, &m); code != 201 {
		t.Fatalf("propose: %d", code)
	}
	if code := f.apiAs(fleetA, "POST", fmt.Sprintf("/moves/%d/approve", m.ID), `{"note":"the van goes on Thursday"}`, nil); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	shoot := func(ctx context.Context, name string) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		time.Sleep(400 * time.Millisecond) // let the last frame paint
		png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", name, len(png))
	}
	admin := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 860})
	f.signIn(admin, adminUser)
	f.do(admin, "the map", 20*time.Second, chromedp.Navigate(f.base+"/app/map"), chromedp.WaitVisible(chromedp.CSS(".centre-table tbody tr")))
	f.waitJS(admin, "the map's layers", `document.querySelectorAll('.district-label').length === 4 && document.querySelectorAll('.centre-marker').length === 4`, 10*time.Second)
	shoot(admin, "map.png")
	f.do(admin, "utilisation", 20*time.Second, chromedp.Navigate(f.base+"/app/utilisation?type=station&site=site-3"),
		chromedp.WaitVisible(chromedp.CSS("table.heat-days tbody tr")), chromedp.WaitVisible(chromedp.CSS("table.heat[data-type=station] tbody tr")))
	shoot(admin, "utilisation.png")

	desk := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 860})
	f.signIn(desk, fleetA)
	f.do(desk, "devices", 20*time.Second, chromedp.Navigate(f.base+"/app/devices"), chromedp.WaitVisible(chromedp.CSS(".device-table tbody tr")))
	f.waitJS(desk, "the rows' status", `[...document.querySelectorAll('.device-table tbody tr')].every(r => !r.cells[2].innerText.includes('…'))`, 10*time.Second)
	shoot(desk, "devices.png")
	f.do(desk, "a device", 20*time.Second, chromedp.Navigate(f.base+"/app/devices/"+oximeter), chromedp.WaitVisible(chromedp.CSS(".device-page .chart canvas")))
	shoot(desk, "device.png")
	f.do(desk, "plan", 20*time.Second, chromedp.Navigate(f.base+"/app/plan"), chromedp.WaitVisible(chromedp.CSS(".move-card")))
	shoot(desk, "plan.png")
	phone := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740})
	f.signIn(phone, fleetA)
	f.do(phone, "devices on a phone", 20*time.Second, chromedp.Navigate(f.base+"/app/devices"), chromedp.WaitVisible(chromedp.CSS(".device-table tbody tr")))
	f.waitJS(phone, "the rows' status", `[...document.querySelectorAll('.device-table tbody tr')].every(r => !r.cells[2].innerText.includes('…'))`, 10*time.Second)
	shoot(phone, "devices-360.png")
}

// A fleet manager proposes the planned move through the plan page's form, which shows a field's
// error next to it and keeps what was typed, then approves it (site-1 is the donor); the API
// then has the move approved, by fleet-a, with the note.
func TestFleetProposeAndApproveMove(t *testing.T) {
	f := startFleetFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, fleetA)
	f.do(ctx, "the plan", 20*time.Second, chromedp.Navigate(f.base+"/app/plan"),
		chromedp.WaitVisible(chromedp.CSS(".planned-moves li button")))
	if got := eval[string](t, ctx, `document.querySelector('.planned-moves li h3').textContent.trim()`); got != "1 × Health station: Hongpailou centre → Zhonghe centre" {
		t.Errorf("the planned move is %q", got)
	}
	// A move proposed with no devices: the error is under the devices field, the reason typed stays.
	f.do(ctx, "an empty proposal", 10*time.Second,
		steadyClick(".moves-top button"),
		chromedp.WaitVisible(chromedp.CSS("#propose-form")),
		chromedp.SetValue(chromedp.CSS("#propose-kind"), "station"),
		chromedp.SetValue(chromedp.CSS("#propose-from"), siteA),
		chromedp.SetValue(chromedp.CSS("#propose-to"), siteC),
		chromedp.SendKeys(chromedp.CSS("#propose-reason"), "Zhonghe is overloaded"),
		steadyClick("#propose-form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#propose-devices-error")),
	)
	if got := eval[string](t, ctx, `document.querySelector('#propose-devices').getAttribute('aria-invalid') + '|' + document.querySelector('#propose-reason').value + '|' + (document.activeElement && document.activeElement.id)`); got != "true|Zhonghe is overloaded|propose-devices" {
		t.Errorf("after the empty proposal: %q", got)
	}
	// A device of another site: the API refuses it and the form says why, keeping the devices typed.
	f.do(ctx, "a device of another site", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#propose-devices"), "st-2a"),
		steadyClick("#propose-form button[type=submit]"),
		chromedp.Poll[chromedp.Void](`(document.querySelector('#propose-form .form-error') || document.querySelector('#propose-devices-error') || {textContent: ''}).textContent.includes('st-2a')`),
	)
	if got := eval[string](t, ctx, `document.querySelector('#propose-devices').value + '|' + document.querySelector('#propose-reason').value`); got != "st-2a|Zhonghe is overloaded" {
		t.Errorf("after the refusal the form holds %q", got)
	}
	f.do(ctx, "the right device", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#propose-devices').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#propose-devices"), "st-1a"),
		steadyClick("#propose-form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".move-card")),
	)
	id := eval[int](t, ctx, `Number(document.querySelector('.move-card').dataset.id)`)
	card := fmt.Sprintf(`.move-card[data-id="%d"]`, id)
	f.do(ctx, "approve", 10*time.Second,
		steadyClick(card+` button[data-action=approve]`),
		chromedp.WaitVisible(chromedp.CSS(card+` .step-form input[name=note]`)),
		chromedp.SendKeys(chromedp.CSS(card+` .step-form input[name=note]`), "van on Thursday"),
		steadyClick(card+` .step-form button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(card+` button[data-action=dispatch]`)),
	)
	steps := eval[string](t, ctx, `[...document.querySelectorAll('`+card+` .custody li')].map(li => li.innerText.replace(/\s+/g, ' ').trim()).join(' / ')`)
	for _, want := range []string{"Proposed you,", "Reason: Zhonghe is overloaded", "Approved you,", "Note: van on Thursday"} {
		if !strings.Contains(steps, want) {
			t.Errorf("the custody says %q; want %q in it", steps, want)
		}
	}
	var m struct {
		State            string
		DecidedBy        string `json:"decided_by"`
		DecisionNote     string `json:"decision_note"`
		Devices          []string
		From, To, Reason string
	}
	if code := f.apiAs(adminUser, "GET", fmt.Sprintf("/moves/%d", id), "", &m); code != 200 {
		t.Fatalf("GET /moves/%d = %d", id, code)
	}
	if m.State != "approved" || m.DecidedBy != "user:"+f.users[fleetA] || m.DecisionNote != "van on Thursday" ||
		strings.Join(m.Devices, ",") != "st-1a" || m.From != siteA || m.To != siteC || m.Reason != "Zhonghe is overloaded" {
		t.Errorf("the API's move = %+v; want approved by fleet-a with the note", m)
	}
	// fleet-a dispatches it; the receipt is site-3's to confirm, so the page says it waits for it.
	f.do(ctx, "dispatch", 10*time.Second,
		steadyClick(card+` button[data-action=dispatch]`),
		chromedp.WaitVisible(chromedp.CSS(card+` .step-form button[type=submit]`)),
		steadyClick(card+` .step-form button[type=submit]`),
		chromedp.Poll[chromedp.Void](`document.querySelector('`+card+`').innerText.includes('Waiting for Zhonghe centre to confirm receipt.')`),
	)
	if got := eval[int](t, ctx, `document.querySelectorAll('`+card+` .row-actions button').length`); got != 0 {
		t.Errorf("fleet-a is offered %d steps of a move only site-3 may receive", got)
	}
	f.apiAs(adminUser, "GET", fmt.Sprintf("/moves/%d", id), "", &m)
	var dev struct{ Status string }
	f.apiAs(adminUser, "GET", "/devices/st-1a", "", &dev)
	if m.State != "in_transit" || dev.Status != "in_transit" {
		t.Errorf("after the dispatch the move is %s and st-1a %s; want both in_transit", m.State, dev.Status)
	}
}

// A fleet manager's device list holds the devices of their own site only, each with its states;
// the state filter lists what the API lists for that state and is kept in the address; another
// site's device is refused on its page; at 360 px the page does not scroll sideways.
func TestFleetDevicesOwnSitesAndStateFilter(t *testing.T) {
	f := startFleetFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, fleetA)
	f.do(ctx, "the device list", 20*time.Second, chromedp.Navigate(f.base+"/app/devices"),
		chromedp.WaitVisible(chromedp.CSS(".device-table tbody tr")))
	ids := eval[string](t, ctx, `[...document.querySelectorAll('.device-table tbody th a')].map(a => a.textContent).join(',')`)
	if ids != "cuff-9,ox-1,st-1a,st-1b,st-1c,st-1d" {
		t.Errorf("fleet-a's devices: %s; want site-1's six", ids)
	}
	states := eval[string](t, ctx, `[...document.querySelectorAll('.device-table tbody tr')].map(r => r.querySelector('th a').textContent + ':' + r.cells[1].innerText.replace(/\s+/g, ' ').trim()).join(', ')`)
	if !strings.Contains(states, "st-1a:○ Offline ✕ Faulty") || !strings.Contains(states, "st-1b:○ Offline") {
		t.Errorf("states shown: %s", states)
	}
	var faulty struct{ Items []struct{ ID string } }
	f.apiAs(fleetA, "GET", "/devices?state=faulty", "", &faulty)
	var want []string
	for _, d := range faulty.Items {
		want = append(want, d.ID)
	}
	if strings.Join(want, ",") != "cuff-9,st-1a" {
		t.Fatalf("the API's faulty devices of fleet-a: %v; want cuff-9 and st-1a", want)
	}
	f.do(ctx, "the faulty ones", 10*time.Second,
		chromedp.SetValue(chromedp.CSS("#dev-state"), "faulty"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#dev-state').dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('.device-table tbody tr').length === 2`),
	)
	got := eval[string](t, ctx, `[...document.querySelectorAll('.device-table tbody th a')].map(a => a.textContent).join(',') + '|' + location.search`)
	if got != strings.Join(want, ",")+"|?state=faulty" {
		t.Errorf("filtered by faulty: %s; want %s and ?state=faulty", got, strings.Join(want, ","))
	}
	// The filter survives a reload, from the address.
	f.do(ctx, "reload", 20*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".device-table tbody tr")))
	if got := eval[string](t, ctx, `document.querySelector('#dev-state').value + '|' + document.querySelectorAll('.device-table tbody tr').length`); got != "faulty|2" {
		t.Errorf("after a reload: %s; want the faulty filter and 2 rows", got)
	}

	// Another site's device: the API says 403, the page says it is not theirs.
	f.do(ctx, "another site's device", 20*time.Second, chromedp.Navigate(f.base+"/app/devices/"+faultyB),
		chromedp.WaitVisible(chromedp.CSS(".device-refused")))
	if got := eval[string](t, ctx, `document.querySelector('.device-refused').dataset.status + '|' + document.querySelector('.device-refused h1').textContent`); got != "403|Not one of your devices" {
		t.Errorf("another site's device page: %s", got)
	}
	if got := eval[string](t, ctx, `document.body.innerText`); strings.Contains(got, "BP cuff") || strings.Contains(got, "Yulin") {
		t.Errorf("the refused page shows the device's details: %s", got)
	}

	phone := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740})
	f.signIn(phone, fleetA)
	f.do(phone, "the device list on a phone", 20*time.Second, chromedp.Navigate(f.base+"/app/devices"),
		chromedp.WaitVisible(chromedp.CSS(".device-table tbody tr")))
	f.waitJS(phone, "the rows' status", `[...document.querySelectorAll('.device-table tbody tr')].every(r => !r.cells[2].innerText.includes('…'))`, 10*time.Second)
	if w := eval[string](t, phone, `document.documentElement.scrollWidth + ' ' + window.innerWidth + ' ' + document.body.scrollWidth`); w != "360 360 360" {
		t.Errorf("at 360 px the page is %s wide (scrollWidth, innerWidth, body); want no sideways scroll", w)
	}
	// The other pages, each in a browser of its own: Chromium keeps the pages a tab loaded before
	// in its back-forward cache, each with the live feed's connection open, and six connections
	// to one host are all HTTP/1.1 allows.
	for _, p := range []struct{ path, ready string }{
		{"/app/devices/st-1a", ".readings-table, .device-page .empty"},
		{"/app/map", ".centre-table tbody tr"},
		{"/app/utilisation", "table.heat-days tbody tr"},
		{"/app/plan", ".planned-moves li"},
	} {
		phone := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740})
		f.signIn(phone, fleetA)
		f.do(phone, p.path+" on a phone", 20*time.Second, chromedp.Navigate(f.base+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready)))
		if w := eval[string](t, phone, `document.documentElement.scrollWidth + ' ' + document.body.scrollWidth`); w != "360 360" {
			t.Errorf("at 360 px %s is %s wide (scrollWidth of the document and body); want 360", p.path, w)
		}
	}
}

// A device's page shows its live status, its fault history, its recent readings as the API has
// them, and its refused messages with the reason in words; the list shows the refused message too.
func TestFleetDevicePage(t *testing.T) {
	f := startFleetFixture(t)
	at := time.Now().Add(-2 * time.Minute)
	f.publish(oximeter, fmt.Sprintf(`{"ts":%d,"battery":64,"readings":[{"type":"spo2","value":97,"unit":"%%"},{"type":"heart_rate","value":71,"unit":"/min"}]}`, at.UnixMilli()))
	f.publish(oximeter, fmt.Sprintf(`{"ts":%d,"readings":[{"type":"glucose_ish","value":5}]}`, at.UnixMilli()))
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, fleetA)
	var readings struct {
		Readings []struct{ Value float64 }
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		f.apiAs(fleetA, "GET", "/devices/"+oximeter+"/readings?type=spo2", "", &readings)
		if len(readings.Readings) == 1 || time.Now().After(deadline) {
			break
		}
	}
	if len(readings.Readings) != 1 || readings.Readings[0].Value != 97 {
		t.Fatalf("the API's SpO2 readings of %s: %+v; want one of 97", oximeter, readings)
	}
	f.do(ctx, "the device page", 20*time.Second, chromedp.Navigate(f.base+"/app/devices/"+oximeter),
		chromedp.WaitVisible(chromedp.CSS(".readings-table tbody tr")),
		chromedp.WaitVisible(chromedp.CSS("#dead-title ~ table tbody tr")))
	if got := eval[string](t, ctx, `[...document.querySelectorAll('.readings-table tbody tr')].map(r => r.cells[1].textContent).join(',')`); got != "97 %" {
		t.Errorf("readings shown: %q; want the API's one, 97 %%", got)
	}
	status := eval[string](t, ctx, `document.querySelector('[aria-labelledby=status-title]').innerText.replace(/\s+/g, ' ')`)
	for _, s := range []string{"State ● Online", "Battery 64%", "Last 24 hours 2 readings, 1 refused"} {
		if !strings.Contains(status, s) {
			t.Errorf("the status says:\n%s\nwant %q in it", status, s)
		}
	}
	if got := eval[string](t, ctx, `document.querySelector('#dead-title ~ table tbody tr').cells[1].textContent`); got != "Unknown reading type" {
		t.Errorf("the dead letter's reason: %q", got)
	}
	f.do(ctx, "a faulty device", 20*time.Second, chromedp.Navigate(f.base+"/app/devices/"+faultyA),
		chromedp.WaitVisible(chromedp.CSS(".fault-list li")))
	if got := eval[string](t, ctx, `document.querySelector('.fault-list li').innerText.replace(/\s+/g, ' ')`); !strings.Contains(got, "Low battery") || !strings.Contains(got, "battery 15 %") {
		t.Errorf("the fault history says %q", got)
	}
	f.do(ctx, "the list's refused messages", 20*time.Second, chromedp.Navigate(f.base+"/app/devices"),
		chromedp.WaitVisible(chromedp.CSS(".dead-table tbody tr")))
	if got := eval[string](t, ctx, `[...document.querySelector('.dead-table tbody tr').cells].map(c => c.innerText.trim()).slice(1, 3).join('|')`); !strings.HasPrefix(got, oximeter+"|Unknown reading type") {
		t.Errorf("the list's dead letter: %q", got)
	}
}

// The utilisation heatmaps show the numbers the API gives: a centre's month and a device's day,
// with the spare line's mark; the CSV link downloads the same figures.
func TestFleetUtilisationHeatmap(t *testing.T) {
	f := startFleetFixture(t)
	month := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, -1, 0).Format("2006-01")
	var u struct {
		Figures []struct {
			Site, Type, Month string
			Utilisation       float64
		}
	}
	f.apiAs(fleetA, "GET", "/utilisation?by=type&type=station&from="+month+"&to="+month, "", &u)
	if len(u.Figures) != 1 || u.Figures[0].Site != siteA {
		t.Fatalf("the API's station figures of %s: %+v; want site-1's", month, u)
	}
	wantPct := fmt.Sprintf("%.0f%%", u.Figures[0].Utilisation*100)
	var days struct {
		Devices []struct {
			Device string
			Days   []struct {
				Day  string
				Uses int
			}
		}
	}
	f.apiAs(fleetA, "GET", "/utilisation/days?type=station&month="+month, "", &days)
	var wantUses int
	for _, d := range days.Devices {
		if d.Device == "st-1b" {
			wantUses = d.Days[9].Uses
		}
	}
	if wantUses != 14 {
		t.Fatalf("the API's uses of st-1b on %s-10: %d; want the 14 seeded", month, wantUses)
	}
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, fleetA)
	f.do(ctx, "utilisation", 20*time.Second, chromedp.Navigate(f.base+"/app/utilisation?type=station&month="+month),
		chromedp.WaitVisible(chromedp.CSS("table.heat-days tbody tr")), chromedp.WaitVisible(chromedp.CSS("table.heat[data-type=station] tbody tr")))
	cell := eval[string](t, ctx, `(() => { const c = document.querySelector('table.heat[data-type=station] td[data-site="site-1"][data-month="`+month+`"]');
		return c.querySelector('.heat-value').textContent + '|' + c.querySelector('.heat-mark').textContent + '|' + c.querySelector('.heat-mark').getAttribute('aria-label'); })()`)
	if cell != wantPct+"|▽|below the spare line" {
		t.Errorf("site-1's station cell of %s: %q; want %s marked below the spare line", month, cell, wantPct)
	}
	day := eval[string](t, ctx, `(() => { const r = [...document.querySelectorAll('table.heat-days tbody tr')].find(r => r.querySelector('th a').textContent === 'st-1b');
		return r.querySelector('td[data-day="`+month+`-10"] .heat-value').textContent; })()`)
	if day != fmt.Sprint(wantUses) {
		t.Errorf("st-1b on %s-10 shows %q; want %d", month, day, wantUses)
	}
	csv := eval[string](t, ctx, `fetch(document.querySelector('.csv-links a').href).then(r => r.text())`)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "month,district,site,type,") || !strings.Contains(csv, month+",Wuhou,site-1,station,") {
		t.Errorf("the CSV link gives:\n%s", csv)
	}
}
