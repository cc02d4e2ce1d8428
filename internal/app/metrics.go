package app

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/api"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
)

// fleetCollector reports, at each scrape, the size of the registry this instance has in force
// and, with device status, how many devices are in each live state. Every instance reports the
// whole fleet (the registry and the live state are shared), so take the max over instances, not
// the sum.
type fleetCollector struct {
	view *devices.View
	live *status.Tracker // nil without device_status.enabled

	devices, patients, version, states *prometheus.Desc
}

// liveStates are the states the collector judges: faulty needs the alert store, which a scrape
// does not read (GET /api/v1/sites/{id}/fleet counts it).
var liveStates = []status.State{status.Online, status.Offline, status.BatteryLow, status.CalibrationDue}

func newFleetCollector(view *devices.View, live *status.Tracker) *fleetCollector {
	return &fleetCollector{view: view, live: live,
		devices: prometheus.NewDesc("vitalwatch_registry_devices",
			"Devices in the registry in force on this instance, by kind and registry status.", []string{"kind", "status"}, nil),
		patients: prometheus.NewDesc("vitalwatch_registry_patients",
			"Patients in the registry in force on this instance.", nil, nil),
		version: prometheus.NewDesc("vitalwatch_registry_version",
			"Version of the registry in force on this instance; it rises with every change.", nil, nil),
		states: prometheus.NewDesc("vitalwatch_devices_in_state",
			"Registered devices in each live state (online, offline, battery_low, calibration_due), as GET "+
				"/api/v1/devices/{id}/status judges them; a device may be in several.", []string{"state"}, nil),
	}
}

// Describe sends the descriptions of the metrics.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.devices
	ch <- c.patients
	ch <- c.version
	if c.live != nil {
		ch <- c.states
	}
}

// Collect counts the registry's devices and patients and, with device status, judges each
// device's live state.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	dir := c.view.Load()
	type kindStatus struct {
		kind   devices.Kind
		status devices.Status
	}
	counts := map[kindStatus]int{}
	for _, k := range devices.Kinds {
		for _, s := range devices.Statuses {
			counts[kindStatus{k, s}] = 0
		}
	}
	inState := make(map[status.State]int, len(liveStates))
	var lim status.Limits
	var now time.Time
	if c.live != nil {
		lim, now = c.live.Limits(), c.live.Now()
	}
	dir.Devices(func(d *devices.Device, _ []devices.Assignment) bool {
		counts[kindStatus{d.Kind, d.Status}]++
		if c.live != nil {
			seen, _ := c.live.Seen(d.ID)
			for _, s := range status.Judge(d, &seen, 0, lim, now) {
				inState[s]++
			}
		}
		return true
	})
	for ks, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.devices, prometheus.GaugeValue, float64(n), string(ks.kind), string(ks.status))
	}
	patients := 0
	dir.Patients(func(*devices.Patient) bool { patients++; return true })
	ch <- prometheus.MustNewConstMetric(c.patients, prometheus.GaugeValue, float64(patients))
	ch <- prometheus.MustNewConstMetric(c.version, prometheus.GaugeValue, float64(dir.Version()))
	if c.live != nil {
		for _, s := range liveStates {
			ch <- prometheus.MustNewConstMetric(c.states, prometheus.GaugeValue, float64(inState[s]), string(s))
		}
	}
}

// readinessCollector runs the readiness checks at each scrape, as /readyz does, and reports
// each as vitalwatch_ready{check}: 1 when it passes, 0 when it fails. So an alerting rule sees
// InfluxDB or the store go away even when no reading arrives to fail a write.
type readinessCollector struct {
	checks []api.Check
	desc   *prometheus.Desc
}

func newReadinessCollector(checks []api.Check) *readinessCollector {
	return &readinessCollector{checks: checks, desc: prometheus.NewDesc("vitalwatch_ready",
		"1 when the readiness check passes at the scrape, 0 when it fails, as GET /readyz reports it "+
			"(store; with ingest: broker, influx, spool).", []string{"check"}, nil)}
}

// Describe sends the description of vitalwatch_ready.
func (c *readinessCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect runs every check at once, each bounded by the 3 s of /readyz.
func (c *readinessCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, chk := range c.checks {
		wg.Go(func() {
			ok := 0.0
			if chk.Check(ctx) == nil {
				ok = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, ok, chk.Name)
		})
	}
	wg.Wait()
}
