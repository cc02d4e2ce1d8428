package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// rowOf is the selector of an alert's row in the inbox.
func rowOf(id int64) string { return fmt.Sprintf(`.alert-row[data-id="%d"]`, id) }

// A reading published over MQTT raises an alert that appears in an open inbox within two
// seconds, without a reload, marked as new and ahead of the warning (an urgent SpO2 is worse).
func TestLiveAlertAppearsWithoutReload(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, doctorA)
	f.waitJS(ctx, "the live feed", `document.querySelector('.feed-open') !== null`, 10*time.Second)
	eval[bool](t, ctx, `window.vwNoReload = true`)
	before := eval[int](t, ctx, `document.querySelectorAll('.alert-row').length`)
	if before != 1 {
		t.Fatalf("dr-a's inbox has %d rows before; want 1", before)
	}
	f.publish(oximeter, fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":88,"unit":"%%"}]}`, time.Now().UnixMilli()))
	published := time.Now()
	f.waitJS(ctx, "the new alert", `[...document.querySelectorAll('.alert-row')].some(r => r.getAttribute('aria-label').includes('Low SpO2'))`, 2*time.Second)
	t.Logf("the alert showed %v after the publish was acknowledged", time.Since(published).Round(time.Millisecond))
	got := eval[string](t, ctx, `window.vwNoReload + '|' + [...document.querySelectorAll('.alert-row')].map(r =>
		r.getAttribute('aria-label') + (r.classList.contains('is-fresh') ? ' (new)' : '')).join('; ') + '|' +
		document.getElementById('vw-announce').textContent`)
	// Both urgent, of the same patient: the older first.
	want := "true|Urgent, Very low glucose, Patient P-1; Urgent, Low SpO2, Patient P-1 (new)|New Urgent alert: Low SpO2, Patient P-1"
	if got != want {
		t.Errorf("inbox after the reading:\n got %q\nwant %q", got, want)
	}
	row := eval[string](t, ctx, `[...document.querySelectorAll('.alert-row')][1].innerText`)
	for _, s := range []string{"SpO2 88 %", "measured", "open for", "left of the 10 min response target"} {
		if !strings.Contains(row, s) {
			t.Errorf("the new row says %q; want it to say %q", row, s)
		}
	}
}

// Acknowledging in one browser takes the alert off the open inbox of a second browser, open
// at the same time, without a reload; the acknowledged tab then lists it with who did it.
func TestAcknowledgeUpdatesAnotherBrowser(t *testing.T) {
	f := startFixture(t)
	one, two := f.browser(testsrv.BrowserOptions{}), f.browser(testsrv.BrowserOptions{})
	f.signIn(one, doctorA)
	f.signIn(two, doctorA)
	f.waitJS(two, "the live feed", `document.querySelector('.feed-open') !== null`, 10*time.Second)
	id := f.alerts["glucose"]
	f.do(one, "acknowledge with a note", 10*time.Second,
		steadyClick(rowOf(id)+" .row-actions button"),
		chromedp.WaitVisible(chromedp.CSS(rowOf(id)+" .action-form input[name=note]")),
		chromedp.SendKeys(chromedp.CSS(rowOf(id)+" .action-form input[name=note]"), "called the patient"),
		steadyClick(rowOf(id)+" .action-form button[type=submit]"),
		chromedp.WaitNotPresent(chromedp.CSS(rowOf(id))),
	)
	f.waitJS(two, "the other browser", `document.querySelector('`+rowOf(id)+`') === null`, 5*time.Second)
	if empty := eval[string](t, two, `document.querySelector('.empty').textContent`); empty != "No open alerts." {
		t.Errorf("the second inbox says %q", empty)
	}
	f.do(two, "the acknowledged tab", 10*time.Second,
		steadyClick(`.tabs button:nth-child(2)`),
		chromedp.WaitVisible(chromedp.CSS(rowOf(id))),
	)
	if txt := eval[string](t, two, `document.querySelector('`+rowOf(id)+`').innerText`); !strings.Contains(txt, "acknowledged by user:"+f.users[doctorA]) {
		t.Errorf("acknowledged row says %q", txt)
	}
	var detail struct {
		State           string
		AcknowledgeNote string `json:"acknowledge_note"`
	}
	f.apiAs(adminUser, "GET", fmt.Sprintf("/alerts/%d", id), "", &detail)
	if detail.State != "acknowledged" || detail.AcknowledgeNote != "called the patient" {
		t.Errorf("the alert is %+v; want acknowledged with the note", detail)
	}
}

// Keys alone acknowledge an alert: j to the first row, a for the form, Enter to send it.
func TestKeyboardAcknowledge(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, fleetA)
	id := f.alerts["battery"]
	f.do(ctx, "j, a, Enter", 10*time.Second,
		chromedp.KeyEvent("j"),
		chromedp.Poll[chromedp.Void](`document.activeElement.matches('`+rowOf(id)+`')`),
		chromedp.KeyEvent("a"),
		chromedp.Poll[chromedp.Void](`document.activeElement.matches('`+rowOf(id)+` input[name=note]')`),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotPresent(chromedp.CSS(rowOf(id))),
	)
	var a struct{ State string }
	f.apiAs(adminUser, "GET", fmt.Sprintf("/alerts/%d", id), "", &a)
	if a.State != "acknowledged" {
		t.Errorf("after j, a, Enter the alert is %q; want acknowledged", a.State)
	}
	// ? shows the keys.
	f.do(ctx, "help", 5*time.Second, chromedp.KeyEvent("?"), chromedp.WaitVisible(chromedp.CSS("#inbox-help")))
}

