package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// seedGrowth adds to the fixture's store, at site-1: three clinic BP cuffs (station mode,
// rated 1 use a day, in service for four months) each used twice a day, so that with the
// fixture's home cuff cuff-9 the centre has 4 cuffs, a demand of 6 a day, and is short (150%);
// and team-1's patients on a hypertension plan, 10 of them created 13 months ago (their audit
// entries backdated, as the growth counts replay the audit log) and 5 created now: +50%. At
// the 75% target, a demand of 6 x 1.5 = 9 a day needs 12 cuffs: 8 more. It then runs the growth check, as serve does a
// minute after start, so that the notice is in the store when serve starts.
func seedGrowth(t *testing.T, dataDir string, now time.Time) {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "test")
	path := filepath.Join(dataDir, config.DBFile)
	st, err := store.Open(ctx, path)
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
	loc, err := time.LoadLocation("Asia/Shanghai")
	must(err)
	local := now.In(loc)
	start := time.Date(local.Year(), local.Month()-4, 1, 0, 0, 0, 0, loc)
	var devs []devices.Device
	var uses []usage.Use
	for i := range 3 {
		id := fmt.Sprintf("clinic-cuff-%d", i)
		devs = append(devs, devices.Device{ID: id, Kind: devices.BPCuff, SiteID: siteA, Mode: devices.StationMode, Status: devices.Active,
			RatedUsesPerDay: 1, InService: start, SecretHash: devices.HashSecret(devices.NewSecret())})
		for day := start; day.Before(time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)); day = day.AddDate(0, 0, 1) {
			for u := range 2 {
				at := day.Add(9*time.Hour + time.Duration(2*i+u)*time.Minute)
				uses = append(uses, usage.Use{Device: id, Site: siteA, At: at, Day: usage.DayOf(at, loc)})
			}
		}
	}
	must(st.CreateDevices(ctx, devs))
	_, err = st.RecordUses(ctx, uses)
	must(err)
	var ps []devices.Patient
	for i := range 15 {
		age := "new"
		if i < 10 {
			age = "old"
		}
		ps = append(ps, devices.Patient{ID: fmt.Sprintf("G-%s-%d", age, i), TeamID: teamA, Plans: []string{"Hypertension: BP daily"}})
	}
	must(st.CreatePatients(ctx, ps))
	db, err := sql.Open("sqlite", path)
	must(err)
	defer db.Close()
	res, err := db.ExecContext(ctx, `UPDATE audit_log SET at_ms = ? WHERE action = 'patient.create' AND subject LIKE 'patient/G-old-%'`,
		now.AddDate(0, -13, 0).UnixMilli())
	must(err)
	if n, _ := res.RowsAffected(); n != 10 {
		t.Fatalf("backdated %d patients' creation; want 10", n)
	}

	reports, err := fleet.New(fleet.Deps{Store: st, Moves: st, Patients: st, Directory: st.LoadDirectory, Now: time.Now},
		reallocation.DefaultThresholds())
	must(err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := fleet.NewGrowthNotices(reports, st, alerts.NewLifecycle(st, nil, log), fleet.GrowthRule{Enabled: true, Severity: alerts.Info, Version: 1}, log)
	changes, err := g.Check(ctx)
	must(err)
	if len(changes) != 1 || changes[0].Alert.Site != siteA || changes[0].Alert.LastValue != "hypertension 10→15 +50%: bp_cuff +8" {
		t.Fatalf("growth check = %+v; want the notice of site-1, hypertension 10→15 +50%%: bp_cuff +8", changes)
	}
}

// noticeID is the id of the growth notice, as the admin lists it.
func (f *fixture) noticeID(t *testing.T) int64 {
	t.Helper()
	var page struct{ Items []struct{ ID int64 } }
	if code := f.apiAs(adminUser, "GET", "/alerts?rule=centre_growth", "", &page); code != 200 || len(page.Items) != 1 {
		t.Fatalf("GET /alerts?rule=centre_growth = %d, %+v; want one notice", code, page)
	}
	return page.Items[0].ID
}

