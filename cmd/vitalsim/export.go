package main

import (
	"bytes"
	"encoding/csv"
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
// length ending now; with --scenario it also writes scenario.txt (see writeScenario). With a
// --scenario FILE the script's registry joins the fleet's (or stands alone, with --devices 0:
// fleet is nil), its devices lent and in service from 30 days before the script's start, and
// scenario-script.txt names the alerts it should raise (writeScriptFile).
func exportRegistry(cfg config, fleet *simulators.Fleet, now time.Time, stdout io.Writer) error {
	reg := &simulators.Registry{Secrets: map[string]string{}}
	var from time.Time
	switch {
	case fleet == nil:
	case cfg.history > 0:
		from = simulators.HistoryStart(now, cfg.history)
		reg = fleet.RegistryOfHistory(from, now)
	default:
		reg = fleet.Registry(now)
	}
	if cfg.script != nil {
		if err := reg.AddScript(cfg.script, scriptStart(cfg, now), cfg.seed); err != nil {
			return err
		}
	}
	if err := reg.WriteCSV(cfg.exportDir); err != nil {
		return err
	}
	if err := addCalibration(filepath.Join(cfg.exportDir, "devices.csv"), reg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vitalsim: wrote the registry of seed %d to %s: %d sites, %d teams, %d patients, %d devices (with their secrets, in devices.csv), %d assignments\n",
		cfg.seed, cfg.exportDir, len(reg.Sites), len(reg.Teams), len(reg.Patients), len(reg.Devices), len(reg.Assignments))
	if !from.IsZero() {
		fmt.Fprintf(stdout, "vitalsim: devices in service and lent from %s, the first day of --history %v\n", from.Format(time.RFC3339), formatDays(cfg.history))
	}
	if len(reg.Repairs) > 0 {
		sites := map[string]bool{}
		for _, r := range reg.Repairs {
			sites[r.Site] = true
		}
		fmt.Fprintf(stdout, "vitalsim: %d repairs in the history, at %d centres, in %s\n", len(reg.Repairs), len(sites), filepath.Join(cfg.exportDir, "maintenance.csv"))
	}
	if cfg.script != nil {
		path := filepath.Join(cfg.exportDir, scriptFileName)
		if err := writeScriptFile(path, cfg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "vitalsim: scenario %s: %d devices of its own, the alerts it should raise in %s\n",
			cfg.script.Name, len(cfg.script.Devices), path)
	}
	if fleet != nil {
		if err := writeProfiles(filepath.Join(cfg.exportDir, profilesFileName), fleet, stdout); err != nil {
			return err
		}
	}
	if fleet != nil && fleet.Scenario() != nil {
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
//	repair sim-stn-0003 site-01 2026-07-30T15:30:00+08:00 2026-08-21T10:58:00+08:00   (with --history: each repair, from until)
func writeScenario(path string, cfg config, fleet *simulators.Fleet, reg *simulators.Registry, from time.Time) error {
	sc := fleet.Scenario()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# vitalsim --scenario %s --devices %d --seed %d --mix %s\n", sc.Name, cfg.devices, cfg.seed, cfg.mix)
	fmt.Fprintf(&b, "# A centre's load is the share of its stations' rated %d uses a day that residents use, and of the days its %v are used;\n",
		sc.RatedUsesPerDay, sc.Shaped)
	fmt.Fprintf(&b, "# other home devices are used on %.0f%% of days. The failing station reports %s on its last day and is silent after.\n",
		100*sc.OtherLoad, simulators.FailureFlag)
	if len(reg.Repairs) > 0 {
		fmt.Fprintf(&b, "# Each repair of the history (maintenance.csv): the device flags its fault, then is under maintenance from..until.\n")
	}
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
	for _, r := range reg.Repairs {
		fmt.Fprintf(&b, "repair %s %s %s %s\n", r.Device, r.Site, r.From.Format(time.RFC3339), r.Until.Format(time.RFC3339))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("registry export: %w", err)
	}
	return nil
}

// scriptFileName is the file of an export that names its script and the alerts it should raise.
const scriptFileName = "scenario-script.txt"

// addCalibration adds the column next_calibration to the devices.csv that WriteCSV wrote at
// path when a device of reg has a calibration date (a script's may; a fleet's never do), so
// that the import records it and calibration_overdue has a date to go by.
func addCalibration(path string, reg *simulators.Registry) error {
	due := map[string]string{}
	for _, d := range reg.Devices {
		if !d.NextCalibration.IsZero() {
			due[d.ID] = d.NextCalibration.Format(time.RFC3339)
		}
	}
	if len(due) == 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("registry export: %w", err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		return fmt.Errorf("registry export: %s: %w", path, err)
	}
	if len(rows) == 0 || rows[0][0] != "id" {
		return fmt.Errorf("registry export: %s: not the devices.csv just written", path)
	}
	rows[0] = append(rows[0], "next_calibration")
	for i := 1; i < len(rows); i++ {
		rows[i] = append(rows[i], due[rows[i][0]])
	}
	var b bytes.Buffer
	if err := csv.NewWriter(&b).WriteAll(rows); err != nil {
		return fmt.Errorf("registry export: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("registry export: %w", err)
	}
	return nil
}
