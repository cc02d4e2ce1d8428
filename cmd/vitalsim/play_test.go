package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/simulators"
)

const (
	dayScript = "../../simulators/scenarios/community-centre-day.yaml"
	bpScript  = "../../simulators/scenarios/blood-pressure.yaml"
)

func TestScenarioFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"--scenario", bpScript}},
		{args: []string{"--scenario", bpScript, "--devices", "0"}},
		{args: []string{"--scenario", "reallocation", "--scenario", dayScript, "--devices", "60"}},
		{args: []string{"--scenario", dayScript, "--scenario", "reallocation", "--devices", "60", "--auth", "--rate", "20"}},
		{args: []string{"--scenario", bpScript, "--scenario-start", "2026-11-22T08:00:00+08:00"}},
		{args: []string{"--export-registry", "x", "--devices", "0", "--scenario", bpScript}},
		{args: []string{"--scenario", bpScript, "--scenario", dayScript}, wantErr: "one script at a time"},
		{args: []string{"--scenario", "reallocation", "--scenario", "reallocation"}, wantErr: "one fleet shaping at a time"},
		{args: []string{"--scenario", "nowhere.yaml"}, wantErr: "no such file"},
		{args: []string{"--scenario", bpScript, "--scenario-start", "tomorrow"}, wantErr: "RFC 3339"},
		{args: []string{"--scenario-start", "2026-11-22T08:00:00+08:00"}, wantErr: "is for a --scenario FILE"},
		{args: []string{"--scenario", bpScript, "--devices", "0", "--rate", "5"}, wantErr: "--rate is for a fleet"},
		{args: []string{"--scenario", "reallocation", "--scenario", bpScript, "--devices", "0"}, wantErr: "shapes a fleet"},
		{args: []string{"--scenario", bpScript, "--history", "2d"}, wantErr: "plays live"},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, io.Discard)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parseFlags(%q) = %v; want no error", tt.args, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseFlags(%q) = %v; want an error about %s", tt.args, err, tt.wantErr)
		}
	}
	// A script's error names the file and the line.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\ndescription: x\ndevices: []\nsteps: []\nexpect: []\nwhen: now\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseFlags([]string{"--scenario", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), bad) ||
		!strings.Contains(err.Error(), "when: unknown key") || !strings.Contains(err.Error(), "line 6") {
		t.Errorf("parseFlags(--scenario %s) = %v; want the file, the key and its line", bad, err)
	}
}

// TestPlayScriptAlone plays a script that started long enough ago that every message is due:
// vitalsim sends them all at once, and the broker gets exactly the script's messages.
func TestPlayScriptAlone(t *testing.T) {
	broker := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	rec := subscribe(t, broker.URL, "devices")
	s, err := simulators.LoadScript(bpScript)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-s.Length - time.Hour).Truncate(time.Second)
	out := filepath.Join(t.TempDir(), "summary.json")
	stdout := runOK(t, context.Background(), "--broker", broker.URL, "--devices", "0", "--scenario", bpScript,
		"--scenario-start", start.Format(time.RFC3339), "--out", out)
	want := s.Play(start, "devices")
	rec.waitFor(t, len(want), 0)
	for _, m := range want {
		if !slices.ContainsFunc(rec.telemetry[m.Device], func(p []byte) bool { return bytes.Equal(p, m.Payload) }) {
			t.Errorf("the broker has no %s %s", m.Topic, m.Payload)
		}
	}
	sum := readSummary(t, out)
	if sum.Mode != "script" || sum.Script == nil || sum.Script.Sent != int64(len(want)) || sum.Script.Errors != 0 ||
		len(sum.Script.Expect) != len(s.Expect) || !sum.Script.Start.Equal(start) {
		t.Errorf("summary = %+v (script %+v); want the script's %d messages and %d expected alerts", sum, sum.Script, len(want), len(s.Expect))
	}
	if !strings.Contains(stdout, "it should raise: bp_crisis patient/P-bp-1 critical open") {
		t.Errorf("stdout %q; want the alerts to expect", stdout)
	}
}

