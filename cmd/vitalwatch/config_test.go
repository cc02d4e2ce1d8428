package main

import (
	"context"
	"os"
	"strings"
	"testing"
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