// A fleet manager sees the growth flag of their centre on the utilisation page and on the map,
// with its numbers, and the notice in the inbox, in English and in Chinese; a doctor of the
// centre's team does not see the notice.
func TestGrowthFlagAndNotice(t *testing.T) {
	f := startFixtureWith(t, func(dataDir string) []string {
		seedGrowth(t, dataDir, time.Now())
		return nil
	})
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, fleetA)
	// The inbox: the notice, its rule and its subject, the centre, in words.
	f.waitJS(ctx, "the notice in the inbox", `[...document.querySelectorAll('.alert-row')].some(r => r.getAttribute('aria-label') === 'Info, Growth of patients on a care plan, Centre Hongpailou centre')`, 10*time.Second)
	const value = "Growing: hypertension, 10 → 15 patients (+50%): needs 8 more BP cuff"
	if text := pageText(ctx); !strings.Contains(text, value) || !strings.Contains(text, "Centre Hongpailou centre") {
		t.Errorf("the inbox does not show the notice's figures in words (%q) under its centre:\n%s", value, text)
	}
	// A site cannot be snoozed: the notice offers acknowledge and resolve only, the fault beside it snooze too.
	if got := eval[[]string](t, ctx, `[...document.querySelectorAll('.alert-row')].map(r => r.getAttribute('aria-label').split(', ')[1] + ': ' + [...r.querySelectorAll('button')].map(b => b.innerText.trim()).join('/'))`); fmt.Sprint(got) != fmt.Sprint([]string{"Low battery: Acknowledge/Resolve/Snooze", "Growth of patients on a care plan: Acknowledge/Resolve"}) {
		t.Errorf("the rows' actions = %q", got)
	}
	// Its page: the same words, the centre as its subject.
	f.do(ctx, "the notice's page", 20*time.Second, chromedp.Navigate(fmt.Sprintf("%s/app/alerts/%d", f.base, f.noticeID(t))),
		chromedp.WaitVisible(chromedp.CSS("h1")))
	f.waitJS(ctx, "the notice's page", `document.body.innerText.includes('Growth of patients on a care plan · Centre Hongpailou centre')`, 10*time.Second)
	if text := pageText(ctx); !strings.Contains(text, value) {
		t.Errorf("the notice's page does not show its figures in words:\n%s", text)
	}

	// The utilisation page: the growth table's row for site-1.
	f.do(ctx, "utilisation", 20*time.Second, chromedp.Navigate(f.base+"/app/utilisation"),
		chromedp.WaitVisible(chromedp.CSS(`.growth-table tr[data-site="site-1"][data-plan="hypertension"]`)))
	row := eval[string](t, ctx, `document.querySelector('.growth-table tr[data-site="site-1"]').innerText.replace(/\s+/g, ' ').trim()`)
	if want := "Hongpailou centre ↗ hypertension 10 → 15 +50% needs 8 more BP cuff"; row != want {
		t.Errorf("growth row = %q; want %q", row, want)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('.growth-table tbody tr').length`); n != 1 {
		t.Errorf("%d growth rows; want 1 (site-1's hypertension)", n)
	}

	// The map's table of centres: the flag beside site-1's verdicts.
	f.do(ctx, "map", 20*time.Second, chromedp.Navigate(f.base+"/app/map"),
		chromedp.WaitVisible(chromedp.CSS(`.centre-table tr[data-site="site-1"] .growth-flag`)))
	flag := eval[string](t, ctx, `document.querySelector('.centre-table tr[data-site="site-1"] .growth-flag').innerText.replace(/\s+/g, ' ').trim()`)
	if want := "↗ Growing: hypertension, 10 → 15 patients (+50%): needs 8 more BP cuff"; flag != want {
		t.Errorf("map flag = %q; want %q", flag, want)
	}

	// The plan's short centres: site-1's cuffs, with the flag.
	f.do(ctx, "plan", 20*time.Second, chromedp.Navigate(f.base+"/app/plan"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-site="site-1"][data-type="bp_cuff"] .growth-flag`)))
	flag = eval[string](t, ctx, `document.querySelector('tr[data-site="site-1"][data-type="bp_cuff"] .growth-flag').innerText.replace(/\s+/g, ' ').trim()`)
	if want := "↗ Growing: hypertension, 10 → 15 patients (+50%): needs 8 more BP cuff"; flag != want {
		t.Errorf("plan flag = %q; want %q", flag, want)
	}

	// In Chinese, at 360 px.
	zh := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740, Language: "zh-CN"})
	f.signIn(zh, fleetA)
	f.waitJS(zh, "the notice in Chinese", `[...document.querySelectorAll('.alert-row')].some(r => r.getAttribute('aria-label').includes('中心慢病管理患者增长') && r.getAttribute('aria-label').includes('中心 Hongpailou centre'))`, 10*time.Second)
	f.do(zh, "utilisation in Chinese", 20*time.Second, chromedp.Navigate(f.base+"/app/utilisation"),
		chromedp.WaitVisible(chromedp.CSS(`.growth-table tr[data-site="site-1"]`)))
	row = eval[string](t, zh, `document.querySelector('.growth-table tr[data-site="site-1"]').innerText.replace(/\s+/g, ' ').trim()`)
	if !strings.Contains(row, "高血压") || !strings.Contains(row, "10 → 15") || !strings.Contains(row, "还需 8 台血压计") {
		t.Errorf("growth row in Chinese = %q; want 高血压, 10 → 15, 还需 8 台血压计", row)
	}
	if wide := eval[bool](t, zh, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
		t.Error("the utilisation page scrolls sideways at 360 px")
	}

	// A doctor of the centre's team does not see it.
	doc := f.browser(testsrv.BrowserOptions{})
	f.signIn(doc, doctorA)
	rows := strings.Join(eval[[]string](t, doc, rowRules), "\n")
	if !strings.Contains(rows, "Patient P-1") {
		t.Errorf("the doctor's inbox does not show their team's alert: %s", rows)
	}
	if strings.Contains(rows, "Growth of patients") || strings.Contains(rows, "Centre") {
		t.Errorf("the doctor's inbox shows the notice: %s", rows)
	}
}

// TestScreenshotsGrowth writes, with make screenshots, the utilisation page with a centre's
// growth flag (growth.png) and the growth notice in the fleet manager's inbox in Chinese on a
// phone (growth-inbox-360-zh.png).
func TestScreenshotsGrowth(t *testing.T) {
	dir := os.Getenv("VITALWATCH_SCREENSHOTS")
	if dir == "" {
		t.Skip("VITALWATCH_SCREENSHOTS is not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := startFixtureWith(t, func(dataDir string) []string {
		seedGrowth(t, dataDir, time.Now())
		return nil
	})
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, fleetA)
	f.do(ctx, "utilisation", 20*time.Second, chromedp.Navigate(f.base+"/app/utilisation?type=bp_cuff"),
		chromedp.WaitVisible(chromedp.CSS(`.growth-table tr[data-site="site-1"]`)))
	time.Sleep(400 * time.Millisecond) // let the last frame paint
	shoot(t, ctx, filepath.Join(dir, "growth.png"))
	zh := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740, Language: "zh-CN"})
	f.signIn(zh, fleetA)
	f.waitJS(zh, "the notice", `document.querySelector('.alert-row') !== null`, 10*time.Second)
	time.Sleep(400 * time.Millisecond)
	shoot(t, zh, filepath.Join(dir, "growth-inbox-360-zh.png"))
}
