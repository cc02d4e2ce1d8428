package status

import (
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
)

// The limits are the alert rules': device_offline's multiplier times each kind's interval,
// battery_low's low band; a rules file changes both.
func TestLimitsOfTheRules(t *testing.T) {
	lim := DefaultLimits()
	for k, want := range map[devices.Kind]time.Duration{
		devices.Wearable: 15 * time.Minute, devices.CGM: 15 * time.Minute, devices.Station: 3 * time.Hour,
		devices.GlucoseMeter: 72 * time.Hour, devices.BPCuff: 72 * time.Hour, devices.Oximeter: 72 * time.Hour,
		devices.Thermometer: 72 * time.Hour, devices.Scale: 72 * time.Hour,
	} {
		if got := lim.OfflineAfter(k); got != want {
			t.Errorf("default OfflineAfter(%s) = %v; want %v", k, got, want)
		}
	}
	if lim.BatteryLowAt != 20 {
		t.Errorf("default BatteryLowAt = %v; want 20", lim.BatteryLowAt)
	}
	r, err := rules.ParseRules([]byte("version: 2\nrules:\n  device_offline:\n    multiplier: 2\n    wearable_interval: 10m\n" +
		"  battery_low:\n    low_at_or_below: 30\n"))
	if err != nil {
		t.Fatal(err)
	}
	lim, err = LimitsOf(r.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if got := lim.OfflineAfter(devices.Wearable); got != 20*time.Minute {
		t.Errorf("OfflineAfter(wearable) with multiplier 2, interval 10m = %v; want 20m", got)
	}
	if got := lim.OfflineAfter(devices.Station); got != 2*time.Hour {
		t.Errorf("OfflineAfter(station) with multiplier 2 = %v; want 2h", got)
	}
	if lim.BatteryLowAt != 30 {
		t.Errorf("BatteryLowAt = %v; want 30 from the file", lim.BatteryLowAt)
	}
}

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func TestJudge(t *testing.T) {
	lim := DefaultLimits()
	cuff := devices.Device{ID: "c1", Kind: devices.BPCuff, Status: devices.Active}
	wear := devices.Device{ID: "w1", Kind: devices.Wearable, Status: devices.Active}
	with := func(d devices.Device, f func(*devices.Device)) devices.Device { f(&d); return d }
	tests := []struct {
		name   string
		dev    devices.Device
		seen   Seen
		faults int
		now    time.Time
		want   []State
	}{
		{"never heard", cuff, Seen{}, 0, t0, []State{Offline}},
		{"heard within the limit", wear, Seen{LastMessage: t0.Add(-15 * time.Minute)}, 0, t0, []State{Online}},
		{"silent past the limit", wear, Seen{LastMessage: t0.Add(-15*time.Minute - time.Millisecond)}, 0, t0, []State{Offline}},
		{"a cuff silent 71h is online", cuff, Seen{LastMessage: t0.Add(-71 * time.Hour)}, 0, t0, []State{Online}},
		{"a cuff silent 73h is offline", cuff, Seen{LastMessage: t0.Add(-73 * time.Hour)}, 0, t0, []State{Offline}},
		{"last will after the last message", wear, Seen{LastMessage: t0.Add(-time.Minute), Event: LastWill, EventAt: t0.Add(-time.Minute)}, 0, t0, []State{Offline}},
		{"heard again after the will", wear, Seen{LastMessage: t0, Event: LastWill, EventAt: t0.Add(-time.Minute)}, 0, t0, []State{Online}},
		{"connection lost", wear, Seen{LastMessage: t0.Add(-time.Minute), Event: ConnectionLost, EventAt: t0}, 0, t0, []State{Offline}},
		{"broker stopped", wear, Seen{LastMessage: t0.Add(-time.Minute), Event: BrokerStopped, EventAt: t0}, 0, t0, []State{Offline}},
		{"just connected, nothing sent yet", wear, Seen{Event: Connect, EventAt: t0.Add(-time.Minute)}, 0, t0, []State{Online}},
		{"connected long ago, silent since", wear, Seen{LastMessage: t0.Add(-time.Hour), Event: Connect, EventAt: t0.Add(-20 * time.Minute)}, 0, t0, []State{Offline}},
		{"a clean disconnect is not offline", cuff, Seen{LastMessage: t0.Add(-time.Minute), Event: Disconnect, EventAt: t0}, 0, t0, []State{Online}},
		{"maintenance is never offline", with(cuff, func(d *devices.Device) { d.Status = devices.Maintenance }), Seen{}, 0, t0, nil},
		{"in transit is never offline", with(wear, func(d *devices.Device) { d.Status = devices.InTransit }),
			Seen{LastMessage: t0.Add(-time.Hour), Event: LastWill, EventAt: t0.Add(-time.Hour)}, 0, t0, nil},
		{"maintenance, heard, is online", with(wear, func(d *devices.Device) { d.Status = devices.Maintenance }), Seen{LastMessage: t0}, 0, t0, []State{Online}},
		{"battery at the low band", wear, Seen{LastMessage: t0, Battery: 20, BatteryAt: t0}, 0, t0, []State{Online, BatteryLow}},
		{"battery above it", wear, Seen{LastMessage: t0, Battery: 21, BatteryAt: t0}, 0, t0, []State{Online}},
		{"battery never reported", wear, Seen{LastMessage: t0}, 0, t0, []State{Online}},
		{"calibration passed", with(cuff, func(d *devices.Device) { d.NextCalibration = t0.Add(-time.Second) }),
			Seen{LastMessage: t0}, 0, t0, []State{Online, CalibrationDue}},
		{"calibration due later", with(cuff, func(d *devices.Device) { d.NextCalibration = t0.Add(time.Hour) }),
			Seen{LastMessage: t0}, 0, t0, []State{Online}},
		{"open fault", cuff, Seen{LastMessage: t0}, 2, t0, []State{Online, Faulty}},
		{"everything", with(cuff, func(d *devices.Device) { d.NextCalibration = t0.Add(-time.Hour) }),
			Seen{Battery: 3, BatteryAt: t0.Add(-100 * time.Hour)}, 1, t0, []State{Offline, BatteryLow, CalibrationDue, Faulty}},
		{"retired: only faulty", with(cuff, func(d *devices.Device) { d.Status = devices.Retired; d.NextCalibration = t0.Add(-time.Hour) }),
			Seen{Battery: 3, BatteryAt: t0}, 1, t0, []State{Faulty}},
	}
	for _, tt := range tests {
		if got := Judge(&tt.dev, &tt.seen, tt.faults, lim, tt.now); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Judge = %v; want %v", tt.name, got, tt.want)
		}
	}
}
