package web_test

import (
	"context"
	"database/sql"
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
)

// The repairs seed: site-1's two health stations, rp-1 and rp-2, with hand-made periods last
// month (UTC; day n at hour h is repairDay(n, h)):
//   - rp-1: a stuck-sensor alert first seen on day 2 at 12:00, still open when it was put under
//     maintenance on day 3; active again on day 6: 84 hours from the fault;
//   - rp-2: under maintenance from day 4 to day 5: 24 hours from maintenance.
//
// Residents were redirected only while both were out, day 4 to 5: 24 hours for each repair, and
// 24 for the month's group, which has 2 repairs (1 from a fault), a median of 24 hours, a 90th
// percentile of 84 and 4.5 device-days out. And cuff-9 is put under maintenance now: an open
// repair, started at maintenance (its battery alert is no broken-device fault).
const repairA, repairB = "rp-1", "rp-2"

// repairMonth is the first instant of last month (UTC).
func repairMonth() time.Time {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC)
}

func repairDay(n, h int) time.Time {
	return repairMonth().Add(time.Duration(n-1)*24*time.Hour + time.Duration(h)*time.Hour)
}

// startRepairsFixture is the fixture with the repairs seed.
func startRepairsFixture(t *testing.T) *fixture {
	t.Helper()
	fault := seedAlert{"stuck", alerts.Finding{Rule: alerts.RuleStuckSensor, RuleVersion: 1, Category: alerts.Fault, Severity: alerts.Warning,
		Subject: alerts.Subject{Kind: "device", ID: repairA}, Device: repairA, Site: siteA, At: repairDay(2, 12), Value: "the same reading 12 times"}}
	return startFixtureWith(t, func(dataDir string) []string {
		seedRepairs(t, dataDir)
		return nil
	}, fault)
}

// seedRepairs adds the two stations with their periods, and puts cuff-9 under maintenance.
func seedRepairs(t *testing.T, dataDir string) {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "test")
	path := filepath.Join(dataDir, config.DBFile)
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	since := repairMonth().AddDate(0, -2, 0)
	var devs []devices.Device
	for _, id := range []string{repairA, repairB} {
		devs = append(devs, devices.Device{ID: id, Kind: devices.Station, SiteID: siteA, Mode: devices.StationMode, Status: devices.Active,
			RatedUsesPerDay: 40, InService: since, SecretHash: devices.HashSecret(devices.NewSecret())})
	}
	must(st.CreateDevices(ctx, devs))
	d, err := st.GetDevice(ctx, faultyA)
	must(err)
	d.Status = devices.Maintenance
	must(st.UpdateDevice(ctx, d))
	must(st.Close())

	// The periods of the past, written as the registry keeps them (the registry records a change
	// of status at the time it is made).
	db, err := sql.Open("sqlite", path)
	must(err)
	defer db.Close()
	type period struct {
		device string
		status devices.Status
		from   time.Time
		until  time.Time // zero: still so
	}
	for _, p := range []period{
		{repairA, devices.Active, since, repairDay(3, 0)},
		{repairA, devices.Maintenance, repairDay(3, 0), repairDay(6, 0)},
		{repairA, devices.Active, repairDay(6, 0), time.Time{}},
		{repairB, devices.Active, since, repairDay(4, 0)},
		{repairB, devices.Maintenance, repairDay(4, 0), repairDay(5, 0)},
		{repairB, devices.Active, repairDay(5, 0), time.Time{}},
	} {
		if p.from.Equal(since) {
			_, err := db.Exec(`DELETE FROM device_periods WHERE device_id = ?`, p.device)
			must(err)
		}
		var until any
		if !p.until.IsZero() {
			until = p.until.UnixMilli()
		}
		_, err := db.Exec(`INSERT INTO device_periods (device_id, site_id, status, from_ms, until_ms) VALUES (?, ?, ?, ?, ?)`,
			p.device, siteA, string(p.status), p.from.UnixMilli(), until)
		must(err)
	}
}