// TestPlayScriptOnTopOfFleet: the fleet publishes its count while the script plays its
// messages, measured when the script says, and the run ends when both are done.
func TestPlayScriptOnTopOfFleet(t *testing.T) {
	broker := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	rec := subscribe(t, broker.URL, "devices")
	s, err := simulators.LoadScript(bpScript)
	if err != nil {
		t.Fatal(err)
	}
	// The script's first messages are past, the last one due a second from now.
	start := time.Now().Add(-s.Length + time.Second).Truncate(time.Millisecond)
	out := filepath.Join(t.TempDir(), "summary.json")
	began := time.Now()
	runOK(t, context.Background(), "--broker", broker.URL, "--devices", "10", "--rate", "0", "--count", "50",
		"--status-every", "0", "--scenario", bpScript, "--scenario-start", start.Format(time.RFC3339Nano), "--out", out, "--quiet")
	if waited := time.Since(began); waited < 500*time.Millisecond {
		t.Errorf("run ended after %v; want it to wait for the script's last message, due a second after the start", waited)
	}
	want := s.Play(start, "devices")
	rec.waitFor(t, 50+len(want), 0)
	sum := readSummary(t, out)
	if sum.Sent != 50 || sum.Script == nil || sum.Script.Sent != int64(len(want)) {
		t.Errorf("summary sent %d, script %+v; want 50 from the fleet and the script's %d", sum.Sent, sum.Script, len(want))
	}
	last := want[len(want)-1]
	if got := rec.telemetry[last.Device]; len(got) == 0 || !bytes.Equal(got[len(got)-1], last.Payload) {
		t.Errorf("%s's last message %q; want %s", last.Device, got, last.Payload)
	}
}

// TestExportWithScript: the demo's export, the reallocation fleet and the day at the centre,
// holds the script's devices with their secrets and calibration dates, its residents and
// loans, the fleet's centre once, and scenario-script.txt with the alerts to expect.
func TestExportWithScript(t *testing.T) {
	dir := t.TempDir()
	stdout := runOK(t, context.Background(), "--export-registry", dir, "--devices", "60", "--seed", "1",
		"--scenario", "reallocation", "--scenario", dayScript, "--history", "130d")
	if !strings.Contains(stdout, "scenario community-centre-day") {
		t.Errorf("stdout %q; want the script named", stdout)
	}
	s, err := simulators.LoadScript(dayScript)
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []map[string]string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out []map[string]string
		for _, row := range rows[1:] {
			m := map[string]string{}
			for i, col := range rows[0] {
				m[col] = row[i]
			}
			out = append(out, m)
		}
		return out
	}
	devs := map[string]map[string]string{}
	for _, d := range read("devices.csv") {
		devs[d["id"]] = d
	}
	for _, d := range s.Devices {
		row := devs[d.ID]
		if row == nil || row["secret"] != simulators.Secret(1, d.ID) || row["kind"] != string(d.Kind) || row["site"] != d.Site {
			t.Errorf("device %s exported as %v; want its kind, site and the secret of seed 1", d.ID, row)
		}
	}
	if due, err := time.Parse(time.RFC3339, devs["stn-ccd-1"]["next_calibration"]); err != nil || time.Until(due) < 59*24*time.Hour {
		t.Errorf("stn-ccd-1 next_calibration %q; want about 60 days from now", devs["stn-ccd-1"]["next_calibration"])
	}
	if devs["sim-glu-0001"] == nil || devs["sim-glu-0001"]["next_calibration"] != "" {
		t.Errorf("fleet device sim-glu-0001 = %v; want it, with no calibration date", devs["sim-glu-0001"])
	}
	sites := 0
	for _, site := range read("sites.csv") {
		if site["id"] == "site-01" {
			sites++
		}
	}
	if sites != 1 {
		t.Errorf("site-01 exported %d times; want once, the fleet's", sites)
	}
	lent := map[string]string{}
	for _, a := range read("assignments.csv") {
		lent[a["device"]] = a["patient"]
	}
	if lent["gm-ccd-1"] != "P-ccd-01" || lent["band-ccd-1"] != "P-ccd-08" {
		t.Errorf("assignments %v; want the script's home devices lent to their residents", lent)
	}
	txt, err := os.ReadFile(filepath.Join(dir, scriptFileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"script community-centre-day " + dayScript + "\n", "expect sos patient/P-ccd-08 critical open\n"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("%s:\n%s\nwant a line %q", scriptFileName, txt, want)
		}
	}
	if n := strings.Count(string(txt), "\nexpect "); n != len(s.Expect) {
		t.Errorf("%s has %d expect lines; want %d", scriptFileName, n, len(s.Expect))
	}
}
