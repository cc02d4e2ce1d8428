package rules_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

func faultsOnly(fs []alerts.Finding) []alerts.Finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f alerts.Finding) bool { return f.Category != alerts.Fault })
}

func TestDeviceOffline(t *testing.T) {
	tests := []struct {
		d      devices.Device
		silent time.Duration // just not yet offline
	}{
		{watch, 15 * time.Minute},
		{cgm, 15 * time.Minute},
		{meter, 72 * time.Hour},
		{cuff, 72 * time.Hour},
		{station, 3 * time.Hour},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		e.Reading(input(tt.d, t0, value(reading.Steps, 100)))
		name := fmt.Sprintf("%s silent", tt.d.Kind)
		check(t, name+" for 3 x its interval", e.Tick(t0.Add(tt.silent)))
		fs := e.Tick(t0.Add(tt.silent + time.Second))
		check(t, name+" for longer", fs, "device_offline warning")
		if len(fs) == 1 && (fs[0].Subject != alerts.Subject{Kind: "device", ID: tt.d.ID} || fs[0].Site != "centre-1" || fs[0].Team != "" || fs[0].Patient != "") {
			t.Errorf("%s: finding = %+v; want about the device, to its site", name, fs[0])
		}
		check(t, name+": the next tick", e.Tick(t0.Add(2*tt.silent)))
		check(t, name+": a message", faultsOnly(e.Reading(input(tt.d, t0.Add(2*tt.silent), value(reading.Steps, 100)))), "device_offline info resolve")
	}
}

func TestDeviceNotInServiceNeverOffline(t *testing.T) {
	for _, status := range []devices.Status{devices.InTransit, devices.Maintenance, devices.Retired} {
		e, _ := newEngine(t)
		d := watch
		d.Status = status
		e.Track(d, shanghai, t0)
		e.Status(d, shanghai, reading.Status{Device: d.ID, Time: t0, Battery: 80, HasBattery: true}, t0)
		check(t, fmt.Sprintf("%s device, 2 days silent", status), e.Tick(t0.Add(48*time.Hour)))
		check(t, fmt.Sprintf("%s device, last will", status), e.Status(d, shanghai, reading.Status{Device: d.ID, Online: false, HasOnline: true, TimeMissing: true}, t0.Add(49*time.Hour)))
	}
}

func TestDeviceLeavingServiceResolvesOffline(t *testing.T) {
	e, _ := newEngine(t)
	e.Track(watch, shanghai, t0)
	check(t, "Tick", e.Tick(t0.Add(time.Hour)), "device_offline warning")
	moving := watch
	moving.Status = devices.InTransit
	fs := e.Track(moving, shanghai, time.Time{})
	check(t, "Track(in transit)", fs, "device_offline info resolve")
	check(t, "Tick in transit", e.Tick(t0.Add(48*time.Hour)))
}

func TestLastWill(t *testing.T) {
	e, _ := newEngine(t)
	will := reading.Status{Device: watch.ID, Online: false, HasOnline: true, TimeMissing: true}
	e.Reading(input(watch, t0, value(reading.HeartRate, 70)))
	check(t, "last will", e.Status(watch, shanghai, will, t0.Add(time.Minute)), "device_offline warning")
	check(t, "Tick after the last will", e.Tick(t0.Add(time.Hour)))
	check(t, "back online", e.Status(watch, shanghai, reading.Status{Device: watch.ID, Online: true, HasOnline: true, Time: t0.Add(2 * time.Hour)}, t0.Add(2*time.Hour)),
		"device_offline info resolve")
}

func TestBatteryLow(t *testing.T) {
	e, _ := newEngine(t)
	steps := []struct {
		v    float64
		want []string
	}{
		{80, nil}, {21, nil}, {20, []string{"battery_low warning"}}, {18, nil},
		{5, []string{"battery_low urgent"}}, {3, nil}, {15, []string{"battery_low warning"}}, {21, []string{"battery_low info resolve"}},
	}
	for i, s := range steps {
		at := t0.Add(time.Duration(i) * time.Minute)
		var fs []alerts.Finding
		if i%2 == 0 { // from the status topic and from telemetry alike
			fs = e.Status(watch, shanghai, reading.Status{Device: watch.ID, Time: at, Battery: s.v, HasBattery: true}, at)
		} else {
			in := input(watch, at, value(reading.Steps, 10))
			in.Message.Battery, in.Message.HasBattery = s.v, true
			fs = faultsOnly(e.Reading(in))
		}
		check(t, fmt.Sprintf("battery %v", s.v), fs, s.want...)
	}
}

