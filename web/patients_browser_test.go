package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// The patient list and the patient's page in Chromium, on the fixture's serve with a CGM and a
// home cuff lent to P-1 whose readings are published over MQTT as the devices would send them
// (a backlog with each reading's own time): 5-minute CGM glucose from the local midnight days+1
// days ago until now, and morning and evening home blood pressure for the last 9 days.

const (
	cgmDevice  = "cgm-7"
	homeCuff   = "cuff-7"
	homeMeter  = "meter-7"
	shanghai   = "Asia/Shanghai" // the fixture's sites' time zone
	cgmPerMsg  = 800             // readings per message: under the device contract's 1000 and 64 KiB
	bpMorning  = 7               // local hours of the home readings
	bpEvening  = 20
	extraTeamA = "P-10" // more patients of team-1, for the list's search
	extraTeamB = "P-11"
)

// summaryOf is the part of GET /patients/{id}/summary these tests compare with the page.
type summaryOf struct {
	CGM struct {
		Readings int `json:"readings"`
		Bands    []struct {
			Band    string  `json:"band"`
			Percent float64 `json:"percent"`
		} `json:"bands"`
		GMI float64 `json:"gmi_percent"`
		AGP struct {
			Reportable bool `json:"reportable"`
		} `json:"agp"`
	} `json:"cgm"`
	HomeBP struct {
		Readings int `json:"readings"`
		Days     int `json:"days"`
		Mean     struct {
			Systolic  float64 `json:"systolic"`
			Diastolic float64 `json:"diastolic"`
		} `json:"mean"`
	} `json:"home_bp"`
}

// cgmValue is a day of a type 2 diabetic on a CGM, in mmol/L: a slow daily wave, three meals
// that differ by day, a nocturnal low every fourth day and a high evening every fifth.
func cgmValue(day, minute int) float64 {
	h := float64(minute) / 60
	v := 7 + 1.2*math.Sin((h-9)/24*2*math.Pi)
	for i, meal := range []float64{7.5, 12.5, 18.5} {
		if d := h - meal; d > 0 && d < 4 {
			v += (4 + 1.5*float64((day+i)%3)) * d * math.Exp(1-d*1.6)
		}
	}
	if day%4 == 0 && h > 2 && h < 4 {
		v -= 4.6 * math.Sin((h-2)/2*math.Pi)
	}
	if day%5 == 0 && h > 19 && h < 23 {
		v += 6 * math.Sin((h-19)/4*math.Pi)
	}
	return math.Round(math.Max(2.2, v)*10) / 10
}

