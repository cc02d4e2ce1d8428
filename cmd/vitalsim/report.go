package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/simulators"
)

// stats counts what the broker acknowledged. Counters are atomics shared by the publishing
// goroutines; the maps are filled before any goroutine starts and only read afterwards.
type stats struct {
	begun    atomic.Int64 // Unix ns of the first publish, once connected; 0 before
	end      atomic.Int64 // Unix ns of the last acknowledgement
	finished time.Time

	sent     atomic.Int64 // telemetry acknowledged, bad included
	bad      atomic.Int64
	status   atomic.Int64
	errors   atomic.Int64
	inflight atomic.Int64

	byType   map[reading.Type]*atomic.Int64 // readings in good telemetry
	byKind   map[simulators.Kind]*atomic.Int64
	byReason map[reading.Reason]*atomic.Int64

	mu      sync.Mutex
	lastErr string
	days    map[string]map[string]int64 // telemetry per device and local day, of a history
}

func newStats() *stats {
	s := &stats{
		byType:   map[reading.Type]*atomic.Int64{},
		byKind:   map[simulators.Kind]*atomic.Int64{},
		byReason: map[reading.Reason]*atomic.Int64{},
	}
	for _, t := range reading.Types {
		s.byType[t] = new(atomic.Int64)
	}
	for _, k := range simulators.Kinds {
		s.byKind[k] = new(atomic.Int64)
	}
	for _, r := range simulators.BadReasons {
		s.byReason[r] = new(atomic.Int64)
	}
	return s
}

// begin marks the start of publishing: rates do not count the time spent connecting.
func (s *stats) begin(at time.Time) { s.begun.Store(at.UnixNano()) }

