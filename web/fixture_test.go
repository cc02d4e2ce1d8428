package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/app"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// The browser tests run the whole of serve (package app: the embedded broker, ingest, the alert
// engine, the API and the web app) on loopback ports with a real influxd, seeded with a small
// registry and a few alerts, and drive it with headless Chromium.

// password is every test user's.
const password = "a long passphrase for tests"

// The seeded registry: two teams at site-1 with one patient each, a fault at each site, and the
// users who see them.
const (
	siteA, siteB     = "site-1", "site-2"
	teamA, teamB     = "team-1", "team-2"
	patientA         = "P-1"
	patientB         = "P-2"
	oximeter         = "ox-1" // lent to P-1
	faultyA, faultyB = "cuff-9", "cuff-8"
	doctorA, doctorB = "dr-a", "dr-b"
	fleetA           = "fleet-a"
	adminUser        = "ops"
)

// fixture is a running serve with its seed, and a headless Chromium.
type fixture struct {
	t       *testing.T
	base    string // http://127.0.0.1:port
	broker  string // tcp://127.0.0.1:port
	secrets map[string]string
	users   map[string]string // username -> user id
	alerts  map[string]int64  // name -> alert id
	chrome  *testsrv.Chromium
}

type seedAlert struct {
	name string
	f    alerts.Finding
}

// startFixture seeds a store, starts serve on it and Chromium, and stops them at the end of the
// test. extra alerts are recorded besides the default four.
func startFixture(t *testing.T, extra ...seedAlert) *fixture {
	t.Helper()
	return startFixtureWith(t, nil, extra...)
}

// startFixtureWith is startFixture with more seed: more, when not nil, adds to the store in
// dataDir after the default seed, before serve starts, and answers more of serve's environment
// (VITALWATCH_...=value).
func startFixtureWith(t *testing.T, more func(dataDir string) (env []string), extra ...seedAlert) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("starts influxd, serve and chromium; skipped under -short")
	}
	chrome := testsrv.StartChromium(t)
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	f := &fixture{t: t, secrets: map[string]string{}, users: map[string]string{}, alerts: map[string]int64{}, chrome: chrome}
	f.seed(dataDir, extra)
	var moreEnv []string
	if more != nil {
		moreEnv = more(dataDir)
	}

	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket,
		"VITALWATCH_HTTP_LISTEN=127.0.0.1:0", "VITALWATCH_BROKER_LISTEN=127.0.0.1:0", "VITALWATCH_ALERTS_ESCALATE_AFTER=30m"}
	env = append(env, moreEnv...)
	cfg, err := config.Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan app.Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Started: func(a app.Addrs) { started <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop")
		}
	})
	select {
	case a := <-started:
		f.base, f.broker = "http://"+a.HTTP, "tcp://"+a.Broker
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(f.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready: %v", err)
		}
	}
	return f
}

// seed writes the registry, the users and the alerts into the store of dataDir.
func (f *fixture) seed(dataDir string, extra []seedAlert) {
	t := f.t
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(dataDir, config.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hash, err := access.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []devices.Site{{ID: siteA, Name: "Hongpailou centre", TimeZone: "Asia/Shanghai", OpeningHours: "24/7"},
		{ID: siteB, Name: "Yulin centre", TimeZone: "Asia/Shanghai", OpeningHours: "24/7"}} {
		must(st.CreateSite(ctx, s))
	}
	for _, u := range []access.User{{Username: doctorA, Role: access.Doctor, Teams: []string{teamA}},
		{Username: doctorB, Role: access.Doctor, Teams: []string{teamB}}, {Username: fleetA, Role: access.FleetManager, Sites: []string{siteA}},
		{Username: adminUser, Role: access.Admin}} {
		if u.Role == access.Doctor {
			must(st.CreateTeam(ctx, devices.Team{ID: u.Teams[0], SiteID: siteA, Name: "Team " + u.Teams[0][len(u.Teams[0])-1:]}))
		}
		u.PasswordHash = hash
		created, err := st.CreateUser(ctx, u)
		must(err)
		f.users[u.Username] = created.ID
	}
	// team-1's lead is dr-a, with a response target of 10 minutes.
	tm, err := st.GetTeam(ctx, teamA)
	must(err)
	tm.Lead, tm.OnCall, tm.AckWithin = f.users[doctorA], []string{f.users[doctorA]}, 10*time.Minute
	must(st.UpdateTeam(ctx, tm))
	must(st.CreatePatient(ctx, devices.Patient{ID: patientA, TeamID: teamA}))
	must(st.CreatePatient(ctx, devices.Patient{ID: patientB, TeamID: teamB}))
	var devs []devices.Device
	for _, d := range []struct {
		id, site string
		kind     devices.Kind
	}{{oximeter, siteA, devices.Oximeter}, {faultyA, siteA, devices.BPCuff}, {faultyB, siteB, devices.BPCuff}} {
		secret := devices.NewSecret()
		f.secrets[d.id] = secret
		devs = append(devs, devices.Device{ID: d.id, Kind: d.kind, SiteID: d.site, Mode: devices.Home, Status: devices.Active,
			SecretHash: devices.HashSecret(secret)})
	}
	must(st.CreateDevices(ctx, devs))
	must(st.AssignDevice(ctx, oximeter, patientA, time.Now().Add(-24*time.Hour)))

	now := time.Now().Add(-5 * time.Minute).UTC().Truncate(time.Second)
	seeds := append([]seedAlert{
		{"glucose", alerts.Finding{Rule: "glucose_very_low", RuleVersion: 1, Category: alerts.Clinical, Severity: alerts.Urgent,
			Subject: alerts.Subject{Kind: "patient", ID: patientA}, Patient: patientA, Device: "meter-1", Team: teamA, At: now,
			Value: "2.7 mmol/L", Thresholds: map[string]float64{"below": 3},
			Evidence: []alerts.Evidence{{Device: "meter-1", Measurement: "glucose", Time: now, Value: 2.7}}}},
		{"heart", alerts.Finding{Rule: "heart_rate", RuleVersion: 1, Category: alerts.Clinical, Severity: alerts.Warning,
			Subject: alerts.Subject{Kind: "patient", ID: patientB}, Patient: patientB, Device: "band-2", Team: teamB, At: now,
			Value: "heart rate 118 /min", Thresholds: map[string]float64{"high_at_or_above": 111}}},
		{"battery", alerts.Finding{Rule: "battery_low", RuleVersion: 1, Category: alerts.Fault, Severity: alerts.Warning,
			Subject: alerts.Subject{Kind: "device", ID: faultyA}, Device: faultyA, Site: siteA, At: now, Value: "battery 15 %"}},
		{"offline", alerts.Finding{Rule: "device_offline", RuleVersion: 1, Category: alerts.Fault, Severity: alerts.Warning,
			Subject: alerts.Subject{Kind: "device", ID: faultyB}, Device: faultyB, Site: siteB, At: now, Value: "no message for 3h"}},
	}, extra...)
	for _, s := range seeds {
		a, _, _, err := st.ApplyFinding(ctx, s.f)
		must(err)
		f.alerts[s.name] = a.ID
	}
}

// browser opens a new browser (own cookies) on the fixture.
func (f *fixture) browser(opts testsrv.BrowserOptions) context.Context {
	return f.chrome.Browser(f.t, opts)
}

// signIn signs username in through the sign-in page and waits for the inbox.
func (f *fixture) signIn(ctx context.Context, username string) {
	f.t.Helper()
	f.do(ctx, "sign in as "+username, 20*time.Second,
		chromedp.Navigate(f.base+"/app/signin"),
		chromedp.WaitVisible(chromedp.CSS("#signin-username")),
		chromedp.SendKeys(chromedp.CSS("#signin-username"), username),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), password),
		steadyClick(".signin button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".inbox [role=tabpanel][aria-busy=false]")),
	)
}