// seedPatientData lends a CGM and a cuff to P-1 and publishes days+1 days of CGM and 9 days of
// home BP, then waits until the summary of the last days whole days counts them all. It also
// gives P-1 care plans and adds two patients for the list.
func (f *fixture) seedPatientData(days int) summaryOf {
	f.t.Helper()
	loc, err := time.LoadLocation(shanghai)
	if err != nil {
		f.t.Fatal(err)
	}
	now := time.Now()
	y, m, d := now.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	start := today.AddDate(0, 0, -days-1)
	for _, dev := range []struct{ id, kind string }{{cgmDevice, "cgm"}, {homeCuff, "bp_cuff"}, {homeMeter, "glucose_meter"}} {
		var created struct{ Secret string }
		if code := f.apiAs(adminUser, "POST", "/devices", fmt.Sprintf(`{"id":%q,"kind":%q,"site":%q,"mode":"home"}`, dev.id, dev.kind, siteA), &created); code != 201 {
			f.t.Fatalf("create %s = %d", dev.id, code)
		}
		f.secrets[dev.id] = created.Secret
		if code := f.apiAs(adminUser, "POST", "/devices/"+dev.id+"/assign", fmt.Sprintf(`{"patient":%q,"from":%q}`, patientA, start.Add(-time.Hour).Format(time.RFC3339)), nil); code != 200 {
			f.t.Fatalf("assign %s = %d", dev.id, code)
		}
	}
	if code := f.apiAs(doctorA, "PATCH", "/patients/"+patientA, `{"plans":["insulin-treated diabetes: CGM","hypertension: BP daily"],"birth_year":1958}`, nil); code != 200 {
		f.t.Fatalf("plans of P-1 = %d", code)
	}
	for _, id := range []string{extraTeamA, extraTeamB} {
		if code := f.apiAs(doctorA, "POST", "/patients", fmt.Sprintf(`{"id":%q,"team":%q,"plans":["hypertension: BP daily"]}`, id, teamA), nil); code != 201 {
			f.t.Fatalf("create %s = %d", id, code)
		}
	}
	var batch []string
	flush := func(device string) {
		if len(batch) > 0 {
			f.publish(device, `{"readings":[`+strings.Join(batch, ",")+`]}`)
			batch = batch[:0]
		}
	}
	for at, day := start, 0; at.Before(now.Add(-time.Minute)); at = at.Add(5 * time.Minute) {
		local := at.In(loc)
		if local.Hour() == 0 && local.Minute() == 0 && at != start {
			day++
		}
		batch = append(batch, fmt.Sprintf(`{"type":"glucose","value":%s,"unit":"mmol/L","ts":%d}`,
			strconv.FormatFloat(cgmValue(day, local.Hour()*60+local.Minute()), 'f', -1, 64), at.UnixMilli()))
		if len(batch) == cgmPerMsg {
			flush(cgmDevice)
		}
	}
	flush(cgmDevice)
	// Home BP: two readings each morning and evening for 9 days, higher on the first.
	for i := 9; i >= 1; i-- {
		day := today.AddDate(0, 0, -i)
		for _, hr := range []int{bpMorning, bpEvening} {
			for k := range 2 {
				sys, dia := 138+(i%3)*2-k*3, 86+(i%2)-k
				if i == 9 {
					sys, dia = sys+12, dia+6
				}
				batch = append(batch, fmt.Sprintf(`{"type":"bp","systolic":%d,"diastolic":%d,"pulse":72,"unit":"mm[Hg]","ts":%d}`,
					sys, dia, day.Add(time.Duration(hr)*time.Hour+time.Duration(k*3)*time.Minute).UnixMilli()))
			}
		}
	}
	flush(homeCuff)
	// Meter glucose: fasting and after dinner for 14 days; SpO2 and pulse from the oximeter lent
	// to P-1 a day ago, every 2 hours.
	for i := 14; i >= 1; i-- {
		day := today.AddDate(0, 0, -i)
		batch = append(batch, fmt.Sprintf(`{"type":"glucose","value":%.1f,"unit":"mmol/L","context":"fasting","source":"fingerstick","ts":%d}`,
			5.6+float64(i%4)*0.6, day.Add(6*time.Hour+45*time.Minute).UnixMilli()),
			fmt.Sprintf(`{"type":"glucose","value":%.1f,"unit":"mmol/L","context":"after_meal","source":"fingerstick","ts":%d}`,
				8.2+float64(i%5)*1.1, day.Add(20*time.Hour+30*time.Minute).UnixMilli()))
	}
	flush(homeMeter)
	for at := now.Add(-20 * time.Hour); at.Before(now); at = at.Add(2 * time.Hour) {
		k := int(at.Unix()/7200) % 4
		batch = append(batch, fmt.Sprintf(`{"type":"spo2","value":%d,"unit":"%%","ts":%d}`, 95+k%3, at.UnixMilli()),
			fmt.Sprintf(`{"type":"heart_rate","value":%d,"unit":"/min","ts":%d}`, 68+k*3, at.UnixMilli()))
	}
	flush(oximeter)
	want := days * 288
	var sum summaryOf
	path := fmt.Sprintf("/patients/%s/summary?days=%d", patientA, days)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if code := f.apiAs(doctorA, "GET", path, "", &sum); code != 200 {
			f.t.Fatalf("GET %s = %d", path, code)
		}
		if sum.CGM.Readings == want && sum.HomeBP.Readings > 0 {
			return sum
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("the summary counts %d CGM readings and %d home BP; want %d and some", sum.CGM.Readings, sum.HomeBP.Readings, want)
		}
	}
}

// openPatient opens P-1's page (with query) and waits until it has drawn its AGP.
func (f *fixture) openPatient(ctx context.Context, query string) {
	f.t.Helper()
	f.do(ctx, "open the patient", 30*time.Second,
		chromedp.Navigate(f.base+"/app/patients/"+patientA+query),
		chromedp.WaitVisible(chromedp.CSS(".patient-page[aria-busy=false] .tir-row")),
	)
	f.waitJS(ctx, "the AGP", `document.querySelector('[data-chart=agp] canvas') !== null`, 15*time.Second)
}

