package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/simulators"
)

// expectedHistory is what the fleet's backlogs hold over the summary's period, per device and
// local day, straight from the simulator.
func expectedHistory(fleet *simulators.Fleet, h *historySummary) (total int64, perDay map[string]map[string]int64) {
	perDay = map[string]map[string]int64{}
	for _, d := range fleet.Devices() {
		b := fleet.Backlog(d, h.From, h.To)
		for {
			m, ok := b.Next()
			if !ok {
				break
			}
			if perDay[d.ID] == nil {
				perDay[d.ID] = map[string]int64{}
			}
			perDay[d.ID][simulators.Day(m.Time)]++
			total++
		}
	}
	return total, perDay
}

// landed decodes what the broker delivered, as ingest would at receive time now, and counts it
// per device and local day of the measurement; it fails on any rejection.
func (r *recorder) landed(t *testing.T, now time.Time) (perDay map[string]map[string]int64, flagged map[string][]string, seqs map[string][]int64) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	perDay, flagged, seqs = map[string]map[string]int64{}, map[string][]string{}, map[string][]int64{}
	for device, payloads := range r.telemetry {
		for _, p := range payloads {
			msg, rej := reading.Decode(device, p, now)
			if len(rej) > 0 || msg.TimeMissing || len(msg.Readings) == 0 {
				t.Fatalf("%s: %s: rejected %v; want every message of the history accepted", device, p, rej)
			}
			day := simulators.Day(msg.Readings[0].Time)
			if perDay[device] == nil {
				perDay[device] = map[string]int64{}
			}
			perDay[device][day]++
			if slices.Contains(msg.Flags, simulators.FailureFlag) {
				flagged[device] = append(flagged[device], day)
			}
			seqs[device] = append(seqs[device], msg.Seq)
		}
	}
	return perDay, flagged, seqs
}

func sameCounts(a, b map[string]map[string]int64) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]int64) bool { return maps.Equal(x, y) })
}

// TestHistoryAuth exports a scenario fleet's registry for a history of 3 days, starts a broker
// that knows its devices, and publishes the history signed in as each device: exactly the
// simulator's backlog lands, every message one ingest accepts, each device's messages on the days
// the summary says; the failing station reports its fault on its last day and then stops.
func TestHistoryAuth(t *testing.T) {
	dir := t.TempDir()
	const devicesN, seed = 40, 2
	common := []string{"--devices", fmt.Sprint(devicesN), "--seed", fmt.Sprint(seed), "--scenario", "reallocation", "--history", "3d"}
	stdout := runOK(t, context.Background(), append([]string{"--export-registry", dir}, common...)...)
	fleet := simulators.NewScenarioFleet(devicesN, seed, simulators.DefaultMix(), simulators.Reallocation())
	failing := fleet.Failing()
	if !strings.Contains(stdout, "failing device "+failing.ID) {
		t.Errorf("export said %q; want the failing device %s", stdout, failing.ID)
	}
	scenario, err := os.ReadFile(filepath.Join(dir, "scenario.txt"))
	if err != nil || !strings.Contains(string(scenario), fmt.Sprintf("\nfailing %s %s\n", failing.ID, fleet.Site(failing))) ||
		!strings.Contains(string(scenario), "\ncentre site-01 idle load=35% stations=4\n") {
		t.Errorf("scenario.txt %q, %v; want the failing device and the centres", scenario, err)
	}
	e := readExport(t, dir)
	inService := map[string]bool{}
	for id, row := range e.devices {
		inService[row["in_service"]] = true
		if a := e.assignments[id]; a != nil && a["from"] != row["in_service"] {
			t.Errorf("%s lent from %s, in service from %s; want both from the history's start", id, a["from"], row["in_service"])
		}
	}
	if len(inService) != 1 {
		t.Fatalf("in_service values %v; want one, the history's start", slices.Collect(maps.Keys(inService)))
	}

	broker := startAuthBroker(t, dir)
	rec := subscribe(t, broker.URL, "devices")
	out := filepath.Join(t.TempDir(), "summary.json")
	stdout = runOK(t, context.Background(), append([]string{"--broker", broker.URL, "--auth", "--conns", "3", "--window", "100", "--out", out, "--quiet"}, common...)...)
	sum := readSummary(t, out)
	h := sum.History
	if h == nil || sum.Mode != "history" || sum.Failing != failing.ID || sum.Scenario != "reallocation" {
		t.Fatalf("summary %+v; want mode history with the history, scenario and failing device\n%s", sum, stdout)
	}
	total, perDay := expectedHistory(fleet, h)
	if total == 0 || h.Sent != total || sum.Sent != total || h.Errors != 0 || sum.Status != 0 {
		t.Fatalf("history sent %d (summary %d), errors %d, status %d; want the %d messages of the backlogs and no status", h.Sent, sum.Sent, h.Errors, sum.Status, total)
	}
	if !sameCounts(h.ByDeviceDay, perDay) {
		t.Errorf("summary per device and day differs from the backlogs:\n%v\n%v", h.ByDeviceDay, perDay)
	}
	if start, _ := time.Parse(time.RFC3339, slices.Collect(maps.Keys(inService))[0]); start.After(h.From) || h.From.Sub(start) > 24*time.Hour {
		t.Errorf("devices in service from %v; want the history's start %v (a day earlier if midnight passed)", start, h.From)
	}

	rec.waitFor(t, int(total), 0)
	got, flagged, _ := rec.landed(t, time.Now())
	if !sameCounts(got, perDay) {
		t.Errorf("landed per device and day differs from the summary:\n%v\n%v", got, perDay)
	}
	lastDay := simulators.Day(h.To.AddDate(0, 0, -2))
	days := slices.Sorted(maps.Keys(got[failing.ID]))
	if len(days) == 0 || days[len(days)-1] != lastDay || int64(len(flagged[failing.ID])) != got[failing.ID][lastDay] {
		t.Errorf("failing %s: used on %v, flagged %d times on %v; want its readings up to %s, all flagged that day",
			failing.ID, days, len(flagged[failing.ID]), flagged[failing.ID], lastDay)
	}
	if !strings.Contains(stdout, fmt.Sprintf("history %s to ", h.From.Format(time.RFC3339))) {
		t.Errorf("stdout %q; want the history's period", stdout)
	}
}

