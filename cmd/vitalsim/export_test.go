package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/simulators"
)

// The export of a scenario fleet's history writes its repairs to maintenance.csv and names them
// in scenario.txt: those the history that vitalsim publishes with the same flags will show.
func TestExportRepairs(t *testing.T) {
	dir := t.TempDir()
	stdout := runOK(t, context.Background(), "--export-registry", dir, "--devices", "60", "--seed", "1", "--scenario", "reallocation", "--history", "130d")
	now := time.Now()
	f := simulators.NewScenarioFleet(60, 1, simulators.DefaultMix(), simulators.Reallocation())
	want := f.Repairs(simulators.HistoryStart(now, 130*24*time.Hour), now)
	if len(want) < 15 {
		t.Fatalf("%d repairs in the demo's history; want about 20", len(want))
	}
	if !strings.Contains(stdout, "repairs in the history") {
		t.Errorf("export said %q; want the repairs", stdout)
	}
	csv, err := os.ReadFile(filepath.Join(dir, "maintenance.csv"))
	scenario, err2 := os.ReadFile(filepath.Join(dir, "scenario.txt"))
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) != len(want)+1 || lines[0] != "device,from,until" {
		t.Fatalf("maintenance.csv has %d lines; want a header and %d repairs:\n%s", len(lines), len(want), csv)
	}
	for i, r := range want {
		row := r.Device + "," + r.From.Format(time.RFC3339) + "," + r.Until.Format(time.RFC3339)
		if lines[i+1] != row {
			t.Errorf("maintenance.csv line %d = %q; want %q", i+2, lines[i+1], row)
		}
		if !strings.Contains(string(scenario), "\nrepair "+r.Device+" "+r.Site+" "+r.From.Format(time.RFC3339)+" ") {
			t.Errorf("scenario.txt lacks the repair of %s from %v:\n%s", r.Device, r.From, scenario)
		}
	}
}