// inkOf counts the pixels of the AGP's canvas that are not transparent.
const inkOf = `(() => { const c = document.querySelector('[data-chart=agp] canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()`

// fmt1 is a percentage as the page writes it in English: at most one decimal.
func fmt1(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " %" }

// A doctor opens a patient with 14 days of CGM and sees the AGP drawn, the time in each range
// equal to the API's summary, the same home BP average and its days and readings, and the
// daily charts; mg/dL and the period are kept in the address.
func TestPatientPageShowsTheSummary(t *testing.T) {
	f := startFixture(t)
	sum := f.seedPatientData(14)
	if !sum.CGM.AGP.Reportable {
		t.Fatalf("the seeded CGM does not make a reportable AGP: %+v", sum.CGM)
	}
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, doctorA)
	f.openPatient(ctx, "")
	if ink := eval[int](t, ctx, inkOf); ink < 2000 {
		t.Errorf("the AGP canvas has %d pixels drawn; want a drawn profile", ink)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-chart=agp] .u-legend .u-series').length`); n != 7 {
		t.Errorf("the AGP's legend has %d series (5 percentiles, the target's two edges); want 7", n)
	}
	got := eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('.tir-row')].map(r =>
		[r.dataset.band, r.querySelector('.tir-percent').textContent.trim()]))`)
	if len(sum.CGM.Bands) != 5 {
		t.Fatalf("the summary has bands %+v", sum.CGM.Bands)
	}
	for _, b := range sum.CGM.Bands {
		if got[b.Band] != fmt1(b.Percent) {
			t.Errorf("band %s shows %q; the API says %v (%q)", b.Band, got[b.Band], b.Percent, fmt1(b.Percent))
		}
	}
	names := eval[string](t, ctx, `[...document.querySelectorAll('.tir-row .tir-name')].map(e => e.textContent.trim()).join('|')`)
	if names != "Very high >13.9 mmol/L|High 10.1–13.9 mmol/L|In range 3.9–10.0 mmol/L|Low 3.0–3.8 mmol/L|Very low <3.0 mmol/L" {
		t.Errorf("the bands are named %q", names)
	}
	if gmi := eval[string](t, ctx, `document.querySelector('[data-figure=gmi]').textContent`); gmi != strconv.FormatFloat(math.Round(sum.CGM.GMI*10)/10, 'f', -1, 64) {
		t.Errorf("GMI shows %q; the API says %v", gmi, sum.CGM.GMI)
	}
	wantBP := fmt.Sprintf("%v/%v", math.Round(sum.HomeBP.Mean.Systolic), math.Round(sum.HomeBP.Mean.Diastolic))
	if bp := eval[string](t, ctx, `document.querySelector('[data-figure=home-bp]').textContent.trim()`); bp != wantBP {
		t.Errorf("home BP average shows %q; the API says %s", bp, wantBP)
	}
	if used := eval[string](t, ctx, `document.querySelector('[data-figure=home-bp-used]').textContent.trim()`); used != fmt.Sprintf("%d days, %d readings", sum.HomeBP.Days, sum.HomeBP.Readings) {
		t.Errorf("home BP used shows %q; the API says %d days, %d readings", used, sum.HomeBP.Days, sum.HomeBP.Readings)
	}
	// The daily charts: 14, drawn as they come into view.
	if n := eval[int](t, ctx, `document.querySelectorAll('.day-chart').length`); n != 14 {
		t.Errorf("%d daily charts; want 14", n)
	}
	f.waitJS(ctx, "a drawn day", `(document.querySelector('.day-chart').scrollIntoView(), document.querySelector('.day-chart[data-drawn=yes] canvas') !== null)`, 15*time.Second)

	// mg/dL and 7 days: in the address, the figures in mg/dL, the AGP flagged as not reportable.
	f.do(ctx, "mg/dL", 20*time.Second,
		steadyClick(`[data-unit=mgdl]`),
		steadyClick(`[data-days="7"]`),
		chromedp.WaitVisible(chromedp.CSS(`.agp-flags [data-flag=short_period]`)),
	)
	f.waitJS(ctx, "the mg/dL report", `document.querySelector('.patient-page[aria-busy=false]') && document.querySelector('.tir-row .tir-name').textContent.includes('mg/dL')`, 15*time.Second)
	if q := eval[string](t, ctx, `location.search`); q != "?days=7&unit=mgdl" {
		t.Errorf("the address keeps %q; want ?days=7&unit=mgdl", q)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('.day-chart').length`); n != 7 {
		t.Errorf("%d daily charts for 7 days; want 7", n)
	}
}

