package main

import (
	"fmt"
	"io"
)

// runAlerts runs `vitalwatch alerts rules`: it prints the rules in force (alerts.rules_file
// over the defaults) as a complete rules file, to start one from.
func runAlerts(cfg *Config, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "rules" {
		return fmt.Errorf("usage: vitalwatch alerts rules   (prints the rules in force as a rules file)")
	}
	rules, err := cfg.Rules()
	if err != nil {
		return err
	}
	_, err = stdout.Write(rules.Format())
	return err
}
