package main

import (
	"fmt"
	"io"
	"time"

	"github.com/vitalwatch/vitalwatch/simulators"
)

// exportRegistry writes the fleet's registry as CSV files into cfg.exportDir (see
// simulators.Registry.WriteCSV for the formats) and says what it wrote.
func exportRegistry(cfg config, fleet *simulators.Fleet, now time.Time, stdout io.Writer) error {
	reg := fleet.Registry(now)
	if err := reg.WriteCSV(cfg.exportDir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vitalsim: wrote the registry of seed %d to %s: %d sites, %d teams, %d patients, %d devices (with their secrets, in devices.csv), %d assignments\n",
		cfg.seed, cfg.exportDir, len(reg.Sites), len(reg.Teams), len(reg.Patients), len(reg.Devices), len(reg.Assignments))
	return nil
}