// A doctor of another team gets the page that says the patient is not theirs, as the API
// decides (403), with none of the patient's figures.
func TestPatientOfAnotherTeamRefused(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, doctorB)
	f.do(ctx, "open another team's patient", 20*time.Second,
		chromedp.Navigate(f.base+"/app/patients/"+patientA),
		chromedp.WaitVisible(chromedp.CSS(".patient-refused")),
	)
	got := eval[string](t, ctx, `document.querySelector('.patient-refused').dataset.status + '|' + document.querySelector('.patient-refused h1').textContent + '|' +
		document.querySelectorAll('.tir-row, [data-chart]').length`)
	if got != "403|Not one of your patients|0" {
		t.Errorf("dr-b on P-1 sees %q; want the 403 page", got)
	}
	if code := eval[int](t, ctx, `fetch('/api/v1/patients/`+patientA+`/summary').then(r => r.status)`); code != http.StatusForbidden {
		t.Errorf("dr-b's GET summary of P-1 = %d; want 403", code)
	}
	f.do(ctx, "open a patient that does not exist", 20*time.Second,
		chromedp.Navigate(f.base+"/app/patients/P-404"),
		chromedp.WaitVisible(chromedp.CSS(".patient-refused[data-status='404']")),
	)
}

// Editing the patient's overrides with a value out of range shows the API's error next to that
// threshold, keeps what was typed, and saves nothing; a good value is saved and in force.
func TestOverrideErrorNextToField(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, doctorA)
	const input = `input[name="overrides.glucose_low.below"]`
	f.openSettled(ctx, patientA)
	f.do(ctx, "edit the overrides", 30*time.Second,
		steadyClick(".edit-overrides"),
		chromedp.WaitVisible(chromedp.CSS(input)),
		chromedp.SendKeys(chromedp.CSS(input), "99"),
		chromedp.SendKeys(chromedp.CSS(`input[name="overrides.cgm_low_episode.duration"]`), "20m"),
		steadyClick(".overrides-form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-threshold="overrides.glucose_low.below"] .field-error`)),
	)
	got := eval[string](t, ctx, `(() => { const i = document.querySelector('`+input+`');
		const e = i.closest('td').querySelector('.field-error');
		return i.value + '|' + i.getAttribute('aria-invalid') + '|' + (i.getAttribute('aria-describedby') === e.id) + '|' + e.textContent.trim() + '|' +
			document.querySelector('input[name="overrides.cgm_low_episode.duration"]').value + '|' + document.querySelectorAll('.field-error').length; })()`)
	want := "99|true|true|⚠ overrides: patient override glucose_low.below: 99 mmol/L is outside 0.6 mmol/L-33.3 mmol/L|20m|1"
	if got != want {
		t.Errorf("after a bad override:\n got %q\nwant %q", got, want)
	}
	var o struct{ Overrides map[string]map[string]any }
	f.apiAs(doctorA, "GET", "/patients/"+patientA+"/overrides", "", &o)
	if len(o.Overrides) != 0 {
		t.Errorf("a refused override was saved: %v", o.Overrides)
	}
	f.do(ctx, "correct it", 20*time.Second,
		steadyClick(input),
		chromedp.KeyEvent(kb.End),
		chromedp.KeyEvent(kb.Backspace),
		chromedp.KeyEvent(kb.Backspace),
		chromedp.SendKeys(chromedp.CSS(input), "4.4"),
		steadyClick(".overrides-form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(`tr.overridden[data-threshold="overrides.glucose_low.below"]`)),
	)
	f.apiAs(doctorA, "GET", "/patients/"+patientA+"/overrides", "", &o)
	if b, _ := json.Marshal(o.Overrides); string(b) != `{"cgm_low_episode":{"duration":"20m0s"},"glucose_low":{"below":4.4}}` {
		t.Errorf("saved overrides = %s", b)
	}
}

// A doctor transfers their patient to another team with the home devices returned: the page
// says so, the doctor's access ends at once, and the device lent is back in its centre's pool.
func TestTransferFromThePage(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, doctorA)
	f.openSettled(ctx, patientA)
	f.do(ctx, "transfer", 30*time.Second,
		steadyClick(".open-transfer"),
		chromedp.WaitVisible(chromedp.CSS("#tr-team")),
		chromedp.SetValue(chromedp.CSS("#tr-team"), teamB),
		steadyClick(`input[name=device_policy][value=return]`),
		steadyClick(".transfer-form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("[data-transferred]")),
	)
	if got := eval[string](t, ctx, `document.querySelector('[data-transferred]').dataset.transferred + '|' + document.querySelector('[data-transferred]').textContent.trim()`); got != "team-2|Transferred to Team 2. The patient is no longer in your team." {
		t.Errorf("after the transfer the page says %q", got)
	}
	if code := eval[int](t, ctx, `fetch('/api/v1/patients/`+patientA+`').then(r => r.status)`); code != http.StatusForbidden {
		t.Errorf("dr-a's GET of P-1 after the transfer = %d; want 403", code)
	}
	var devs struct{ Items []struct{ ID string } }
	if code := f.apiAs(doctorB, "GET", "/patients/"+patientA+"/devices", "", &devs); code != 200 || len(devs.Items) != 0 {
		t.Errorf("dr-b's GET of P-1's devices = %d %+v; want 200 and none (returned)", code, devs.Items)
	}
}

// The list shows the team's patients; a search by id keeps the rows that match, in the address.
func TestPatientListSearch(t *testing.T) {
	f := startFixture(t)
	for _, id := range []string{extraTeamA, extraTeamB, "Q-7"} {
		if code := f.apiAs(doctorA, "POST", "/patients", fmt.Sprintf(`{"id":%q,"team":%q,"plans":["hypertension: BP daily"]}`, id, teamA), nil); code != 201 {
			t.Fatalf("create %s = %d", id, code)
		}
	}
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, doctorA)
	rows := `[...document.querySelectorAll('.patients-table tbody tr')].map(r => r.dataset.patient).join(',')`
	f.do(ctx, "the list", 20*time.Second,
		chromedp.Navigate(f.base+"/app/patients"),
		chromedp.WaitVisible(chromedp.CSS(".patients-table")),
	)
	// By open alerts, worst first: P-1 has the urgent glucose alert.
	if got := eval[string](t, ctx, rows); got != "P-1,P-10,P-11,Q-7" {
		t.Errorf("dr-a's list = %q; want P-1,P-10,P-11,Q-7", got)
	}
	if got := eval[string](t, ctx, `document.querySelector('tr[data-patient="P-1"] .alert-count').textContent + '|' + document.querySelector('tr[data-patient="P-1"] .sev').textContent.trim()`); got != "1 open|!! Urgent" {
		t.Errorf("P-1's open alerts show %q", got)
	}
	f.do(ctx, "search", 10*time.Second, chromedp.SendKeys(chromedp.CSS("#patients-q"), "p-1"))
	f.waitJS(ctx, "the search", rows+` === 'P-1,P-10,P-11'`, 5*time.Second)
	f.do(ctx, "search more", 10*time.Second, chromedp.SendKeys(chromedp.CSS("#patients-q"), "0"))
	f.waitJS(ctx, "the narrower search", rows+` === 'P-10'`, 5*time.Second)
	if q := eval[string](t, ctx, `location.search`); q != "?q=p-10" {
		t.Errorf("the address keeps %q; want ?q=p-10", q)
	}
	// Its headline, loaded as the row came into view: no BP reading in 30 days.
	f.waitJS(ctx, "P-10's headline", `document.querySelector('tr[data-patient="P-10"]').textContent.includes('Blood pressure: 0/30 d')`, 10*time.Second)
}

