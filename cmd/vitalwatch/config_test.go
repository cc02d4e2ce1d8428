package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vitalwatch config prints the documented keys, durations as written, secrets hidden;
// vitalwatch config --example prints vitalwatch.example.yaml.
func TestConfigCommand(t *testing.T) {
	var out, errOut strings.Builder
	env := []string{"VITALWATCH_INGEST_FLUSH_INTERVAL=20ms", "VITALWATCH_INFLUX_TOKEN=s3cret", "VITALWATCH_ALERTS_ESCALATE_AFTER=15m"}
	if err := run(context.Background(), []string{"config"}, env, &out, &errOut); err != nil {
		t.Fatalf("config: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"ingest:\n", "  flush_interval: 20ms\n", "  token: (set)\n", "  escalate_after: 15m\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("vitalwatch config =\n%s\nwant a line %q", out.String(), want)
		}
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Errorf("vitalwatch config =\n%s\nwant no secret", out.String())
	}

	out.Reset()
	if err := run(context.Background(), []string{"config", "--example"}, []string{"VITALWATCH_INGEST_WORKERS=none"}, &out, &errOut); err != nil {
		t.Fatalf("config --example: %v\n%s", err, errOut.String())
	}
	example, err := os.ReadFile("../../vitalwatch.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(example) {
		t.Errorf("vitalwatch config --example =\n%s\nwant vitalwatch.example.yaml", out.String())
	}
}

// TestOnlyServeAndAlertsReadTheRulesFile: a rules file over late_after's limit stops serve
// before it opens anything, and `alerts rules`, each naming the key and its limit; the commands
// that do not use the alert rules (the registry, users, migrate, config) still work.
func TestOnlyServeAndAlertsReadTheRulesFile(t *testing.T) {
	dataDir := t.TempDir()
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, rulesFile, "version: 2\nlate_after: 200h\n")
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_ALERTS_RULES_FILE=" + rulesFile}
	for _, args := range [][]string{{"migrate"}, {"config"}, {"devices", "list"}, {"users", "list"}, {"tokens", "list", "--user", "nobody"}} {
		var stdout, stderr strings.Builder
		err := run(context.Background(), args, env, &stdout, &stderr)
		if err != nil && strings.Contains(err.Error(), "rules_file") {
			t.Errorf("vitalwatch %s with a bad rules file: %v; want it not to read the rules file", strings.Join(args, " "), err)
		}
		if err != nil && args[0] != "tokens" {
			t.Errorf("vitalwatch %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
	}

	const want = "late_after: must be from 1m to 168h (7 days), not 200h (line 2)"
	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{"alerts", "rules"}, env, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "alerts.rules_file") || !strings.Contains(err.Error(), want) {
		t.Errorf("alerts rules with late_after 200h: %v; want an error naming alerts.rules_file and saying %q", err, want)
	}
	serveDir := t.TempDir()
	env[0] = "VITALWATCH_DATA_DIR=" + serveDir
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, []string{"serve"}, env, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "alerts.rules_file") || !strings.Contains(err.Error(), want) {
		t.Errorf("serve with late_after 200h: %v; want an error naming alerts.rules_file and saying %q", err, want)
	}
	if entries, _ := os.ReadDir(serveDir); len(entries) != 0 {
		t.Errorf("serve with a bad rules file made %d entries in data_dir; want it stopped before it opens anything", len(entries))
	}
}
