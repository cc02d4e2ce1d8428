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

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The fleet manager's pages run on the shared fixture with more seed, shaped like the demo:
// four centres with coordinates in two districts, health stations in service for five months
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
	return startFixtureWith(t, func(dataDir string) { seedFleet(t, dataDir, time.Now()) }, fault)
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
		{ID: siteB, Name: "Yulin centre", District: "Wuhou", Lat: 30.6260, Lon: 104.0640},
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
		chromedp.Click(chromedp.CSS(`.faulty-list li:has(a[href="/app/devices/`+faultyStation+`"]) button`)),
		chromedp.WaitVisible(chromedp.CSS("#alternatives table")))
	gotAlt := eval[string](t, ctx, `[...document.querySelectorAll('#alternatives tbody tr')].map(r => r.cells[0].innerText + ' ' + r.cells[2].innerText).join(', ')`)
	if gotAlt != strings.Join(wantAlt, ", ") {
		t.Errorf("alternatives shown %q; want %q", gotAlt, strings.Join(wantAlt, ", "))
	}
	f.waitJS(ctx, "the dashed lines", fmt.Sprintf(`document.querySelectorAll('path.alt-line').length === %d`, len(alt.Alternatives)), 5*time.Second)
}

// TestScreenshotsFleet writes PNGs of the fleet manager's pages into the folder
// VITALWATCH_SCREENSHOTS names (make screenshots: docs/screenshots). Without it, it does nothing.
func TestScreenshotsFleet(t *testing.T) {
	dir := os.Getenv("VITALWATCH_SCREENSHOTS")
	if dir == "" {
		t.Skip("VITALWATCH_SCREENSHOTS is not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := startFleetFixture(t)
	desk := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
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
	f.signIn(desk, fleetA)
	f.do(desk, "the map", 20*time.Second, chromedp.Navigate(f.base+"/app/map"), chromedp.WaitVisible(chromedp.CSS(".centre-table tbody tr")))
	f.waitJS(desk, "the arrow", `document.querySelectorAll('path.move-arrow').length === 1`, 10*time.Second)
	shoot(desk, "fleet-map.png")
	f.do(desk, "utilisation", 20*time.Second, chromedp.Navigate(f.base+"/app/utilisation"),
		chromedp.WaitVisible(chromedp.CSS("table.heat-days tbody tr")), chromedp.WaitVisible(chromedp.CSS("table.heat[data-type=station] tbody tr")))
	shoot(desk, "fleet-utilisation.png")
	f.do(desk, "plan", 20*time.Second, chromedp.Navigate(f.base+"/app/plan"), chromedp.WaitVisible(chromedp.CSS(".planned-moves li")))
	shoot(desk, "fleet-plan.png")
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
		chromedp.Click(chromedp.CSS(".moves-top button")),
		chromedp.WaitVisible(chromedp.CSS("#propose-form")),
		chromedp.SetValue(chromedp.CSS("#propose-kind"), "station"),
		chromedp.SetValue(chromedp.CSS("#propose-from"), siteA),
		chromedp.SetValue(chromedp.CSS("#propose-to"), siteC),
		chromedp.SendKeys(chromedp.CSS("#propose-reason"), "Zhonghe is overloaded"),
		chromedp.Click(chromedp.CSS("#propose-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#propose-devices-error")),
	)
	if got := eval[string](t, ctx, `document.querySelector('#propose-devices').getAttribute('aria-invalid') + '|' + document.querySelector('#propose-reason').value + '|' + (document.activeElement && document.activeElement.id)`); got != "true|Zhonghe is overloaded|propose-devices" {
		t.Errorf("after the empty proposal: %q", got)
	}
	// A device of another site: the API refuses it and the form says why, keeping the devices typed.
	f.do(ctx, "a device of another site", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#propose-devices"), "st-2a"),
		chromedp.Click(chromedp.CSS("#propose-form button[type=submit]")),
		chromedp.Poll[chromedp.Void](`(document.querySelector('#propose-form .form-error') || document.querySelector('#propose-devices-error') || {textContent: ''}).textContent.includes('st-2a')`),
	)
	if got := eval[string](t, ctx, `document.querySelector('#propose-devices').value + '|' + document.querySelector('#propose-reason').value`); got != "st-2a|Zhonghe is overloaded" {
		t.Errorf("after the refusal the form holds %q", got)
	}
	f.do(ctx, "the right device", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#propose-devices').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#propose-devices"), "st-1a"),
		chromedp.Click(chromedp.CSS("#propose-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".move-card")),
	)
	id := eval[int](t, ctx, `Number(document.querySelector('.move-card').dataset.id)`)
	card := fmt.Sprintf(`.move-card[data-id="%d"]`, id)
	f.do(ctx, "approve", 10*time.Second,
		chromedp.Click(chromedp.CSS(card+` button[data-action=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(card+` .step-form input[name=note]`)),
		chromedp.SendKeys(chromedp.CSS(card+` .step-form input[name=note]`), "van on Thursday"),
		chromedp.Click(chromedp.CSS(card+` .step-form button[type=submit]`)),
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
}