// At 360 px wide the patient's page, with all its charts and tables, does not scroll sideways.
func TestPatientPageFitsAPhone(t *testing.T) {
	f := startFixture(t)
	f.seedPatientData(14)
	ctx := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740})
	f.signIn(ctx, doctorA)
	f.openPatient(ctx, "")
	f.waitJS(ctx, "the BP chart", `document.querySelector('[data-chart=bp] canvas') !== null`, 15*time.Second)
	f.do(ctx, "open the override form", 10*time.Second, steadyClick(".edit-overrides"), chromedp.WaitVisible(chromedp.CSS(".override-input")))
	got := eval[string](t, ctx, `document.documentElement.scrollWidth + ' ' + document.body.scrollWidth + ' ' + window.innerWidth`)
	if got != "360 360 360" {
		t.Errorf("at 360 px: scroll widths and viewport %q; want 360 360 360", got)
	}
	f.do(ctx, "the list", 20*time.Second, chromedp.Navigate(f.base+"/app/patients"), chromedp.WaitVisible(chromedp.CSS(".patients-table")))
	f.waitJS(ctx, "P-1's headline", `document.querySelector('tr[data-patient="P-1"] [data-figure=tir]') !== null`, 15*time.Second)
	if got := eval[string](t, ctx, `document.documentElement.scrollWidth + ' ' + document.body.scrollWidth`); got != "360 360" {
		t.Errorf("the list at 360 px: scroll widths %q; want 360 360", got)
	}
}