// TestHistoryThenLive goes on live after the history, in the same process: the live messages
// follow, only they carry sequence numbers, and the failing station stays silent.
func TestHistoryThenLive(t *testing.T) {
	broker := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	rec := subscribe(t, broker.URL, "devices")
	out := filepath.Join(t.TempDir(), "summary.json")
	const devicesN, seed, live = 30, 3, 300
	runOK(t, context.Background(), "--broker", broker.URL, "--devices", fmt.Sprint(devicesN), "--seed", fmt.Sprint(seed),
		"--scenario", "reallocation", "--history", "1d", "--rate", "0", "--count", fmt.Sprint(live), "--conns", "2",
		"--out", out, "--quiet")
	sum := readSummary(t, out)
	fleet := simulators.NewScenarioFleet(devicesN, seed, simulators.DefaultMix(), simulators.Reallocation())
	total, _ := expectedHistory(fleet, sum.History)
	if sum.Mode != "load" || sum.History.Sent != total || sum.Sent != live || sum.Devices != devicesN-1 || sum.Status != devicesN-1 {
		t.Fatalf("summary mode %s, history %d, live %d from %d devices with %d status; want load, %d, %d from %d with as many status",
			sum.Mode, sum.History.Sent, sum.Sent, sum.Devices, sum.Status, total, live, devicesN-1)
	}
	rec.waitFor(t, int(total)+live, devicesN-1)
	_, _, seqs := rec.landed(t, time.Now())
	withSeq := 0
	for id, s := range seqs {
		s = slices.DeleteFunc(s, func(n int64) bool { return n == 0 })
		withSeq += len(s)
		slices.Sort(s) // the subscriber's handlers may run out of order
		if len(slices.Compact(slices.Clone(s))) != len(s) {
			t.Errorf("%s: sequence numbers %v repeat; want each once", id, s)
		}
	}
	if withSeq != live {
		t.Errorf("%d messages with a sequence number; want the %d live ones, none of the history's", withSeq, live)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	failing := fleet.Failing()
	var inHistory int64
	for _, n := range sum.History.ByDeviceDay[failing.ID] {
		inHistory += n
	}
	if len(rec.status[failing.ID]) > 0 || int64(len(rec.telemetry[failing.ID])) != inHistory {
		t.Errorf("failing %s sent %d status and %d telemetry messages; want it silent live", failing.ID, len(rec.status[failing.ID]), len(rec.telemetry[failing.ID]))
	}
}

func TestParseDays(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "130d", want: 130 * 24 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "36h", want: 36 * time.Hour},
		{in: "0", want: 0},
		{in: "d", wantErr: true},
		{in: "-1d", wantErr: true},
		{in: "1d1x", wantErr: true},
		{in: "soon", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseDays(tt.in)
		if (err != nil) != tt.wantErr || err == nil && got != tt.want {
			t.Errorf("parseDays(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if got := formatDays(130 * 24 * time.Hour); got != "130d" {
		t.Errorf("formatDays(130 days) = %q; want 130d", got)
	}
}
