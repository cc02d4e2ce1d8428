package rules_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// A backlog: a device that was out of reach uploads what it measured, old measurement times
// arriving within seconds. Each fault episode in it gives one alert, and an episode that is
// long over when it arrives pages nobody: it is recorded late, at info, and resolved.

// uploaded is one message of a backlog: measured at (before the upload), with its flags and,
// when battery >= 0, a battery level.
type uploaded struct {
	at      time.Duration
	r       reading.Reading
	flags   []string
	battery float64
}

// upload feeds msgs to e as one device's backlog received from recv on, 10 ms apart, and
// returns the fault findings.
func upload(e *rules.Engine, d devices.Device, recv time.Time, msgs []uploaded) []alerts.Finding {
	var out []alerts.Finding
	for i, m := range msgs {
		in := input(d, recv.Add(time.Duration(i)*10*time.Millisecond), at(m.r, recv.Add(m.at)))
		in.Message.Flags = m.flags
		if m.battery >= 0 {
			in.Message.Battery, in.Message.HasBattery = m.battery, true
		}
		out = append(out, faultsOnly(e.Reading(in))...)
	}
	return out
}

// hourly is a backlog of glucose readings measured every hour in [from, to] before the upload,
// with an error flag on those for which errs is true.
func hourly(from, to time.Duration, errs func(at time.Duration) bool) []uploaded {
	var out []uploaded
	for a := from; a <= to; a += time.Hour {
		m := uploaded{at: a, r: glucose(6), battery: -1}
		if errs(a) {
			m.flags = []string{"strip_error"}
		}
		out = append(out, m)
	}
	return out
}

func between(from, to, every time.Duration) func(time.Duration) bool {
	return func(a time.Duration) bool { return a >= from && a <= to && (a-from)%every == 0 }
}

func TestRepeatedErrorsInABacklog(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name  string
		msgs  []uploaded
		want  []string
		after []string // the findings of a tick 22 h after the upload
	}{
		{"an episode long over: recorded late and resolved, once",
			hourly(-48*h, -h, between(-48*h, -30*h, 2*h)),
			[]string{"repeated_errors info late", "repeated_errors info resolve"}, nil},
		{"an episode that reaches into the last day: one alert, which pages when it does",
			hourly(-48*h, -h, between(-48*h, -2*h, 2*h)),
			[]string{"repeated_errors info late", "repeated_errors warning"}, []string{"repeated_errors info resolve"}},
		{"two episodes, the first long over",
			hourly(-48*h, -h, func(a time.Duration) bool { return between(-48*h, -44*h, 2*h)(a) || between(-12*h, -10*h, h)(a) }),
			[]string{"repeated_errors info late", "repeated_errors info resolve", "repeated_errors warning"},
			[]string{"repeated_errors info resolve"}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		recv := t0.Add(48 * h)
		check(t, tt.name, upload(e, meter, recv, tt.msgs), tt.want...)
		check(t, tt.name+": a tick a minute later", faultsOnly(e.Tick(recv.Add(time.Minute))))
		check(t, tt.name+": a tick 22 h later", faultsOnly(e.Tick(recv.Add(22*h+time.Second))), tt.after...)
	}
}