// do runs steps within limit; a failure fails the test with what the page shows.
func (f *fixture) do(ctx context.Context, what string, limit time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	f.t.Helper()
	c, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		f.t.Fatalf("%s: %v\npage: %s", what, err, pageText(ctx))
	}
}

// waitJS waits until the expression is truthy in the page, for at most limit.
func (f *fixture) waitJS(ctx context.Context, what, expr string, limit time.Duration) {
	f.t.Helper()
	c, cancel := context.WithTimeout(ctx, limit+time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(limit), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		f.t.Fatalf("%s: %s not true within %s: %v\npage: %s", what, expr, limit, err, pageText(ctx))
	}
}

// waitReload waits until the expression is true in the page, through the page's reloads.
func (f *fixture) waitReload(ctx context.Context, what, expr string) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: %s not true within 10s (%v)\npage: %s", what, expr, err, pageText(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eval evaluates the expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// pageText is what the page shows, for failure messages.
func pageText(ctx context.Context) string {
	c, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(s) > 3000 {
		s = s[:3000] + "..."
	}
	return s
}

// rowRules lists the rules of the inbox's rows, in order.
const rowRules = `[...document.querySelectorAll('.alert-row')].map(r => r.querySelector('.alert-title a').getAttribute('href') + ' ' + r.getAttribute('aria-label'))`

// publish sends readings from a device over MQTT, as the device would.
func (f *fixture) publish(device, payload string) {
	f.t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(f.broker).SetClientID(device).SetUsername(device).
		SetPassword(f.secrets[device]).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		f.t.Fatalf("connect %s: %v", device, tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Publish("devices/"+device+"/telemetry", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		f.t.Fatalf("publish: %v", tok.Error())
	}
}

// apiAs calls the API as username with a fresh session (an integration-style client: no Origin).
func (f *fixture) apiAs(username, method, path, body string, v any) int {
	f.t.Helper()
	login, err := http.Post(f.base+"/api/v1/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)))
	if err != nil {
		f.t.Fatal(err)
	}
	login.Body.Close()
	if login.StatusCode != 200 {
		f.t.Fatalf("login %s = %d", username, login.StatusCode)
	}
	req, _ := http.NewRequest(method, f.base+"/api/v1"+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, c := range login.Cookies() {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, v); err != nil {
			f.t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// steadyClick clicks the first element that the CSS selector sel matches, as chromedp.Click
// does, once its place on the screen has held still. A click is made at the element's centre
// as measured just before: a page whose sections above it were still growing with their data
// moved it in between, and the click landed on something else (a form that never opened).
func steadyClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		steady, err := chromedp.Evaluate[bool](fmt.Sprintf(`(async (sel) => {
			let last = '', same = 0;
			for (let i = 0; i < 200 && same < 3; i++) {
				await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 25)));
				const el = document.querySelector(sel);
				if (!el) { same = 0; last = ''; continue; }
				el.scrollIntoView({ block: 'nearest' });
				const b = el.getBoundingClientRect();
				const k = [b.x, b.y, b.width, b.height].join(',');
				same = k === last && b.width > 0 ? same + 1 : 0;
				last = k;
			}
			return same >= 3;
		})(%q)`, sel), chromedp.EvalAwaitPromise)(ctx, t)
		if err != nil {
			return fmt.Errorf("wait for %s to hold still: %w", sel, err)
		}
		if !steady {
			return fmt.Errorf("%s did not hold still on the screen", sel)
		}
		_, err = chromedp.Click(chromedp.CSS(sel))(ctx, t)
		return err
	})
}
