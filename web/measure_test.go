package web_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// TestMeasureInbox measures the inbox of a doctor with 500 open alerts (100 patients, 5 rules
// each) in headless Chromium, VITALWATCH_WEB_MEASURE times, each in a new browser (empty
// cache): the time from the start of the navigation to the first render of the list with its
// data (the performance mark vw:inbox-rendered), and the bytes the page loaded (the shell, our
// JavaScript and CSS, the vendored lit-html). It prints the median; it asserts only that every
// row is there. The cache is empty: a person's first visit. Without VITALWATCH_WEB_MEASURE it does nothing:
//
//	VITALWATCH_WEB_MEASURE=7 VITALWATCH_INFLUXD=$PWD/.tools/bin/influxd go test -count=1 -v -run TestMeasureInbox ./web/
func TestMeasureInbox(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("VITALWATCH_WEB_MEASURE"))
	if runs <= 0 {
		t.Skip("VITALWATCH_WEB_MEASURE is not set")
	}
	rules := []struct {
		id  string
		sev alerts.Severity
	}{{"glucose_low", alerts.Warning}, {"glucose_very_high", alerts.Urgent}, {"spo2_low", alerts.Urgent}, {"heart_rate", alerts.Warning}, {"bp_crisis", alerts.Critical}}
	var seeds []seedAlert
	now := time.Now().UTC()
	for p := range 100 {
		for i, r := range rules {
			patient := fmt.Sprintf("B-%03d", p)
			seeds = append(seeds, seedAlert{fmt.Sprintf("b%d-%d", p, i), alerts.Finding{Rule: r.id, RuleVersion: 1, Category: alerts.Clinical,
				Severity: r.sev, Subject: alerts.Subject{Kind: "patient", ID: patient}, Patient: patient, Device: "dev-" + patient, Team: teamA,
				At: now.Add(-time.Duration(p*5+i) * time.Minute), Value: "value " + strconv.Itoa(p)}})
		}
	}
	f := startFixture(t, seeds...)
	var ms []float64
	var bytes []int
	for range runs {
		// Signed in from a page of the origin that loads none of the app, so that the inbox's
		// files come with an empty cache.
		ctx := f.browser(testsrv.BrowserOptions{})
		f.do(ctx, "sign in", 30*time.Second, chromedp.Navigate(f.base+"/healthz"))
		if got := eval[int](t, ctx, fmt.Sprintf(`fetch('/api/v1/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
			body: JSON.stringify({username: %q, password: %q})}).then(r => r.status)`, doctorA, password)); got != 200 {
			t.Fatalf("sign-in = %d", got)
		}
		f.do(ctx, "open the inbox", 30*time.Second, chromedp.Navigate(f.base+"/app/inbox"),
			chromedp.Poll[chromedp.Void](`performance.getEntriesByName('vw:inbox-rendered').length > 0`))
		rows := eval[int](t, ctx, `document.querySelectorAll('.alert-row').length`)
		if rows != 501 {
			t.Fatalf("the inbox has %d rows; want 501", rows)
		}
		ms = append(ms, eval[float64](t, ctx, `performance.getEntriesByName('vw:inbox-rendered')[0].startTime`))
		// The shell plus every script, style sheet and library, as decoded; the API's answers not.
		bytes = append(bytes, eval[int](t, ctx, `performance.getEntriesByType('navigation')[0].decodedBodySize +
			performance.getEntriesByType('resource').filter(e => !e.name.includes('/api/')).reduce((n, e) => n + e.decodedBodySize, 0)`))
		if len(bytes) == 1 {
			t.Logf("files: %v", eval[[]string](t, ctx, `performance.getEntriesByType('resource').filter(e => !e.name.includes('/api/')).map(e => new URL(e.name).pathname + ' ' + e.decodedBodySize)`))
		}
	}
	sorted := slices.Sorted(slices.Values(ms))
	t.Logf("inbox with 501 open alerts, %d runs: first render %v ms (median %.0f ms); page weight %v bytes", runs, ms, sorted[len(sorted)/2], bytes)
}