// The glucose report prints on one A4 page: without the header, the controls or the other
// sections, with the AGP drawn at the width of the page.
func TestGlucoseReportPrintsOnOnePage(t *testing.T) {
	f := startFixture(t)
	f.seedPatientData(14)
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, doctorA)
	f.openPatient(ctx, "")
	// What window.print() fires first: the AGP takes the width of A4.
	if w := eval[int](t, ctx, `(window.dispatchEvent(new Event('beforeprint')), new Promise(r => setTimeout(r, 50)))
		.then(() => document.querySelector('[data-chart=agp] canvas').getBoundingClientRect().width)`); w != 680 {
		t.Errorf("the AGP before printing is %d px wide; want 680", w)
	}
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	yes := true
	pdf, err := chromedp.Run(c, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		res, err := cdp.Call(ctx, tg, page.PrintToPDF, page.PrintToPDFParams{PreferCSSPageSize: &yes, PrintBackground: &yes})
		return res.Data, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages := bytes.Count(pdf, []byte("/Type /Page")) - bytes.Count(pdf, []byte("/Type /Pages")); pages != 1 {
		t.Errorf("the glucose report prints on %d pages; want 1", pages)
	}
	if _, err := chromedp.Run(c, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		return chromedp.Void{}, err
	}); err != nil {
		t.Fatal(err)
	}
	shown := eval[string](t, ctx, `['.app-header', '.controls', '.glucose-report', '[data-chart=agp]', '.tir', '.key-figures', '.days', '.thresholds-table']
		.map(s => s + ':' + (getComputedStyle(document.querySelector(s)).display !== 'none' && document.querySelector(s).getClientRects().length > 0)).join(' ')`)
	if want := ".app-header:false .controls:false .glucose-report:true [data-chart=agp]:true .tir:true .key-figures:true .days:false .thresholds-table:false"; shown != want {
		t.Errorf("in print:\n got %s\nwant %s", shown, want)
	}
}

// The time to the first render of a patient's page with 90 days of CGM, in several loads, and
// the bytes it fetched: logged, not judged (set VITALWATCH_PATIENT_TIMING=1 to run it).
func TestPatientPageTiming(t *testing.T) {
	if os.Getenv("VITALWATCH_PATIENT_TIMING") == "" {
		t.Skip("set VITALWATCH_PATIENT_TIMING=1 to time the patient page")
	}
	f := startFixture(t)
	f.seedPatientData(90)
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, doctorA)
	var ms []float64
	for range 7 {
		f.openPatient(ctx, "?days=90")
		rendered := eval[float64](t, ctx, `performance.getEntriesByName('vw:patient-rendered')[0].startTime`)
		ms = append(ms, rendered)
	}
	t.Logf("the last load's requests until then (start and duration, ms): %s", eval[string](t, ctx, `performance.getEntriesByType('resource')
		.filter(e => e.startTime < performance.getEntriesByName('vw:patient-rendered')[0].startTime)
		.map(e => e.name.replace(location.origin, '').split('?')[0] + ' ' + e.startTime.toFixed(0) + '+' + e.duration.toFixed(0)).join(', ')`))
	// A fresh browser with the cache off: every byte the page fetches, by kind, once all its
	// parts have loaded (the daily charts of the first screen included).
	fresh := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(fresh, doctorA)
	if _, err := chromedp.Run(fresh, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return chromedp.Void{}, err
	}); err != nil {
		t.Fatal(err)
	}
	f.openPatient(fresh, "?days=90")
	f.waitJS(fresh, "the rest of the page", `document.querySelector('[data-chart=bp] canvas') !== null && document.querySelector('.patient-alerts, .devices-table') !== null`, 15*time.Second)
	time.Sleep(time.Second)
	bytes := eval[map[string]float64](t, fresh, `(() => { const out = {}; const add = (k, e) => { out[k] = (out[k] || 0) + e.transferSize; out[k + '_body'] = (out[k + '_body'] || 0) + e.decodedBodySize; };
		add('document', performance.getEntriesByType('navigation')[0]);
		for (const e of performance.getEntriesByType('resource')) {
			const p = new URL(e.name).pathname;
			add(p.startsWith('/api/') ? 'api' : p.startsWith('/static/vendor/') ? 'vendor' : /pages\/patient\.js|\/patient\/|patients\.css/.test(p) ? 'patient_modules' : 'app_shared', e);
		}
		return out; })()`)
	slices.Sort(ms)
	t.Logf("first render of the patient page with 90 days of CGM (navigation start to the AGP drawn), 7 loads: median %.0f ms, min %.0f, max %.0f",
		ms[len(ms)/2], ms[0], ms[len(ms)-1])
	total := 0.0
	for _, k := range []string{"document", "app_shared", "patient_modules", "vendor", "api"} {
		total += bytes[k]
	}
	t.Logf("bytes of the patient page with 90 days, cache off (transferred, with headers; no compression): document %.0f, app shared %.0f, patient modules %.0f (body %.0f), vendor %.0f (body %.0f), API %.0f (body %.0f); total %.0f",
		bytes["document"], bytes["app_shared"], bytes["patient_modules"], bytes["patient_modules_body"], bytes["vendor"], bytes["vendor_body"], bytes["api"], bytes["api_body"], total)
}