func (s *stats) start() time.Time {
	if ns := s.begun.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// outcome is what one publish was, so that its acknowledgement can be counted.
type outcome struct {
	status   bool
	kind     simulators.Kind
	readings []simulators.Reading // good telemetry
	reason   reading.Reason       // bad telemetry
	// device and day (local, YYYY-MM-DD) of a history's telemetry, counted per device-day
	device, day string
}

// acked counts a publish the broker acknowledged (QoS 1, 2) or that was written (QoS 0).
func (s *stats) acked(o outcome, at time.Time) {
	s.end.Store(at.UnixNano())
	if o.status {
		s.status.Add(1)
		return
	}
	s.sent.Add(1)
	if o.reason != "" {
		s.bad.Add(1)
		if c := s.byReason[o.reason]; c != nil {
			c.Add(1)
		}
		return
	}
	if c := s.byKind[o.kind]; c != nil {
		c.Add(1)
	}
	if o.day != "" {
		s.mu.Lock()
		if s.days == nil {
			s.days = map[string]map[string]int64{}
		}
		if s.days[o.device] == nil {
			s.days[o.device] = map[string]int64{}
		}
		s.days[o.device][o.day]++
		s.mu.Unlock()
	}
	for _, r := range o.readings {
		if c := s.byType[r.Type]; c != nil {
			c.Add(1)
		}
	}
}

func (s *stats) failed(err error) {
	s.errors.Add(1)
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
}

func (s *stats) finish(at time.Time) { s.finished = at }

// startLive prints a progress line to w once a second until the returned function is called.
func startLive(s *stats, w io.Writer, quiet bool) (stop func()) {
	if quiet {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		var lastAt time.Time
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				start := s.start()
				if start.IsZero() {
					fmt.Fprintln(w, "vitalsim: connecting")
					continue
				}
				if lastAt.IsZero() {
					lastAt = start
				}
				sent := s.sent.Load()
				elapsed := now.Sub(start)
				fmt.Fprintf(w, "vitalsim: %.1fs sent %d (%.0f msg/s, last second %.0f) bad %d status %d errors %d in flight %d\n",
					elapsed.Seconds(), sent, perSecond(sent, elapsed),
					perSecond(sent-last, now.Sub(lastAt)), s.bad.Load(), s.status.Load(), s.errors.Load(), s.inflight.Load())
				last, lastAt = sent, now
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// summary is the result of a run, as printed and as written by --out.
type summary struct {
	Mode     string  `json:"mode"`
	Broker   string  `json:"broker"`
	Devices  int     `json:"devices"`
	Seed     int64   `json:"seed"`
	Conns    int     `json:"conns"`
	Auth     bool    `json:"auth"`             // each device signed in as itself
	Duration float64 `json:"duration_seconds"` // from the first publish to the last acknowledgement
	Rate     float64 `json:"rate"`             // telemetry acknowledged per second over Duration

	Sent   int64 `json:"sent"` // telemetry acknowledged, bad included
	Good   int64 `json:"good"`
	Bad    int64 `json:"bad"`
	Status int64 `json:"status"`
	Errors int64 `json:"errors"`

	ReadingsByType map[string]int64 `json:"readings_by_type"`
	GoodByKind     map[string]int64 `json:"good_by_kind"`
	BadByReason    map[string]int64 `json:"bad_by_reason"`
	LastError      string           `json:"last_error,omitempty"`

	Scenario string          `json:"scenario,omitempty"`
	Failing  string          `json:"failing_device,omitempty"` // the scenario's, which sends no live messages
	History  *historySummary `json:"history,omitempty"`        // with --history
	Script   *scriptSummary  `json:"script,omitempty"`         // with --scenario FILE
	Sessions *sessionSummary `json:"sessions,omitempty"`       // with --sessions
}

// summary sums up the run of cfg over devices devices (those that published live).
func (s *stats) summary(cfg config, devices int) summary {
	end := s.finished
	if ns := s.end.Load(); ns != 0 {
		end = time.Unix(0, ns)
	}
	var elapsed time.Duration
	if start := s.start(); !start.IsZero() {
		elapsed = end.Sub(start)
	}
	sum := summary{
		Mode: "load", Broker: cfg.broker, Devices: devices, Seed: cfg.seed, Conns: min(cfg.conns, devices), Auth: cfg.auth,
		Duration: elapsed.Seconds(), Rate: perSecond(s.sent.Load(), elapsed),
		Sent: s.sent.Load(), Bad: s.bad.Load(), Status: s.status.Load(), Errors: s.errors.Load(),
		ReadingsByType: map[string]int64{}, GoodByKind: map[string]int64{}, BadByReason: map[string]int64{},
	}
	if cfg.realtime {
		sum.Mode = "realtime"
	}
	if cfg.realtime || cfg.auth || cfg.sessions {
		sum.Conns = devices
	}
	if cfg.sessions {
		sum.Mode = "sessions"
	}
	sum.Good = sum.Sent - sum.Bad
	for t, c := range s.byType {
		if n := c.Load(); n > 0 {
			sum.ReadingsByType[string(t)] = n
		}
	}
	for k, c := range s.byKind {
		if n := c.Load(); n > 0 {
			sum.GoodByKind[string(k)] = n
		}
	}
	for r, c := range s.byReason {
		if n := c.Load(); n > 0 {
			sum.BadByReason[string(r)] = n
		}
	}
	s.mu.Lock()
	sum.LastError = s.lastErr
	s.mu.Unlock()
	return sum
}

func (sum summary) write(w io.Writer) {
	login := ""
	if sum.Auth {
		login = ", each signed in as itself"
	}
	if sum.Mode == "script" {
		fmt.Fprintf(w, "vitalsim: a scripted scenario alone%s, seed %d, broker %s\n", login, sum.Seed, sum.Broker)
		sum.Script.write(w)
		return
	}
	fmt.Fprintf(w, "vitalsim: %s mode, %d devices over %d connections%s, seed %d, broker %s\n",
		sum.Mode, sum.Devices, sum.Conns, login, sum.Seed, sum.Broker)
	fmt.Fprintf(w, "sent %d telemetry messages in %.2fs: %.0f msg/s\n", sum.Sent, sum.Duration, sum.Rate)
	fmt.Fprintf(w, "  good %d, bad %d, status %d, errors %d\n", sum.Good, sum.Bad, sum.Status, sum.Errors)
	if len(sum.BadByReason) > 0 {
		fmt.Fprintf(w, "  bad by reason: %s\n", counts(sum.BadByReason, reasonNames()))
	}
	if len(sum.ReadingsByType) > 0 {
		fmt.Fprintf(w, "  readings by type: %s\n", counts(sum.ReadingsByType, typeNames()))
	}
	if h := sum.History; h != nil {
		fmt.Fprintf(w, "  history %s to %s: %d telemetry messages (%d device-days) in %.2fs: %.0f msg/s, errors %d\n",
			h.From.Format(time.RFC3339), h.To.In(h.From.Location()).Format(time.RFC3339), h.Sent, h.deviceDays(), h.Duration, h.Rate, h.Errors)
	}
	if sum.Failing != "" {
		fmt.Fprintf(w, "  scenario %s: failing device %s (flagged %s on its last day, two days ago, and silent since)\n",
			sum.Scenario, sum.Failing, simulators.FailureFlag)
	} else if sum.Scenario != "" {
		fmt.Fprintf(w, "  scenario %s\n", sum.Scenario)
	}
	if sum.Script != nil {
		sum.Script.write(w)
	}
	if sum.Sessions != nil {
		sum.Sessions.write(w)
	}
	if sum.LastError != "" {
		fmt.Fprintf(w, "  last error: %s\n", sum.LastError)
	}
	if sum.Mode == "history" {
		return // measured in the past: no clock to run ahead of
	}
	// A device's timestamps step at least 1 ms per message (simulators.Device.Message).
	perDevice := time.Duration(sum.Sent/int64(max(sum.Devices, 1))) * time.Millisecond
	if ahead := perDevice - time.Duration(sum.Duration*float64(time.Second)); ahead > time.Second {
		fmt.Fprintf(w, "  warning: device timestamps ran up to %v ahead of the clock (over 1000 messages/s per device); use more --devices\n",
			ahead.Truncate(time.Second))
	}
}

func (sum summary) writeFile(path string) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

// counts formats m as "a 1, b 2" in the order of names.
func counts(m map[string]int64, names []string) string {
	var parts []string
	for _, n := range names {
		if v, ok := m[n]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", n, v))
		}
	}
	return strings.Join(parts, ", ")
}

func reasonNames() []string {
	var names []string
	for _, r := range simulators.BadReasons {
		names = append(names, string(r))
	}
	return names
}

func typeNames() []string {
	var names []string
	for _, t := range reading.Types {
		names = append(names, string(t))
	}
	return names
}