func TestRepeatedErrors(t *testing.T) {
	e, _ := newEngine(t)
	flagged := func(at time.Time, flag string) []alerts.Finding {
		in := input(meter, at, glucose(6))
		in.Message.Flags = []string{flag}
		return faultsOnly(e.Reading(in))
	}
	check(t, "first error", flagged(t0, "strip_error"))
	check(t, "second error", flagged(t0.Add(time.Hour), "sample_too_small"))
	check(t, "a flag that is no error", flagged(t0.Add(2*time.Hour), "battery_low"))
	check(t, "third error within 24 h", flagged(t0.Add(23*time.Hour), "strip_error"), "repeated_errors warning")
	check(t, "fourth", flagged(t0.Add(24*time.Hour), "strip_error"))
	check(t, "Tick 24 h after the last", e.Tick(t0.Add(48*time.Hour)))
	check(t, "Tick over 24 h after the last", faultsOnly(e.Tick(t0.Add(48*time.Hour+time.Second))), "repeated_errors info resolve")

	e, _ = newEngine(t)
	check(t, "errors spread over more than 24 h", slices.Concat(
		flagged(t0, "strip_error"), flagged(t0.Add(13*time.Hour), "strip_error"), flagged(t0.Add(25*time.Hour), "strip_error")))
}

func TestCalibrationOverdue(t *testing.T) {
	e, _ := newEngine(t)
	d := meter
	d.NextCalibration = t0.Add(-24 * time.Hour)
	fs := e.Reading(input(d, t0, glucose(2.5)))
	check(t, "Reading(glucose 2.5) from an uncalibrated meter", fs, "calibration_overdue warning", "glucose_very_low info doubt")
	if len(fs) == 2 && fs[1].Doubt != "device fault calibration_overdue" {
		t.Errorf("Doubt = %q", fs[1].Doubt)
	}
	check(t, "again", faultsOnly(e.Reading(input(d, t0.Add(time.Minute), glucose(6)))))
	d.NextCalibration = t0.Add(180 * 24 * time.Hour)
	check(t, "Track(calibrated)", e.Track(d, shanghai, time.Time{}), "calibration_overdue info resolve")
	check(t, "Reading(glucose 2.5) after calibration", e.Reading(input(d, t0.Add(2*time.Minute), glucose(2.5))), "glucose_very_low urgent")

	// Tick finds a date that passes while the device is quiet.
	e, c := newEngine(t)
	d.NextCalibration = t0.Add(time.Hour)
	e.Track(d, shanghai, t0)
	c.now = t0.Add(30 * time.Minute)
	check(t, "Tick before the date", e.Tick(time.Time{}))
	c.now = t0.Add(2 * time.Hour)
	check(t, "Tick after the date", e.Tick(time.Time{}), "calibration_overdue warning")
}

