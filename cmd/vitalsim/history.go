package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/simulators"
)

// runHistory publishes what every device of the fleet would have sent from from until to (its
// simulators.Backlog), as fast as the broker acknowledges: the load mode's publishers and
// window, with --auth each device signed in as itself, and no pacing, status or bad payloads.
// Each publisher sends round-robin over its devices, every device's messages in time order.
func runHistory(ctx context.Context, cfg config, fleet *simulators.Fleet, from, to time.Time, st *stats) error {
	cfg.realtime = false // the history is published the load mode's way, whatever follows it
	workers, closeAll, err := newPublishers(ctx, cfg, fleet.Devices(), st)
	if err != nil || workers == nil {
		return err
	}
	defer closeAll()
	var wg sync.WaitGroup
	st.begin(time.Now())
	for _, w := range workers {
		for i := range w.devices {
			w.devices[i].backlog = fleet.Backlog(w.devices[i].Device, from, to)
		}
		wg.Go(func() { w.runBacklog(ctx) })
	}
	wg.Wait()
	return nil
}

// runBacklog publishes the backlogs of the worker's devices until each is done or ctx ends.
func (w *loadWorker) runBacklog(ctx context.Context) {
	w.window = make([]inflight, w.cfg.window)
	defer w.drain()
	active := make([]*loadDevice, len(w.devices))
	for i := range w.devices {
		active[i] = &w.devices[i]
	}
	for i := 0; len(active) > 0 && ctx.Err() == nil; {
		i %= len(active)
		d := active[i]
		m, ok := d.backlog.Next()
		if !ok {
			active = slices.Delete(active, i, i+1)
			continue
		}
		o := outcome{kind: d.Kind, readings: m.Readings, device: d.ID, day: simulators.Day(m.Time)}
		if !w.publish(ctx, d.client, d.telemetry, m.AppendJSON(make([]byte, 0, 256)), o) {
			return
		}
		i++
	}
}

// liveDevices are the devices that publish live: all but the scenario's failing station,
// which broke at the end of the history.
func liveDevices(fleet *simulators.Fleet) []*simulators.Device {
	return slices.DeleteFunc(slices.Clone(fleet.Devices()), func(d *simulators.Device) bool { return d == fleet.Failing() })
}

// profilesFileName is the file of an export that names the devices with a profile.
const profilesFileName = "profiles.txt"

// writeProfiles writes the devices of the fleet that have a profile (simulators.ProfileFor),
// one a line, for scripts (awk '$1 == "full_cgm" {print $3}') and people, and says so:
//
//	full_cgm sim-cgm-0001 P-000016
//	home_bp_protocol sim-bp-0001 P-000018
func writeProfiles(path string, fleet *simulators.Fleet, stdout io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# In a --history, a full_cgm device reports every 5 minutes over the last %d days (one sensor change), and a\n", simulators.FullCGMDays)
	fmt.Fprintf(&b, "# home_bp_protocol cuff measures the ESH protocol over the last %d days (morning and evening, two readings each).\n", simulators.HomeBPDays)
	n := 0
	for _, d := range fleet.Devices() {
		if p := d.Profile(); p != simulators.ProfileNone {
			fmt.Fprintf(&b, "%s %s %s\n", p, d.ID, d.Patient)
			n++
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("registry export: %w", err)
	}
	fmt.Fprintf(stdout, "vitalsim: %d devices with a history profile (a full CGM wearer, the home BP protocol) in %s\n", n, path)
	return nil
}

// historySummary is what a history published, in the --out summary.
type historySummary struct {
	From     time.Time `json:"from"` // midnight, local, of the first day
	To       time.Time `json:"to"`   // exclusive: when the run started
	Sent     int64     `json:"sent"` // telemetry acknowledged
	Errors   int64     `json:"errors"`
	Duration float64   `json:"duration_seconds"`
	Rate     float64   `json:"rate"`
	// ByKind is the telemetry acknowledged per device kind.
	ByKind map[string]int64 `json:"by_kind"`
	// ByDeviceDay is the telemetry acknowledged per device and local day (YYYY-MM-DD, in the
	// centres' zone). Every message is one measurement time, so these are the uses that
	// utilisation counts.
	ByDeviceDay map[string]map[string]int64 `json:"by_device_day"`
}

func (s *stats) historySummary(from, to time.Time) *historySummary {
	sum := s.summary(config{}, 0)
	h := &historySummary{From: from, To: to, Sent: sum.Sent, Errors: sum.Errors, Duration: sum.Duration, Rate: sum.Rate,
		ByKind: sum.GoodByKind, ByDeviceDay: map[string]map[string]int64{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for dev, days := range s.days {
		h.ByDeviceDay[dev] = map[string]int64{}
		for day, n := range days {
			h.ByDeviceDay[dev][day] = n
		}
	}
	return h
}

// deviceDays is how many device-days had a message.
func (h *historySummary) deviceDays() int {
	n := 0
	for _, days := range h.ByDeviceDay {
		n += len(days)
	}
	return n
}

// days is a flag.Value for --history: a Go duration ("36h"), or a number of days with "d",
// alone or before one ("130d", "1d12h").
type days time.Duration

func (d *days) String() string {
	if d == nil {
		return "0"
	}
	return formatDays(time.Duration(*d))
}

// formatDays writes d as --history reads it: "130d", "1d12h0m0s", "36m0s".
func formatDays(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return "0"
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d > day:
		return fmt.Sprintf("%dd%v", d/day, d%day)
	}
	return d.String()
}

func (d *days) Set(s string) error {
	v, err := parseDays(s)
	if err != nil {
		return err
	}
	*d = days(v)
	return nil
}

func parseDays(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	if n, after, ok := strings.Cut(s, "d"); ok {
		dd, err := strconv.Atoi(n)
		if err != nil || dd < 0 || dd > 3660 {
			return 0, fmt.Errorf("%q: want a duration such as 130d, 36h or 1d12h", s)
		}
		total, rest = time.Duration(dd)*24*time.Hour, after
	}
	if rest != "" {
		v, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 130d, 36h or 1d12h", s)
		}
		total += v
	}
	return total, nil
}