// A fleet manager's repairs page shows last month's repairs of site-1's stations with the
// numbers of the seed (count, from a fault, median, 90th percentile, device-days out, residents
// redirected), the open repair of cuff-9 started at maintenance, and a CSV link whose file has
// the same numbers; the device page of rp-1 shows its repair from the fault alert; in Chinese
// the page has its own words; at 360 px it does not scroll sideways; and the filters are
// reached and changed with the keyboard.
func TestRepairsPage(t *testing.T) {
	f := startRepairsFixture(t)
	month := repairMonth().Format("2006-01")
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, fleetA)
	f.do(ctx, "the repairs page", 20*time.Second, chromedp.Navigate(f.base+"/app/repairs"),
		chromedp.WaitVisible(chromedp.CSS(".repairs-table tbody tr")))
	row := eval[string](t, ctx, `(() => { const r = document.querySelector('.repairs-table tbody tr[data-type=station]');
		return [...r.cells].map(c => c.textContent.replace(/\s+/g, ' ').trim()).join('|'); })()`)
	if want := month + "|Hongpailou centre|Health station|2|1|24 h|84 h|4.5|↪ 24 h"; row != want {
		t.Errorf("the stations' row = %q; want %q", row, want)
	}
	open := eval[string](t, ctx, `[...document.querySelectorAll('.repairs-open tbody tr')].map(r => r.dataset.device + ':' +
		r.querySelector('a').getAttribute('href') + ':' + r.cells[4].textContent.replace(/\s+/g, ' ').trim()).join(',')`)
	if open != faultyA+":/app/devices/"+faultyA+":⚙ Put under maintenance" {
		t.Errorf("open repairs = %q; want cuff-9, put under maintenance", open)
	}
	nav := eval[string](t, ctx, `document.querySelector('.main-nav a[aria-current=page]').textContent.trim()`)
	if nav != "Repairs" {
		t.Errorf("the current page in the navigation = %q; want Repairs", nav)
	}
	csv := eval[string](t, ctx, `fetch(document.querySelector('.csv-links a').href).then(r => r.text())`)
	if want := month + ",site-1,station,2,24.00,84.00,4.50,1,24.00"; !strings.Contains(csv, want) {
		t.Errorf("the CSV:\n%s\nwant a row %s", csv, want)
	}

	// The keyboard: Tab reaches the type filter from the month before it (through the month's
	// own fields), arrow keys choose BP cuffs, and the stations' row goes (no BP cuff came back
	// last month) while cuff-9 stays open.
	f.do(ctx, "focus the last month", 10*time.Second, chromedp.Focus(chromedp.CSS("#repairs-to")))
	for i := 0; i < 4 && eval[string](t, ctx, `document.activeElement.id`) != "repairs-type"; i++ {
		f.do(ctx, "tab", 5*time.Second, chromedp.KeyEvent(kb.Tab))
	}
	if id := eval[string](t, ctx, `document.activeElement.id`); id != "repairs-type" {
		t.Fatalf("Tab from the last month reached %q; want the type filter", id)
	}
	f.do(ctx, "the type filter by keyboard", 20*time.Second,
		chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown),
		chromedp.Poll[chromedp.Void](`location.search.includes('type=bp_cuff') && !document.querySelector('.repairs-table') && document.querySelector('.repairs-open tbody tr')`),
	)

	var stuck int64 = f.alerts["stuck"]
	f.do(ctx, "rp-1's page", 20*time.Second, chromedp.Navigate(f.base+"/app/devices/"+repairA),
		chromedp.WaitVisible(chromedp.CSS(".device-repairs tbody tr")))
	got := eval[string](t, ctx, `[...document.querySelectorAll('.device-repairs tbody tr')].map(r => [...r.cells].map(c => c.textContent.replace(/\s+/g, ' ').trim()).join('|') + '|' + r.querySelector('a').getAttribute('href')).join(',')`)
	local := repairDay(2, 20).Format("2 Jan") // 12:00 UTC is 20:00 in Shanghai
	if !strings.Contains(got, fmt.Sprintf("|⚠ Fault alert #%d|Hongpailou centre|84 h|24 h|/app/alerts/%d", stuck, stuck)) ||
		!strings.Contains(got, "20:00") || !strings.Contains(got, strings.Fields(local)[0]) {
		t.Errorf("rp-1's repairs = %q; want one of 84 h from fault alert %d on %s 20:00 (Shanghai), 24 h redirected", got, stuck, local)
	}

	zh := f.browser(testsrv.BrowserOptions{Language: "zh-CN", Width: 360, Height: 740})
	f.signIn(zh, fleetA)
	f.do(zh, "the repairs page in Chinese on a phone", 20*time.Second, chromedp.Navigate(f.base+"/app/repairs"),
		chromedp.WaitVisible(chromedp.CSS(".repairs-table tbody tr")))
	if got := eval[string](t, zh, `document.querySelector('.repairs-page h1').textContent + '|' +
		document.querySelector('.repairs-table td[data-col=median]').textContent.trim()`); got != "维修周转|24 小时" {
		t.Errorf("in Chinese: %q; want 维修周转|24 小时", got)
	}
	if w := eval[string](t, zh, `document.documentElement.scrollWidth + ' ' + window.innerWidth + ' ' + document.body.scrollWidth`); w != "360 360 360" {
		t.Errorf("at 360 px the repairs page is %s wide (scrollWidth, innerWidth, body); want no sideways scroll", w)
	}
	f.do(zh, "rp-1's page on a phone", 20*time.Second, chromedp.Navigate(f.base+"/app/devices/"+repairA),
		chromedp.WaitVisible(chromedp.CSS(".device-repairs tbody tr")))
	if w := eval[string](t, zh, `document.documentElement.scrollWidth + ' ' + window.innerWidth`); w != "360 360" {
		t.Errorf("at 360 px the device page is %s wide; want no sideways scroll", w)
	}
}

// TestScreenshotsRepairs writes the repairs page and a repaired device's page into
// $VITALWATCH_SCREENSHOTS (make screenshots).
func TestScreenshotsRepairs(t *testing.T) {
	dir := os.Getenv("VITALWATCH_SCREENSHOTS")
	if dir == "" {
		t.Skip("VITALWATCH_SCREENSHOTS is not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := startRepairsFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, fleetA)
	f.do(ctx, "the repairs page", 20*time.Second, chromedp.Navigate(f.base+"/app/repairs"),
		chromedp.WaitVisible(chromedp.CSS(".repairs-table tbody tr")), chromedp.Sleep(400*time.Millisecond))
	shoot(t, ctx, filepath.Join(dir, "repairs.png"))
	f.do(ctx, "rp-1's page", 20*time.Second, chromedp.Navigate(f.base+"/app/devices/"+repairA),
		chromedp.WaitVisible(chromedp.CSS(".device-repairs tbody tr")), chromedp.Sleep(400*time.Millisecond))
	shoot(t, ctx, filepath.Join(dir, "device-repairs.png"))
	phone := f.browser(testsrv.BrowserOptions{Language: "zh-CN", Width: 360, Height: 740})
	f.signIn(phone, fleetA)
	f.do(phone, "the repairs page on a phone", 20*time.Second, chromedp.Navigate(f.base+"/app/repairs"),
		chromedp.WaitVisible(chromedp.CSS(".repairs-table tbody tr")), chromedp.Sleep(400*time.Millisecond))
	shoot(t, phone, filepath.Join(dir, "repairs-360-zh.png"))
}
