package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/simulators"
)

// scenarioFlags is --scenario, which may be given twice: a built-in fleet shaping
// ("reallocation") and a script file (simulators.Script), which plays on top of the fleet.
type scenarioFlags []string

func (s *scenarioFlags) String() string { return strings.Join(*s, ",") }

func (s *scenarioFlags) Set(v string) error {
	*s = append(*s, v)
	return nil
}

var _ flag.Value = (*scenarioFlags)(nil)

// isScriptFile reports whether a --scenario value names a script file rather than a built-in
// scenario: it ends in .yaml or .yml, or a file of that name exists.
func isScriptFile(v string) bool {
	if strings.HasSuffix(v, ".yaml") || strings.HasSuffix(v, ".yml") {
		return true
	}
	fi, err := os.Stat(v)
	return err == nil && fi.Mode().IsRegular()
}

// resolveScenarios sets cfg's fleet shaping and script from the --scenario values: at most one
// of each.
func resolveScenarios(cfg *config, values []string) error {
	for _, v := range values {
		if isScriptFile(v) {
			if cfg.script != nil {
				return fmt.Errorf("--scenario %s: one script at a time (already %s)", v, cfg.scriptFile)
			}
			s, err := simulators.LoadScript(v)
			if err != nil {
				return err
			}
			cfg.script, cfg.scriptFile = s, v
			continue
		}
		if cfg.scenario != nil {
			return fmt.Errorf("--scenario %s: one fleet shaping at a time (already %s)", v, cfg.scenario.Name)
		}
		sc, err := simulators.LookupScenario(v)
		if err != nil {
			return err
		}
		cfg.scenario = sc
	}
	return nil
}

// scriptStart is when the script's time 0 is: --scenario-start, or now.
func scriptStart(cfg config, now time.Time) time.Time {
	if !cfg.scriptStart.IsZero() {
		return cfg.scriptStart
	}
	return now
}

// scriptSummary is what a script published, in the --out summary.
type scriptSummary struct {
	Name   string    `json:"name"`
	File   string    `json:"file"`
	Start  time.Time `json:"start"`
	Sent   int64     `json:"sent"`   // telemetry acknowledged
	Status int64     `json:"status"` // status messages acknowledged
	Errors int64     `json:"errors"`
	// Left is how many messages were still to come when the run stopped.
	Left int `json:"left"`
	// Expect are the alerts the script should raise, one a line as scenario.txt has them.
	Expect []string `json:"expect"`
}

// playScript plays cfg.script on the wall clock from start: each message is published when its
// time comes (measurement time start + at, or later by the step's delay), at once if that is
// already past, by its device signed in as itself (loginAs) on a connection of its own, each
// publish waiting for its acknowledgement. It logs each message to log and returns what it
// sent when the script is done or ctx ends; an error means a device could not connect.
func playScript(ctx context.Context, cfg config, start time.Time, log io.Writer) (*scriptSummary, error) {
	s := cfg.script
	msgs := s.Play(start, cfg.prefix)
	sum := &scriptSummary{Name: s.Name, File: cfg.scriptFile, Start: start, Expect: expectLines(s)}
	clients, err := connectEach(ctx, len(s.Devices), func(ctx context.Context, i int) (mqtt.Client, error) {
		return connect(ctx, cfg, loginAs(cfg, s.Devices[i].ID), nil, nil)
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			sum.Left = len(msgs)
			return sum, nil
		}
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	defer disconnectAll(clients, 250)
	byID := make(map[string]mqtt.Client, len(clients))
	for i, c := range clients {
		byID[s.Devices[i].ID] = c
	}
	fmt.Fprintf(log, "vitalsim: scenario %s: %d messages from %s to %s\n", s.Name, len(msgs),
		start.In(s.Zone).Format(time.RFC3339), start.Add(s.Length).In(s.Zone).Format(time.RFC3339))
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i, m := range msgs {
		if wait := time.Until(m.Send); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				sum.Left = len(msgs) - i
				return sum, nil
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			sum.Left = len(msgs) - i
			return sum, nil
		}
		kind := "telemetry"
		if m.Status {
			kind = "status"
		}
		tok := byID[m.Device].Publish(m.Topic, cfg.qos, false, m.Payload)
		switch {
		case !waitToken(tok, cfg.drain):
			sum.Errors++
			fmt.Fprintf(log, "vitalsim: scenario %s: %s %s: no acknowledgement within --drain-timeout\n", s.Name, m.Device, kind)
			continue
		case tok.Error() != nil:
			sum.Errors++
			fmt.Fprintf(log, "vitalsim: scenario %s: %s %s: %v\n", s.Name, m.Device, kind, tok.Error())
			continue
		case m.Status:
			sum.Status++
		default:
			sum.Sent++
		}
		fmt.Fprintf(log, "vitalsim: scenario %s: %s %s %s: %s\n", s.Name,
			m.Measured.In(s.Zone).Format("2006-01-02 15:04:05"), m.Device, kind, m.What)
	}
	fmt.Fprintf(log, "vitalsim: scenario %s: done\n", s.Name)
	return sum, nil
}

// expectLines are a script's expected alerts as "rule subject severity [state]".
func expectLines(s *simulators.Script) []string {
	out := make([]string, 0, len(s.Expect))
	for _, e := range s.Expect {
		out = append(out, strings.TrimSpace(strings.Join([]string{e.Rule, e.Subject, e.Severity, e.State}, " ")))
	}
	return out
}

// writeScriptFile writes what the script of an export is, one fact a line, for scripts (awk
// '$1 == "script" {print $3}') and people:
//
//	script community-centre-day simulators/scenarios/community-centre-day.yaml
//	length 9h30m0s                                         (how long it plays)
//	expect bp_crisis patient/P-ccd-03 urgent resolved      (one line per expected alert)
func writeScriptFile(path string, cfg config) error {
	s := cfg.script
	var b strings.Builder
	fmt.Fprintf(&b, "# vitalsim --scenario %s: %d devices, %d steps over %s; the alerts it should raise.\n",
		cfg.scriptFile, len(s.Devices), len(s.Steps), formatDays(s.Length))
	for _, line := range strings.Split(wrap(s.Description, 96), "\n") {
		fmt.Fprintf(&b, "# %s\n", line)
	}
	fmt.Fprintf(&b, "script %s %s\n", s.Name, cfg.scriptFile)
	fmt.Fprintf(&b, "length %s\n", formatDays(s.Length))
	for _, e := range expectLines(s) {
		fmt.Fprintf(&b, "expect %s\n", e)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("registry export: %w", err)
	}
	return nil
}

// wrap breaks text into lines of at most width characters, between words.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		switch {
		case n == 0:
		case n+1+len(w) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

func (s *scriptSummary) write(w io.Writer) {
	fmt.Fprintf(w, "  scenario %s (%s): %d telemetry and %d status messages, errors %d", s.Name, s.File, s.Sent, s.Status, s.Errors)
	if s.Left > 0 {
		fmt.Fprintf(w, ", %d not sent (stopped first)", s.Left)
	}
	fmt.Fprintln(w)
	if len(s.Expect) > 0 {
		fmt.Fprintf(w, "  it should raise: %s\n", strings.Join(s.Expect, "; "))
	}
}