// A resolve without a note on a clinical alert shows the API's error under the note; a snooze
// with a bad duration shows it under the duration and keeps the reason typed.
func TestFormErrorsNextToTheirField(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, doctorA)
	id := f.alerts["glucose"]
	row := rowOf(id)
	f.do(ctx, "resolve without a note", 10*time.Second,
		steadyClick(row+" .row-actions button:nth-child(2)"),
		chromedp.WaitVisible(chromedp.CSS(row+" .action-form[data-kind=resolve] input[name=note]")),
		steadyClick(row+" .action-form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(row+" .field-error")),
	)
	got := eval[string](t, ctx, `(() => { const e = document.querySelector('`+row+` .field-error');
		const input = e.closest('.field').querySelector('input');
		return input.name + '|' + input.getAttribute('aria-invalid') + '|' + input.getAttribute('aria-describedby').includes(e.id) + '|' + e.textContent.trim() })()`)
	if got != "note|true|true|⚠ note: required to resolve a clinical alert" {
		t.Errorf("resolve without a note: %q", got)
	}
	f.do(ctx, "snooze with a bad duration", 10*time.Second,
		steadyClick(row+" .row-actions button:nth-child(3)"),
		chromedp.WaitVisible(chromedp.CSS(row+" .action-form[data-kind=snooze] input[name=reason]")),
		chromedp.SendKeys(chromedp.CSS(row+" .action-form input[name=reason]"), "in hospital until Friday"),
		chromedp.SendKeys(chromedp.CSS(row+" .action-form input[name=for]"), "three days"),
		steadyClick(row+" .action-form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(row+" .field-error")),
	)
	got = eval[string](t, ctx, `(() => { const e = document.querySelector('`+row+` .field-error');
		return e.closest('.field').querySelector('input').name + '|' + e.textContent.trim() + '|' +
		document.querySelector('`+row+` input[name=reason]').value + '|' + document.querySelector('`+row+` input[name=for]').value })()`)
	if got != `for|⚠ for: "three days" is not a positive duration such as "72h"|in hospital until Friday|three days` {
		t.Errorf("snooze with a bad duration: %q", got)
	}
	// Put right, it goes through: the patient is silenced and the form closes.
	f.do(ctx, "snooze for 72h", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+row+` .action-form input[name=for]').value = ''`),
		chromedp.SendKeys(chromedp.CSS(row+" .action-form input[name=for]"), "72h"),
		steadyClick(row+" .action-form button[type=submit]"),
		chromedp.WaitNotPresent(chromedp.CSS(row+" .action-form")),
	)
	var silences struct {
		Items []struct{ Subject, Reason string }
	}
	f.apiAs(doctorA, "GET", "/silences", "", &silences)
	if len(silences.Items) != 1 || silences.Items[0].Subject != "patient/"+patientA || silences.Items[0].Reason != "in hospital until Friday" {
		t.Errorf("silences = %+v; want P-1's, with the reason typed", silences.Items)
	}
}

// A browser whose language is Chinese gets the app in Chinese, from the sign-in page on.
func TestChineseBrowser(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{Language: "zh-CN"})
	f.do(ctx, "the sign-in page", 10*time.Second,
		chromedp.Navigate(f.base+"/app/signin"),
		chromedp.WaitVisible(chromedp.CSS("#signin-username")),
	)
	if got := eval[string](t, ctx, `document.documentElement.lang + '|' + document.querySelector('h1').textContent + '|' + document.title`); got != "zh-CN|登录|登录 – VitalWatch 健康监测" {
		t.Errorf("sign-in page: %q", got)
	}
	f.signIn(ctx, doctorA)
	got := eval[string](t, ctx, `document.querySelector('h1').textContent + '|' + document.querySelector('.alert-row').getAttribute('aria-label') + '|' +
		document.querySelector('.main-nav').innerText.replace(/\s+/g, ' ')`)
	if got != "告警收件箱|紧急, 严重低血糖, 患者 P-1|收件箱 患者" {
		t.Errorf("inbox in Chinese: %q", got)
	}
	// The switch in the header goes back to English, and stays so.
	f.do(ctx, "switch to English", 10*time.Second, chromedp.SetValue(chromedp.CSS(".lang-switch select"), "en"))
	f.waitReload(ctx, "English after the switch", `document.documentElement.lang === 'en' && document.querySelector('.inbox h1')?.textContent === 'Inbox'`)
	f.do(ctx, "reload", 10*time.Second, chromedp.Reload())
	f.waitReload(ctx, "English after a reload", `document.documentElement.lang === 'en' && document.querySelector('.inbox h1')?.textContent === 'Inbox'`)
}

// At 360 px wide the inbox, with a form open, has no horizontal scroll.
func TestNarrowScreen(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740})
	f.signIn(ctx, adminUser)
	id := f.alerts["glucose"]
	f.do(ctx, "open the snooze form", 10*time.Second,
		steadyClick(rowOf(id)+" .row-actions button:nth-child(3)"),
		chromedp.WaitVisible(chromedp.CSS(rowOf(id)+" .action-form")),
	)
	got := eval[[]int](t, ctx, `[document.documentElement.scrollWidth, document.documentElement.clientWidth, document.querySelectorAll('.alert-row').length]`)
	if got[0] > got[1] {
		t.Logf("too wide: %v", eval[[]string](t, ctx, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 361).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 15)`))
	}
	if got[1] != 360 || got[0] > got[1] || got[2] != 4 {
		t.Errorf("scroll width %d, client width %d, rows %d; want no wider than 360 with 4 rows", got[0], got[1], got[2])
	}
}
