package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// single runs one reading of d through a fresh engine and returns its clinical findings.
func single(tb testing.TB, d devices.Device, r reading.Reading) []alerts.Finding {
	tb.Helper()
	e, _ := newEngine(tb)
	return clinicalOnly(e.Reading(input(d, t0, r)))
}

func TestGlucoseBands(t *testing.T) {
	tests := []struct {
		v    float64
		want []string
	}{
		{5.5, nil},
		{3.9, nil}, // low is below 3.9
		{3.89, []string{"glucose_low warning"}},
		{3.0, []string{"glucose_low warning"}}, // 3.0 is low, not very low
		{2.99, []string{"glucose_very_low urgent"}},
		{0.6, []string{"glucose_very_low urgent"}},
		{13.9, nil}, // high is above 13.9
		{13.91, []string{"glucose_high warning"}},
		{16.7, []string{"glucose_high warning"}},
		{16.71, []string{"glucose_very_high urgent"}},
		{33.3, []string{"glucose_very_high urgent"}},
	}
	for _, tt := range tests {
		check(t, fmt.Sprintf("Reading(glucose %v)", tt.v), single(t, meter, glucose(tt.v)), tt.want...)
	}
}

func TestSpO2(t *testing.T) {
	tests := []struct {
		v    float64
		want []string
	}{
		{95, nil},
		{94.5, nil},
		{94, []string{"spo2_low warning"}},
		{93, []string{"spo2_low warning"}},
		{92.5, []string{"spo2_low warning"}},
		{92, []string{"spo2_low urgent"}},
		{85, []string{"spo2_low urgent"}},
	}
	for _, tt := range tests {
		check(t, fmt.Sprintf("Reading(spo2 %v)", tt.v), single(t, oximeter, value(reading.SpO2, tt.v)), tt.want...)
	}
}

func TestHeartRate(t *testing.T) {
	tests := []struct {
		v    float64
		want []string
	}{
		{72, nil},
		{110, nil},
		{111, []string{"heart_rate warning"}},
		{130, []string{"heart_rate warning"}},
		{131, []string{"heart_rate urgent"}},
		{51, nil},
		{50, []string{"heart_rate warning"}},
		{41, []string{"heart_rate warning"}},
		{40, []string{"heart_rate urgent"}},
	}
	for _, tt := range tests {
		check(t, fmt.Sprintf("Reading(heart_rate %v)", tt.v), single(t, watch, value(reading.HeartRate, tt.v)), tt.want...)
	}
}

func TestFever(t *testing.T) {
	tests := []struct {
		v    float64
		want []string
	}{
		{37.9, nil},
		{38.0, []string{"fever warning"}},
		{39.09, []string{"fever warning"}},
		{39.1, []string{"fever urgent"}},
	}
	for _, tt := range tests {
		check(t, fmt.Sprintf("Reading(temperature %v)", tt.v), single(t, thermo, value(reading.Temperature, tt.v)), tt.want...)
	}
}

func TestBPBands(t *testing.T) {
	tests := []struct {
		sys, dia float64
		want     []string
	}{
		{120, 80, nil},
		{179, 119, nil},
		{180, 100, []string{"bp_crisis urgent"}},
		{150, 120, []string{"bp_crisis urgent"}},
		{90, 60, nil},
		{89, 70, []string{"bp_low warning"}},
		{100, 59, []string{"bp_low warning"}},
	}
	for _, tt := range tests {
		check(t, fmt.Sprintf("Reading(bp %v/%v)", tt.sys, tt.dia), single(t, cuff, bp(tt.sys, tt.dia)), tt.want...)
	}
}

// step is one reading of a sequence: measured `at` after t0, received `recv` after t0 (zero:
// when measured).
type step struct {
	at, recv time.Duration
	r        reading.Reading
	d        devices.Device
}

