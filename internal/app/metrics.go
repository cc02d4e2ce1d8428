package app

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/api"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
)

// fleetCollector reports the size of the registry this instance has in force and, with device
// status, how many devices are in each live state. Counting a city's devices takes a while (a
// second or more for a million devices), so Run counts every fleetRefresh in the
// background and a scrape reports the latest count; the first scrape before Run's first count
// counts itself. Every instance reports the whole fleet (the registry and the live state are
// shared), so take the max over instances, not the sum.
type fleetCollector struct {
	view *devices.View
	live *status.Tracker // nil without device_status.enabled

	devices, patients, version, states *prometheus.Desc

	mu   sync.Mutex
	last *fleetCount // nil until counted
}

// fleetRefresh is how often Run counts the fleet again.
const fleetRefresh = time.Minute

// fleetCount is one count of the fleet.
type fleetCount struct {
	version  int64
	devices  [][]int // by index in devices.Kinds, then in devices.Statuses
	patients int
	states   []int // by index in liveStates
}

// liveStates are the states the collector judges: faulty needs the alert store, which a count
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
				"/api/v1/devices/{id}/status judges them, counted every minute; a device may be in several.", []string{"state"}, nil),
	}
}

// Run counts the fleet at once and then every fleetRefresh, until ctx ends.
func (c *fleetCollector) Run(ctx context.Context) error {
	t := time.NewTicker(fleetRefresh)
	defer t.Stop()
	for {
		c.refresh()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// refresh counts the registry in force (again only when its version changed) and the devices'
// live states.
func (c *fleetCollector) refresh() {
	dir := c.view.Load()
	c.mu.Lock()
	last := c.last
	c.mu.Unlock()
	n := &fleetCount{version: dir.Version(), states: make([]int, len(liveStates))}
	if last != nil && last.version == n.version {
		n.devices, n.patients = last.devices, last.patients
	}
	kinds := make(map[devices.Kind]int, len(devices.Kinds))
	for i, k := range devices.Kinds {
		kinds[k] = i
	}
	statuses := make(map[devices.Status]int, len(devices.Statuses))
	for i, s := range devices.Statuses {
		statuses[s] = i
	}
	registry := n.devices == nil
	if registry {
		n.devices = make([][]int, len(devices.Kinds))
		for i := range n.devices {
			n.devices[i] = make([]int, len(devices.Statuses))
		}
		dir.Patients(func(*devices.Patient) bool { n.patients++; return true })
	}
	if !registry && c.live == nil {
		c.store(n)
		return
	}
	var lim status.Limits
	var now time.Time
	if c.live != nil {
		lim, now = c.live.Limits(), c.live.Now()
	}
	dir.Devices(func(d *devices.Device, _ []devices.Assignment) bool {
		if registry {
			k, okK := kinds[d.Kind]
			s, okS := statuses[d.Status]
			if okK && okS {
				n.devices[k][s]++
			}
		}
		if c.live != nil {
			seen, _ := c.live.Seen(d.ID)
			for _, st := range status.Judge(d, &seen, 0, lim, now) {
				if i := slices.Index(liveStates, st); i >= 0 {
					n.states[i]++
				}
			}
		}
		return true
	})
	c.store(n)
}

func (c *fleetCollector) store(n *fleetCount) {
	c.mu.Lock()
	c.last = n
	c.mu.Unlock()
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

// Collect reports the latest count, counting first if there is none yet.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	n := c.last
	c.mu.Unlock()
	if n == nil {
		c.refresh()
		c.mu.Lock()
		n = c.last
		c.mu.Unlock()
	}
	for k, kind := range devices.Kinds {
		for s, st := range devices.Statuses {
			ch <- prometheus.MustNewConstMetric(c.devices, prometheus.GaugeValue, float64(n.devices[k][s]), string(kind), string(st))
		}
	}
	ch <- prometheus.MustNewConstMetric(c.patients, prometheus.GaugeValue, float64(n.patients))
	ch <- prometheus.MustNewConstMetric(c.version, prometheus.GaugeValue, float64(n.version))
	if c.live != nil {
		for i, st := range liveStates {
			ch <- prometheus.MustNewConstMetric(c.states, prometheus.GaugeValue, float64(n.states[i]), string(st))
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
