package api

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	devstatus "github.com/vitalwatch/vitalwatch/devices/status"
)

// TestMeasureDeviceStatusRoutes times the live status routes for a site with 10,000 devices
// (VITALWATCH_MEASURE_STATUS=N runs each request N times and prints the medians; it does not
// run otherwise): the device list filtered by state, its first page with the states, the
// site's fleet counts and one device's status. 8,000 of the devices were heard from, at times
// spread over two days, and 300 have an open fault alert.
func TestMeasureDeviceStatusRoutes(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("VITALWATCH_MEASURE_STATUS"))
	if runs <= 0 {
		t.Skip("set VITALWATCH_MEASURE_STATUS=N to measure")
	}
	const n = 10000
	f := newRegistryFixture(t)
	ctx := context.Background()
	seed := audit.WithActor(ctx, "test:seed")
	kinds := []devices.Kind{devices.BPCuff, devices.GlucoseMeter, devices.Oximeter, devices.Thermometer, devices.Scale}
	var devs []devices.Device
	for i := range n {
		devs = append(devs, devices.Device{ID: fmt.Sprintf("m%05d", i), Kind: kinds[i%len(kinds)], SiteID: "sA",
			Mode: devices.Home, Status: devices.Active, SecretHash: "x"})
	}
	for chunk := range slices.Chunk(devs, 1000) {
		if err := f.store.CreateDevices(seed, chunk); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if _, _, _, err := f.store.ApplyFinding(ctx, faultAt("battery_low", fmt.Sprintf("m%05d", i*30), "sA", alerts.Warning, i)); err != nil {
			t.Fatal(err)
		}
	}
	tr := devstatus.NewTracker(devstatus.DefaultLimits(), func() time.Time { return statusNow })
	var msgs []devstatus.Message
	for i := range 8000 {
		at := statusNow.Add(-time.Duration(i*21) * time.Second) // over about 47 hours
		msgs = append(msgs, devstatus.Message{Device: fmt.Sprintf("m%05d", i), Received: at, Readings: 2,
			Measured: at, OwnClock: true, Battery: float64(5 + i%95), HasBattery: true})
	}
	tr.Observe(msgs)
	f.refresh()
	serveDeviceStatus(f, tr)

	for _, path := range []string{
		"/devices?site=sA&state=offline&limit=100",
		"/devices?site=sA&state=battery_low&limit=100",
		"/devices?site=sA&limit=100",
		"/sites/sA/fleet",
		"/devices/m04000/status",
	} {
		var took []time.Duration
		for range runs {
			start := time.Now()
			w := f.call("admin", "GET", path, "")
			took = append(took, time.Since(start))
			if w.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, w.Code, w.Body)
			}
		}
		slices.Sort(took)
		t.Logf("%-45s median %7.1f ms (min %.1f, max %.1f) over %d runs", path,
			ms(took[len(took)/2]), ms(took[0]), ms(took[len(took)-1]), runs)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
