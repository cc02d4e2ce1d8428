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
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// spo2Episode is an alert with evidence in InfluxDB: three low SpO2 readings of P-1's oximeter (93 is low, then 90 and 88 very low), each recorded with it.
func (f *fixture) spo2Episode(t *testing.T, ctx context.Context) int64 {
	t.Helper()
	now := time.Now()
	for i, v := range []int{93, 90, 88} {
		f.publish(oximeter, fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":%d,"unit":"%%"}]}`, now.Add(time.Duration(i-3)*time.Minute).UnixMilli(), v))
	}
	var page struct{ Items []struct{ ID int64 } }
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		f.apiAs(adminUser, "GET", "/alerts?rule=spo2_low", "", &page)
		if len(page.Items) == 1 || time.Now().After(deadline) {
			break
		}
	}
	if len(page.Items) != 1 {
		t.Fatalf("spo2_low alerts: %+v; want one", page.Items)
	}
	return page.Items[0].ID
}

// The alert page draws the evidence with the rule's thresholds, lists the thresholds, the
// history and the escalation path.
func TestAlertPage(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, doctorA)
	id := f.spo2Episode(t, ctx)
	f.do(ctx, "the alert page", 20*time.Second,
		steadyClick(fmt.Sprintf(`.alert-row[data-id="%d"] .alert-title a`, id)),
		chromedp.WaitVisible(chromedp.CSS(".alert-page .chart canvas")),
	)
	// Readings as InfluxDB has them, the thresholds drawn as series of the chart.
	f.waitJS(ctx, "the evidence from InfluxDB", `document.querySelectorAll('[aria-labelledby=evidence-title] .data-table tbody tr').length >= 3`, 10*time.Second)
	got := eval[string](t, ctx, `[...document.querySelectorAll('.u-legend .u-series th')].map(e => e.innerText.trim()).filter(Boolean).join(',')`)
	if got != "Time,SpO2,very_low_at_or_below 92,low_at_or_below 94" {
		t.Errorf("chart series %q; want the readings and both thresholds", got)
	}
	page := eval[string](t, ctx, `document.querySelector('.alert-page').innerText`)
	for _, s := range []string{"Low SpO2 · Patient P-1", "Rules version\n1", "very_low_at_or_below\t92 %", "low_at_or_below\t94 %",
		"Raised", "Team lead: " + f.users[doctorA], "On call 1: " + f.users[doctorA], "Asia/Shanghai"} {
		if !strings.Contains(page, s) {
			t.Errorf("the alert page lacks %q:\n%s", s, page)
		}
	}
	table := eval[string](t, ctx, `[...document.querySelectorAll('[aria-labelledby=evidence-title] .data-table tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim()).slice(1).join('|')).join('\n')`)
	if want := "SpO2|93 %|ox-1|recorded with the alert|\nSpO2|90 %|ox-1|recorded with the alert|\nSpO2|88 %|ox-1|recorded with the alert|"; table != want {
		t.Errorf("evidence table:\n%q\nwant\n%q", table, want)
	}
	// Acknowledged from the page, the history says who and with what note.
	f.do(ctx, "acknowledge", 10*time.Second,
		steadyClick(".alert-page .row-actions button"),
		chromedp.SendKeys(chromedp.CSS(".alert-page .action-form input[name=note]"), "rang P-1"),
		steadyClick(".alert-page .action-form button[type=submit]"),
		chromedp.Poll[chromedp.Void](`document.querySelector('.history').innerText.includes('Note: rang P-1')`),
	)
	if h := eval[string](t, ctx, `document.querySelector('.history').innerText`); !strings.Contains(h, "Acknowledged") || !strings.Contains(h, "you") {
		t.Errorf("history %q; want the acknowledgement by you", h)
	}
}

// TestScreenshots writes PNGs of the main pages into the folder VITALWATCH_SCREENSHOTS names
// (make screenshots: docs/screenshots). Without it, it does nothing.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("VITALWATCH_SCREENSHOTS")
	if dir == "" {
		t.Skip("VITALWATCH_SCREENSHOTS is not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-40 * time.Minute).UTC()
	f := startFixture(t, seedAlert{"bp", alerts.Finding{Rule: "bp_crisis", RuleVersion: 1, Category: alerts.Clinical, Severity: alerts.Critical,
		Subject: alerts.Subject{Kind: "patient", ID: patientA}, Patient: patientA, Device: "cuff-1", Team: teamA, At: now,
		Value: "186/122 mm[Hg]", Thresholds: map[string]float64{"systolic_at_or_above": 180, "diastolic_at_or_above": 120, "retest_window": 900}}},
		seedAlert{"late", alerts.Finding{Rule: "fever", RuleVersion: 1, Category: alerts.Clinical, Severity: alerts.Info, Late: true,
			Subject: alerts.Subject{Kind: "patient", ID: patientA}, Patient: patientA, Device: "thermo-1", Team: teamA, At: now.Add(-3 * time.Hour),
			Value: "38.4 Cel"}})
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
	f.do(desk, "sign-in page", 10*time.Second, chromedp.Navigate(f.base+"/app/signin"), chromedp.WaitVisible(chromedp.CSS("#signin-username")))
	shoot(desk, "signin.png")
	f.signIn(desk, doctorA)
	id := f.spo2Episode(t, desk)
	f.waitJS(desk, "the live alert", fmt.Sprintf(`document.querySelector('.alert-row[data-id="%d"]') !== null`, id), 5*time.Second)
	f.do(desk, "open the quiet alerts", 5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('.quiet-section').open = true`))
	shoot(desk, "inbox.png")
	f.do(desk, "the alert page", 20*time.Second, chromedp.Navigate(fmt.Sprintf("%s/app/alerts/%d", f.base, id)),
		chromedp.WaitVisible(chromedp.CSS(".alert-page .chart canvas")))
	f.waitJS(desk, "the evidence", `document.querySelectorAll('[aria-labelledby=evidence-title] .data-table tbody tr').length >= 3`, 10*time.Second)
	shoot(desk, "alert.png")
	phone := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740, Language: "zh-CN"})
	f.signIn(phone, doctorA)
	shoot(phone, "inbox-360-zh.png")
}