// run feeds the steps in order and returns each step's clinical findings summaries, one line
// per step with findings, "+M: ..." with M the minutes of its measurement time.
func run(tb testing.TB, e *rules.Engine, steps []step) []string {
	tb.Helper()
	var out []string
	for _, s := range steps {
		recv := s.recv
		if recv == 0 {
			recv = s.at
		}
		d := s.d
		if d.ID == "" {
			d = cuff
		}
		in := input(d, t0.Add(recv), at(s.r, t0.Add(s.at)))
		for _, f := range summary(clinicalOnly(e.Reading(in))) {
			out = append(out, fmt.Sprintf("+%v: %s", s.at, f))
		}
	}
	return out
}

func TestBPCrisisRetest(t *testing.T) {
	crisis, normal := bp(185, 100), bp(150, 95)
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"crisis alone", []step{{at: 0, r: crisis}}, []string{"+0s: bp_crisis urgent"}},
		{"second crisis within 15 min is critical",
			[]step{{at: 0, r: crisis}, {at: minutes(10), r: bp(190, 105)}},
			[]string{"+0s: bp_crisis urgent", "+10m0s: bp_crisis critical"}},
		{"second crisis at exactly 15 min is critical",
			[]step{{at: 0, r: crisis}, {at: minutes(15), r: crisis}},
			[]string{"+0s: bp_crisis urgent", "+15m0s: bp_crisis critical"}},
		{"crisis 16 min later is two urgents",
			[]step{{at: 0, r: crisis}, {at: minutes(16), r: crisis}},
			[]string{"+0s: bp_crisis urgent", "+16m0s: bp_crisis urgent"}},
		{"normal retest resolves",
			[]step{{at: 0, r: crisis}, {at: minutes(5), r: normal}},
			[]string{"+0s: bp_crisis urgent", "+5m0s: bp_crisis info resolve"}},
		{"normal retest after 16 min does not resolve",
			[]step{{at: 0, r: crisis}, {at: minutes(16), r: normal}},
			[]string{"+0s: bp_crisis urgent"}},
		{"only the next reading is the retest",
			[]step{{at: 0, r: crisis}, {at: minutes(5), r: normal}, {at: minutes(8), r: normal}},
			[]string{"+0s: bp_crisis urgent", "+5m0s: bp_crisis info resolve"}},
		{"a confirmed crisis is not resolved by a normal reading",
			[]step{{at: 0, r: crisis}, {at: minutes(5), r: crisis}, {at: minutes(10), r: normal}},
			[]string{"+0s: bp_crisis urgent", "+5m0s: bp_crisis critical"}},
		{"retest arriving before the crisis it retests",
			[]step{{at: minutes(5), r: normal}, {at: 0, recv: minutes(6), r: crisis}},
			[]string{"+0s: bp_crisis urgent", "+0s: bp_crisis info resolve"}},
		{"second crisis arriving first",
			[]step{{at: minutes(10), r: crisis}, {at: 0, recv: minutes(11), r: crisis}},
			[]string{"+10m0s: bp_crisis urgent", "+0s: bp_crisis critical"}},
		{"a redelivered crisis does not confirm itself",
			[]step{{at: 0, r: crisis}, {at: 0, recv: minutes(1), r: crisis}},
			[]string{"+0s: bp_crisis urgent", "+0s: bp_crisis urgent"}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		got := run(t, e, tt.steps)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestBPCrisisResolveNote(t *testing.T) {
	e, _ := newEngine(t)
	e.Reading(input(cuff, t0, bp(185, 100)))
	fs := e.Reading(input(cuff, t0.Add(5*time.Minute), bp(150, 95)))
	if len(fs) != 1 || !fs[0].Resolve {
		t.Fatalf("retest = %q; want one resolve", summary(fs))
	}
	want := "retest 150/95 mm[Hg] measured 5m0s after the crisis reading 185/100 mm[Hg] is below the crisis level: not confirmed"
	if fs[0].Note != want {
		t.Errorf("Note = %q; want %q", fs[0].Note, want)
	}
	if len(fs[0].Evidence) != 2 {
		t.Errorf("Evidence = %+v; want the crisis reading and the retest", fs[0].Evidence)
	}
}

func TestBPCrisisDoubtful(t *testing.T) {
	e, _ := newEngine(t)
	in := input(cuff, t0, bp(185, 100))
	in.Message.Flags = []string{"cuff_loose"}
	check(t, "Reading(crisis, cuff_loose)", e.Reading(in), "bp_crisis info doubt")
	// The doubtful crisis does not confirm the next one.
	check(t, "Reading(crisis 5 min later)", e.Reading(input(cuff, t0.Add(5*time.Minute), bp(186, 100))), "bp_crisis urgent")
}

func TestWeightGain(t *testing.T) {
	day := 24 * time.Hour
	w := func(v float64) reading.Reading { return value(reading.Weight, v) }
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"2.0 kg is not more than 2", []step{{at: 0, r: w(70)}, {at: 2 * day, r: w(72)}}, nil},
		{"2.1 kg in 2 days", []step{{at: 0, r: w(70)}, {at: 2 * day, r: w(72.1)}}, []string{"+48h0m0s: weight_gain warning"}},
		{"against the lowest of the previous 3 days",
			[]step{{at: 0, r: w(71)}, {at: day, r: w(70)}, {at: 2 * day, r: w(71.5)}, {at: 3 * day, r: w(72.5)}},
			[]string{"+72h0m0s: weight_gain warning"}},
		{"a gain over 4 days is not within 3", []step{{at: 0, r: w(70)}, {at: 4 * day, r: w(72.5)}}, nil},
		{"exactly 3 days is within", []step{{at: 0, r: w(70)}, {at: 3 * day, r: w(72.5)}}, []string{"+72h0m0s: weight_gain warning"}},
		{"a loss is no gain", []step{{at: 0, r: w(75)}, {at: day, r: w(72)}}, nil},
		{"an earlier weight arriving late",
			[]step{{at: 2 * day, r: w(72.5)}, {at: day, recv: 2*day + time.Hour, r: w(70)}},
			[]string{"+24h0m0s: weight_gain warning"}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		for i := range tt.steps {
			tt.steps[i].d = scale
		}
		got := run(t, e, tt.steps)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
	e, _ := newEngine(t)
	e.Reading(input(scale, t0, w(70)))
	fs := e.Reading(input(scale, t0.Add(day), w(72.4)))
	if len(fs) != 1 || fs[0].Value != "+2.4 kg in 24h0m0s (70 to 72.4 kg)" || len(fs[0].Evidence) != 2 {
		t.Errorf("weight gain = %+v; want value +2.4 kg and the two weights as evidence", fs)
	}
}

func TestSOS(t *testing.T) {
	e, _ := newEngine(t)
	r := event(reading.SOS)
	r.Lat, r.Lon, r.HasLocation = 31.2304, 121.4737, true
	fs := e.Reading(input(watch, t0, r))
	check(t, "Reading(sos)", fs, "sos critical")
	if len(fs) == 1 && (fs[0].Location == nil || *fs[0].Location != (alerts.Location{Lat: 31.2304, Lon: 121.4737}) || fs[0].Value != "SOS at 31.2304,121.4737") {
		t.Errorf("sos location, value = %v, %q; want 31.2304,121.4737", fs[0].Location, fs[0].Value)
	}
	late := input(watch, t0.Add(3*time.Hour), at(event(reading.SOS), t0))
	check(t, "Reading(sos 3 h old)", e.Reading(late), "sos info late")
}

func TestFallConfirmWindow(t *testing.T) {
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	type op struct {
		tick     time.Duration // Tick at t0+tick, when r is the zero reading
		r        reading.Reading
		at, recv time.Duration
	}
	fall := event(reading.Fall)
	fall.Lat, fall.Lon, fall.HasLocation = 31.2, 121.5, true
	cancel := event(reading.Cancel)
	tests := []struct {
		name string
		ops  []op
		want []string
	}{
		{"not raised within the window", []op{{r: fall}, {tick: sec(29)}, {tick: sec(30)}}, nil},
		{"raised at the first tick after it", []op{{r: fall}, {tick: sec(29)}, {tick: sec(31)}, {tick: sec(40)}}, []string{"fall critical"}},
		{"cancelled at 29 s raises nothing", []op{{r: fall}, {r: cancel, at: sec(29)}, {tick: sec(31)}, {tick: sec(300)}}, nil},
		{"cancelled at 30 s raises nothing", []op{{r: fall}, {r: cancel, at: sec(30)}, {tick: sec(31)}}, nil},
		{"a cancel at 31 s is too late", []op{{r: fall}, {tick: sec(31)}, {r: cancel, at: sec(31)}}, []string{"fall critical"}},
		{"a cancel at 31 s before any tick is too late", []op{{r: fall}, {r: cancel, at: sec(31)}, {tick: sec(32)}}, []string{"fall critical"}},
		{"a cancel measured in time that arrives late resolves",
			[]op{{r: fall}, {tick: sec(31)}, {r: cancel, at: sec(20), recv: sec(45)}},
			[]string{"fall critical", "fall info resolve"}},
		{"a cancel arriving before its fall", []op{{r: cancel, at: sec(10)}, {r: fall}, {tick: sec(60)}}, nil},
		{"a later reading of the device shows the window passed",
			[]op{{r: fall}, {r: value(reading.HeartRate, 80), at: sec(40)}}, []string{"fall critical"}},
		{"a redelivered fall is one fall", []op{{r: fall}, {r: fall, at: 0, recv: sec(2)}, {tick: sec(31)}}, []string{"fall critical"}},
		{"a fall in a backlog is late", []op{{r: fall, at: 0, recv: 3 * time.Hour}, {tick: 3*time.Hour + sec(1)}}, []string{"fall info late"}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		var got []alerts.Finding
		for _, o := range tt.ops {
			if o.r.Type == "" {
				got = append(got, e.Tick(t0.Add(o.tick))...)
				continue
			}
			recv := o.recv
			if recv == 0 {
				recv = o.at
			}
			got = append(got, clinicalOnly(e.Reading(input(watch, t0.Add(recv), at(o.r, t0.Add(o.at)))))...)
		}
		check(t, tt.name, got, tt.want...)
		if len(got) > 0 && got[0].Rule == alerts.RuleFall && !got[0].Late {
			if got[0].Location == nil || got[0].Value != "fall at 31.2,121.5" || !got[0].At.Equal(t0) {
				t.Errorf("%s: fall finding = %+v; want the location and the measurement time", tt.name, got[0])
			}
		}
	}
}

func TestFallAndCancelInOneMessage(t *testing.T) {
	e, _ := newEngine(t)
	in := input(watch, t0.Add(time.Minute), at(event(reading.Fall), t0), at(event(reading.Cancel), t0.Add(12*time.Second)),
		at(value(reading.HeartRate, 88), t0.Add(50*time.Second)))
	check(t, "Reading(fall, cancel at 12 s, heart rate at 50 s)", clinicalOnly(e.Reading(in)))
	check(t, "Tick after", e.Tick(t0.Add(2*time.Minute)))
}

func TestFallCancelledFromAnotherDeviceOfTheWearer(t *testing.T) {
	e, _ := newEngine(t)
	e.Reading(input(watch, t0, event(reading.Fall)))
	phone := watch
	phone.ID = "phone-1"
	e.Reading(input(phone, t0.Add(10*time.Second), event(reading.Cancel)))
	check(t, "Tick after a cancel from the wearer's other device", e.Tick(t0.Add(time.Minute)))
}

func TestFallWarm(t *testing.T) {
	// Replayed at a restart 5 minutes after the fall: it was raised before; not again.
	e, c := newEngine(t)
	c.now = t0.Add(5 * time.Minute)
	e.Warm(input(watch, t0, event(reading.Fall)))
	check(t, "Tick after warming an old fall", e.Tick(t0.Add(6*time.Minute)))

	// Replayed 10 s after the fall: its window is still open, so it is raised after the restart.
	e, c = newEngine(t)
	c.now = t0.Add(10 * time.Second)
	e.Warm(input(watch, t0, event(reading.Fall)))
	check(t, "Tick after warming a fall in its window", e.Tick(t0.Add(31*time.Second)), "fall critical")
}

func TestBPCrisisWarm(t *testing.T) {
	e, _ := newEngine(t)
	e.Warm(input(cuff, t0, bp(185, 100)))
	check(t, "a second crisis 10 min after a warmed one", e.Reading(input(cuff, t0.Add(10*time.Minute), bp(190, 100))), "bp_crisis critical")
}
