package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vitalwatch/vitalwatch/simulators"
)

// exportRegistry writes the fleet's registry as CSV files into cfg.exportDir (see
// simulators.Registry.WriteCSV for the formats) and says what it wrote. With --history every
// device is in service, and every home device lent, from the first day of a history of that
// length ending now; with --scenario it also writes scenario.txt (see writeScenario).
func exportRegistry(cfg config, fleet *simulators.Fleet, now time.Time, stdout io.Writer) error {
	reg := fleet.Registry(now)
	var from time.Time
	if cfg.history > 0 {
		from = simulators.HistoryStart(now, cfg.history)
		reg = fleet.RegistrySince(from)
	}
	if err := reg.WriteCSV(cfg.exportDir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vitalsim: wrote the registry of seed %d to %s: %d sites, %d teams, %d patients, %d devices (with their secrets, in devices.csv), %d assignments\n",
		cfg.seed, cfg.exportDir, len(reg.Sites), len(reg.Teams), len(reg.Patients), len(reg.Devices), len(reg.Assignments))
	if !from.IsZero() {
		fmt.Fprintf(stdout, "vitalsim: devices in service and lent from %s, the first day of --history %v\n", from.Format(time.RFC3339), formatDays(cfg.history))
	}
	if fleet.Scenario() != nil {
		path := filepath.Join(cfg.exportDir, "scenario.txt")
		if err := writeScenario(path, cfg, fleet, reg, from); err != nil {
			return err
		}
		if d := fleet.Failing(); d != nil {
			fmt.Fprintf(stdout, "vitalsim: scenario %s: failing device %s at %s (%s)\n", fleet.Scenario().Name, d.ID, fleet.Site(d), path)
		}
	}
	return nil
}

// writeScenario writes what the scenario makes of the fleet, one fact a line, the key first and
// the values separated by spaces, for scripts (awk '$1 == "failing" {print $2}') and people:
//
//	scenario reallocation
//	history_from 2026-07-16T00:00:00+08:00       (with --history)
//	failing sim-stn-0007 site-03
//	centre site-01 idle load=35% stations=4      (one line per centre)
func writeScenario(path string, cfg config, fleet *simulators.Fleet, reg *simulators.Registry, from time.Time) error {
	sc := fleet.Scenario()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# vitalsim --scenario %s --devices %d --seed %d --mix %s\n", sc.Name, cfg.devices, cfg.seed, cfg.mix)
	fmt.Fprintf(&b, "# A centre's load is the share of its stations' rated %d uses a day that residents use, and of the days its %v are used;\n",
		sc.RatedUsesPerDay, sc.Shaped)
	fmt.Fprintf(&b, "# other home devices are used on %.0f%% of days. The failing station reports %s on its last day and is silent after.\n",
		100*sc.OtherLoad, simulators.FailureFlag)
	fmt.Fprintf(&b, "scenario %s\n", sc.Name)
	if !from.IsZero() {
		fmt.Fprintf(&b, "history_from %s\n", from.Format(time.RFC3339))
	}
	if d := fleet.Failing(); d != nil {
		fmt.Fprintf(&b, "failing %s %s\n", d.ID, fleet.Site(d))
	}
	stations := map[string]int{}
	for _, d := range fleet.Devices() {
		if d.Kind == simulators.Station {
			stations[fleet.Site(d)]++
		}
	}
	for i, s := range reg.Sites { // the scenario's centres, in order
		c := sc.Centres[i]
		fmt.Fprintf(&b, "centre %s %s load=%.0f%% stations=%d\n", s.ID, c.Level(), 100*c.Load, stations[s.ID])
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("registry export: %w", err)
	}
	return nil
}