func TestBatteryInABacklog(t *testing.T) {
	h := time.Hour
	levels := func(ls ...any) []uploaded {
		var out []uploaded
		for i := 0; i < len(ls); i += 2 {
			out = append(out, uploaded{at: ls[i].(time.Duration), r: value(reading.Steps, 10), battery: float64(ls[i+1].(int))})
		}
		return out
	}
	tests := []struct {
		name   string
		status float64 // a live status before the upload, when > 0
		msgs   []uploaded
		want   []string
	}{
		{"an old level does not override a newer one", 80, levels(-48*h, 15, -24*h, 14, -h, 12), nil},
		{"low and charged long ago: recorded late and resolved", 0, levels(-48*h, 30, -40*h, 15, -30*h, 90, -h, 85),
			[]string{"battery_low info late", "battery_low info resolve"}},
		{"low until now: one alert, which pages when a current level shows it", 0, levels(-48*h, 30, -40*h, 15, -10*time.Minute, 14),
			[]string{"battery_low info late", "battery_low warning"}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		recv := t0.Add(48 * h)
		if tt.status > 0 {
			e.Status(watch, shanghai, reading.Status{Device: watch.ID, Time: recv.Add(-time.Second), Battery: tt.status, HasBattery: true}, recv.Add(-time.Second))
		}
		check(t, tt.name, upload(e, watch, recv, tt.msgs), tt.want...)
	}
}

func TestStuckSensorInABacklog(t *testing.T) {
	run := func(from time.Duration, same int, then []float64) []uploaded {
		var out []uploaded
		for i := 0; i < same+len(then); i++ {
			v := 5.5
			if i >= same {
				v = then[i-same]
			}
			out = append(out, uploaded{at: from + time.Duration(i)*5*time.Minute, r: cgmGlucose(v), battery: -1})
		}
		return out
	}
	tests := []struct {
		name string
		msgs []uploaded
		want []string
	}{
		{"stuck long ago: recorded late and resolved", run(-48*time.Hour, 14, []float64{5.8, 6.1}),
			[]string{"stuck_sensor info late", "stuck_sensor info resolve"}},
		{"stuck until now: one alert, which pages when a current reading is still stuck", run(-2*time.Hour, 24, nil),
			[]string{"stuck_sensor info late", "stuck_sensor warning"}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		check(t, tt.name, upload(e, cgm, t0.Add(48*time.Hour), tt.msgs), tt.want...)
	}
}

func TestTimeFlagInABacklog(t *testing.T) {
	e, _ := newEngine(t)
	recv := t0.Add(48 * time.Hour)
	msgs := hourly(-48*time.Hour, -time.Hour, func(time.Duration) bool { return false })
	msgs[8].flags = []string{"time_fault"}
	check(t, "a time flag 40 h old in a backlog", upload(e, watch, recv, msgs), "clock_drift info late")
	check(t, "a live reading on time", faultsOnly(e.Reading(input(watch, recv.Add(time.Minute), value(reading.Steps, 10)))), "clock_drift info resolve")

	// A device whose clock is wrong now sends its readings at their pace, its times off by the
	// same: the first flagged reading may be an old one, the second shows the clock is wrong.
	e, _ = newEngine(t)
	var got []alerts.Finding
	for i := 0; i < 3; i++ {
		recv := t0.Add(time.Duration(i) * 10 * time.Minute)
		in := input(watch, recv, at(value(reading.Steps, 10), recv.Add(-3*time.Hour)))
		in.Message.Flags = []string{"time_fault"}
		got = append(got, faultsOnly(e.Reading(in))...)
	}
	check(t, "flagged readings 3 h behind, 10 min apart", got, "clock_drift info late", "clock_drift warning")
}

// Through the service and the store: a meter's backlog with an episode long over leaves one
// alert that paged nobody; another's with an episode that reaches into the last day, one alert
// that paged once.
func TestServiceBacklogOneAlertPerEpisode(t *testing.T) {
	f := newServiceFixture(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	h := time.Hour
	for _, tt := range []struct {
		device string
		errs   func(time.Duration) bool
	}{{"gA1", between(-48*h, -30*h, 2*h)}, {"gA2", between(-48*h, -2*h, 2*h)}} {
		d, _ := f.view.Load().Device(tt.device)
		for i, m := range hourly(-48*h, -h, tt.errs) {
			msg := reading.Message{Device: tt.device, Patient: "pA1", Flags: m.flags,
				Readings: []reading.Reading{at(m.r, now.Add(m.at))}}
			o := alerts.Observation{Device: d, Message: &msg, Patient: "pA1", Received: now.Add(time.Duration(i) * 10 * time.Millisecond)}
			if err := f.svc.Observe(ctx, []alerts.Observation{o}); err != nil {
				t.Fatal(err)
			}
		}
	}
	as, err := f.store.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}, Rule: alerts.RuleRepeatedErrors})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, a := range as {
		got[a.Device] = append(got[a.Device], fmt.Sprintf("%s notified=%v late=%v", a.State, a.NotifiedSeverity, a.Late))
	}
	want := map[string][]string{
		"gA1": {"resolved notified=severity(0) late=true"},
		"gA2": {"open notified=warning late=false"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("repeated_errors alerts after the backlogs = %v; want %v", got, want)
	}
}

// Rejections have no measurement time: implausible readings count when they arrive. Those that
// arrive while the device uploads a backlog raise late; the first after the upload notifies.
func TestImplausibleValuesInABacklog(t *testing.T) {
	e, _ := newEngine(t)
	recv := t0.Add(48 * time.Hour)
	var got []alerts.Finding
	for i, m := range hourly(-48*time.Hour, -2*time.Hour, func(time.Duration) bool { return false }) {
		r := recv.Add(time.Duration(i) * 10 * time.Millisecond)
		got = append(got, faultsOnly(e.Reading(input(thermo, r, at(value(reading.Temperature, 36.6), recv.Add(m.at)))))...)
		if i%10 == 0 {
			got = append(got, e.Rejected(thermo, shanghai, string(reading.ReasonImplausible), r)...)
		}
	}
	check(t, "implausible readings in a backlog", got, "implausible_values info late")
	check(t, "a live implausible reading after the upload",
		e.Rejected(thermo, shanghai, string(reading.ReasonImplausible), recv.Add(2*time.Hour)), "implausible_values warning")
}

// A device whose clock is off sends old-looking times at its live pace: its first message
// cannot tell that from a backlog, the second, off by the same, shows the data is current.
func TestBatteryFromAClockThatIsOff(t *testing.T) {
	e, _ := newEngine(t)
	var got []alerts.Finding
	for i := 0; i < 3; i++ {
		recv := t0.Add(time.Duration(i) * 10 * time.Minute)
		in := input(watch, recv, at(value(reading.Steps, 10), recv.Add(-3*time.Hour)))
		in.Message.Battery, in.Message.HasBattery = 15, true
		got = append(got, only(alerts.RuleBatteryLow, e.Reading(in))...)
	}
	check(t, "battery 15 % from a device 3 h behind, 10 min apart", got, "battery_low info late", "battery_low warning")
}
