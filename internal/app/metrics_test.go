package app

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/api"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
)

// The fleet collector counts the registry in force by kind and status, and the devices' live
// states as the status route judges them, at each scrape.
func TestFleetCollector(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	devs := []devices.Device{
		{ID: "cgm-1", Kind: devices.CGM, Status: devices.Active},
		{ID: "cgm-2", Kind: devices.CGM, Status: devices.Active, NextCalibration: now.Add(-time.Hour)},
		{ID: "cuff-1", Kind: devices.BPCuff, Status: devices.Maintenance},
		{ID: "cuff-2", Kind: devices.BPCuff, Status: devices.Retired},
	}
	view := devices.NewView(devices.NewDirectory(7, devs, nil, []string{"p1"}).WithPatients([]devices.Patient{{ID: "p1"}, {ID: "p2"}}))
	live := status.NewTracker(status.DefaultLimits(), func() time.Time { return now })
	live.Observe([]status.Message{{Device: "cgm-1", Received: now.Add(-time.Minute), Readings: 1, Battery: 12, HasBattery: true,
		Measured: now.Add(-time.Minute)}})
	reg := prometheus.NewRegistry()
	c := newFleetCollector(view, live)
	reg.MustRegister(c)
	got := gathered(t, reg)
	for series, want := range map[string]float64{
		`vitalwatch_registry_devices{kind="cgm",status="active"}`:          2,
		`vitalwatch_registry_devices{kind="bp_cuff",status="maintenance"}`: 1,
		`vitalwatch_registry_devices{kind="bp_cuff",status="retired"}`:     1,
		`vitalwatch_registry_devices{kind="scale",status="active"}`:        0,
		`vitalwatch_registry_patients`:                                     2,
		`vitalwatch_registry_version`:                                      7,
		`vitalwatch_devices_in_state{state="online"}`:                      1, // cgm-1, heard a minute ago
		`vitalwatch_devices_in_state{state="offline"}`:                     1, // cgm-2, never heard; cuff-1 is under maintenance
		`vitalwatch_devices_in_state{state="battery_low"}`:                 1, // cgm-1 at 12 %
		`vitalwatch_devices_in_state{state="calibration_due"}`:             1, // cgm-2
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v); want %v", series, v, ok, want)
		}
	}
	if n := len(got); n != len(devices.Kinds)*len(devices.Statuses)+2+4 {
		t.Errorf("%d series; want every kind and status, patients, version and 4 states", n)
	}

	// A scrape reports the last count; the next count (Run's, every fleetRefresh) sees what
	// changed: a device heard from, a new registry version.
	live.Observe([]status.Message{{Device: "cgm-2", Received: now, Readings: 1, Measured: now}})
	view.Store(devices.NewDirectory(8, devs[:3], nil, nil))
	if got := gathered(t, reg); got[`vitalwatch_devices_in_state{state="online"}`] != 1 || got[`vitalwatch_registry_version`] != 7 {
		t.Errorf("before the next count: online %v, version %v; want the last count's 1 and 7",
			got[`vitalwatch_devices_in_state{state="online"}`], got[`vitalwatch_registry_version`])
	}
	c.refresh()
	got = gathered(t, reg)
	for series, want := range map[string]float64{
		`vitalwatch_devices_in_state{state="online"}`:                      2,
		`vitalwatch_devices_in_state{state="offline"}`:                     0,
		`vitalwatch_registry_version`:                                      8,
		`vitalwatch_registry_devices{kind="bp_cuff",status="retired"}`:     0,
		`vitalwatch_registry_devices{kind="bp_cuff",status="maintenance"}`: 1,
		`vitalwatch_registry_patients`:                                     0,
	} {
		if got[series] != want {
			t.Errorf("after the next count: %s = %v; want %v", series, got[series], want)
		}
	}

	// Without device status, the registry alone.
	reg = prometheus.NewRegistry()
	reg.MustRegister(newFleetCollector(view, nil))
	for series := range gathered(t, reg) {
		if strings.HasPrefix(series, "vitalwatch_devices_in_state") {
			t.Errorf("%s gathered without device status", series)
		}
	}
}

// gathered is every series of reg, written name{label="value",...}, with its value.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(slices.Sorted(slices.Values(labels)), ",") + "}"
			}
			out[name] = m.GetGauge().GetValue()
		}
	}
	return out
}

// vitalwatch_ready runs the readiness checks at the scrape: 1 for one that passes, 0 for one
// that fails.
func TestReadinessCollector(t *testing.T) {
	influxUp := false
	reg := prometheus.NewRegistry()
	reg.MustRegister(newReadinessCollector([]api.Check{
		{Name: "store", Check: func(context.Context) error { return nil }},
		{Name: "influx", Check: func(context.Context) error {
			if !influxUp {
				return errors.New("connection refused")
			}
			return nil
		}},
	}))
	for _, up := range []bool{false, true} {
		influxUp = up
		got := gathered(t, reg)
		want := map[string]float64{`vitalwatch_ready{check="store"}`: 1, `vitalwatch_ready{check="influx"}`: 0}
		if up {
			want[`vitalwatch_ready{check="influx"}`] = 1
		}
		if !maps.Equal(got, want) {
			t.Errorf("with InfluxDB up %v: gathered %v; want %v", up, got, want)
		}
	}
}