func TestClockDrift(t *testing.T) {
	type msg struct {
		recv  time.Duration
		times []time.Duration // measurement times of its readings
		flags []string
	}
	tests := []struct {
		name string
		msgs []msg
		want []string
	}{
		{"live readings 6 min behind", []msg{{recv: 6 * time.Minute, times: []time.Duration{0}}, {recv: 11 * time.Minute, times: []time.Duration{5 * time.Minute}}},
			[]string{"clock_drift warning"}},
		{"live readings 6 min ahead", []msg{{recv: 0, times: []time.Duration{6 * time.Minute}}, {recv: 5 * time.Minute, times: []time.Duration{11 * time.Minute}}},
			[]string{"clock_drift warning"}},
		{"live readings 5 min behind", []msg{{recv: 5 * time.Minute, times: []time.Duration{0}}, {recv: 10 * time.Minute, times: []time.Duration{5 * time.Minute}}}, nil},
		{"one reading 6 min old is not enough", []msg{{recv: 6 * time.Minute, times: []time.Duration{0}}}, nil},
		{"a backlog drained one reading a message is no drift", []msg{
			{recv: time.Hour, times: []time.Duration{0}}, {recv: time.Hour + time.Second, times: []time.Duration{5 * time.Minute}},
			{recv: time.Hour + 2*time.Second, times: []time.Duration{10 * time.Minute}}, {recv: time.Hour + 3*time.Second, times: []time.Duration{15 * time.Minute}},
			{recv: time.Hour + 5*time.Minute, times: []time.Duration{time.Hour + 5*time.Minute}}}, nil},
		{"a backlog a second apart, drained at once, is no drift", []msg{
			{recv: 12 * time.Hour, times: []time.Duration{0}}, {recv: 12*time.Hour + time.Millisecond, times: []time.Duration{time.Second}},
			{recv: 12*time.Hour + 2*time.Millisecond, times: []time.Duration{2 * time.Second}},
			{recv: 12*time.Hour + 3*time.Millisecond, times: []time.Duration{2 * time.Minute}},
			{recv: 12*time.Hour + 4*time.Millisecond, times: []time.Duration{4 * time.Minute}}}, nil},
		{"live readings 6 min behind, 30 s apart, are not judged", []msg{{recv: 6 * time.Minute, times: []time.Duration{0}},
			{recv: 6*time.Minute + 30*time.Second, times: []time.Duration{30 * time.Second}}}, nil},
		{"a backlog of several times is not live", []msg{{recv: 3 * time.Hour, times: []time.Duration{0, time.Minute, 2 * time.Minute}}}, nil},
		{"a reading older than the device's newest is not live",
			[]msg{{recv: 3 * time.Hour, times: []time.Duration{3 * time.Hour}}, {recv: 3*time.Hour + time.Second, times: []time.Duration{0}}}, nil},
		{"a time flag", []msg{{recv: 0, times: []time.Duration{0}, flags: []string{"time_fault"}}}, []string{"clock_drift warning"}},
		{"drift then a good live reading resolves",
			[]msg{{recv: 10 * time.Minute, times: []time.Duration{0}}, {recv: 15 * time.Minute, times: []time.Duration{5 * time.Minute}},
				{recv: 20 * time.Minute, times: []time.Duration{20 * time.Minute}}},
			[]string{"clock_drift warning", "clock_drift info resolve"}},
	}
	for _, tt := range tests {
		e, _ := newEngine(t)
		var got []alerts.Finding
		for _, m := range tt.msgs {
			in := input(watch, t0.Add(m.recv))
			for _, d := range m.times {
				in.Message.Readings = append(in.Message.Readings, at(value(reading.Steps, 10), t0.Add(d)))
			}
			in.Message.Flags = m.flags
			got = append(got, faultsOnly(e.Reading(in))...)
		}
		check(t, tt.name, got, tt.want...)
	}

	e, _ := newEngine(t)
	st := reading.Status{Device: watch.ID, Time: t0, Battery: 90, HasBattery: true}
	check(t, "status 10 min behind", e.Status(watch, shanghai, st, t0.Add(10*time.Minute)))
	st.Time = t0.Add(5 * time.Minute)
	check(t, "the next status 10 min behind", e.Status(watch, shanghai, st, t0.Add(15*time.Minute)), "clock_drift warning")
	st.Time = t0.Add(time.Hour)
	check(t, "status on time", e.Status(watch, shanghai, st, t0.Add(time.Hour)), "clock_drift info resolve")
	st.Time, st.TimeMissing = t0.Add(2*time.Hour), true
	check(t, "status without ts", e.Status(watch, shanghai, st, t0.Add(5*time.Hour)))
	check(t, "a future timestamp rejected", e.Rejected(watch, shanghai, string(reading.ReasonFutureTimestamp), t0.Add(6*time.Hour)), "clock_drift warning")
}