// Screenshots of the patient list and of a patient's page with CGM into docs/screenshots
// (make screenshots sets VITALWATCH_SCREENSHOTS).
func TestScreenshotsPatients(t *testing.T) {
	dir := os.Getenv("VITALWATCH_SCREENSHOTS")
	if dir == "" {
		t.Skip("set VITALWATCH_SCREENSHOTS to a directory to write the screenshots")
	}
	f := startFixture(t)
	f.seedPatientData(14)
	ctx := f.browser(testsrv.BrowserOptions{Width: 1280, Height: 900})
	f.signIn(ctx, doctorA)
	f.openPatient(ctx, "")
	f.waitJS(ctx, "the charts", `document.querySelector('[data-chart=bp] canvas') && document.querySelector('[data-chart=meter] canvas') && document.querySelector('.devices-table')`, 15*time.Second)
	for _, sel := range []string{".day-chart"} {
		f.waitJS(ctx, "the days", `([...document.querySelectorAll('`+sel+`')].forEach(e => e.scrollIntoView()), document.querySelectorAll('`+sel+`[data-drawn=yes]').length === 14)`, 15*time.Second)
	}
	f.do(ctx, "top", 5*time.Second, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	shoot(t, ctx, filepath.Join(dir, "patient.png"))
	f.do(ctx, "the list", 20*time.Second,
		chromedp.Navigate(f.base+"/app/patients"),
		chromedp.WaitVisible(chromedp.CSS(".patients-table")),
	)
	f.waitJS(ctx, "the headlines", `document.querySelector('tr[data-patient="P-1"] [data-figure=tir]') !== null`, 15*time.Second)
	shoot(t, ctx, filepath.Join(dir, "patients.png"))
	// A phone: the first screen of the glucose report.
	phone := f.browser(testsrv.BrowserOptions{Width: 360, Height: 740})
	f.signIn(phone, doctorA)
	f.openPatient(phone, "")
	f.do(phone, "the report", 5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('.glucose-report').scrollIntoView()`))
	c, cancel := context.WithTimeout(phone, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "patient-360.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shoot writes a PNG of the whole page.
func shoot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// openSettled opens the patient's page and waits until its layout is final: the period's series
// and the care sections drawn. A click is made at the element's place on the screen, and the
// sections above the forms grow as their data comes, so a click made sooner can land on
// whatever has moved under it.
func (f *fixture) openSettled(ctx context.Context, id string) {
	f.t.Helper()
	f.do(ctx, "open "+id, 30*time.Second, chromedp.Navigate(f.base+"/app/patients/"+id))
	f.waitJS(ctx, id+"'s page settled", `performance.getEntriesByName('vw:patient-series').length > 0 && performance.getEntriesByName('vw:patient-care').length > 0`, 30*time.Second)
}