func TestStuckSensor(t *testing.T) {
	e, _ := newEngine(t)
	var got []alerts.Finding
	for i := 0; i < 14; i++ {
		got = append(got, faultsOnly(e.Reading(input(cgm, t0.Add(time.Duration(i)*5*time.Minute), cgmGlucose(5.5))))...)
		if i == 10 {
			check(t, "11 identical CGM readings", got)
		}
	}
	check(t, "14 identical CGM readings", got, "stuck_sensor warning")
	// While stuck, the sensor's readings are doubtful.
	fs := e.Reading(input(cgm, t0.Add(70*time.Minute), cgmGlucose(5.5)))
	check(t, "15th", fs)
	fs = e.Reading(input(cgm, t0.Add(75*time.Minute), cgmGlucose(2.5)))
	check(t, "a new value", fs, "stuck_sensor info resolve", "glucose_very_low urgent")

	// A fingerstick meter is no continuous sensor; a wearable's heart rate is.
	e, _ = newEngine(t)
	got = nil
	for i := 0; i < 12; i++ {
		got = append(got, faultsOnly(e.Reading(input(meter, t0.Add(time.Duration(i)*time.Hour), glucose(5.5))))...)
		got = append(got, faultsOnly(e.Reading(input(watch, t0.Add(time.Duration(i)*time.Hour), value(reading.HeartRate, 64))))...)
	}
	check(t, "12 identical meter and wearable readings", got, "stuck_sensor warning")
	if len(got) == 1 && got[0].Device != watch.ID {
		t.Errorf("stuck device = %s; want %s", got[0].Device, watch.ID)
	}
	// Out-of-order readings neither extend nor break the run.
	check(t, "an old different value", faultsOnly(e.Reading(input(watch, t0.Add(30*time.Minute), value(reading.HeartRate, 90)))))
}

func TestStuckSensorDoubt(t *testing.T) {
	e, _ := newEngine(t)
	for i := 0; i < 12; i++ {
		e.Reading(input(watch, t0.Add(time.Duration(i)*time.Minute), value(reading.HeartRate, 140)))
	}
	fs := clinicalOnly(e.Reading(input(watch, t0.Add(12*time.Minute), value(reading.HeartRate, 140))))
	check(t, "heart rate 140 from a stuck sensor", fs, "heart_rate info doubt")
}

func TestMalfunctionStatusDoubt(t *testing.T) {
	e, _ := newEngine(t)
	e.Status(meter, shanghai, reading.Status{Device: meter.ID, Time: t0, Flags: []string{"sensor_malfunction"}}, t0)
	fs := clinicalOnly(e.Reading(input(meter, t0.Add(time.Minute), glucose(2.5))))
	check(t, "glucose 2.5 after a malfunction status", fs, "glucose_very_low info doubt")
	e.Status(meter, shanghai, reading.Status{Device: meter.ID, Time: t0.Add(2 * time.Minute), Battery: 90, HasBattery: true}, t0.Add(2*time.Minute))
	fs = clinicalOnly(e.Reading(input(meter, t0.Add(3*time.Minute), glucose(2.5))))
	check(t, "glucose 2.5 after a clean status", fs, "glucose_very_low urgent")
}

func TestImplausibleValues(t *testing.T) {
	e, _ := newEngine(t)
	rej := func(at time.Duration, reason reading.Reason) []alerts.Finding {
		return e.Rejected(thermo, shanghai, string(reason), t0.Add(at))
	}
	check(t, "first", rej(0, reading.ReasonImplausible))
	check(t, "another reason", rej(time.Hour, reading.ReasonUnknownUnit))
	check(t, "second", rej(2*time.Hour, reading.ReasonImplausible))
	check(t, "third within 24 h", rej(23*time.Hour, reading.ReasonImplausible), "implausible_values warning")
	check(t, "fourth", rej(23*time.Hour+time.Minute, reading.ReasonImplausible))
	check(t, "Tick 24 h after the last", faultsOnly(e.Tick(t0.Add(47*time.Hour+time.Minute))))
	check(t, "Tick later", faultsOnly(e.Tick(t0.Add(48*time.Hour))), "implausible_values info resolve")
}

func TestWarmFaultsRaiseNothing(t *testing.T) {
	e, _ := newEngine(t)
	e.WarmStatus(watch, shanghai, reading.Status{Device: watch.ID, Time: t0, Battery: 4, HasBattery: true}, t0)
	for i := 0; i < 3; i++ {
		e.WarmRejected(thermo, shanghai, string(reading.ReasonImplausible), t0.Add(time.Duration(i)*time.Minute))
	}
	// The state is there: the battery is known to be very low, the implausible readings open.
	check(t, "battery still very low", e.Status(watch, shanghai, reading.Status{Device: watch.ID, Time: t0.Add(time.Minute), Battery: 3, HasBattery: true}, t0.Add(time.Minute)))
	check(t, "a fourth implausible reading", e.Rejected(thermo, shanghai, string(reading.ReasonImplausible), t0.Add(time.Hour)))
}
