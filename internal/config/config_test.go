package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigDefaultsAndOverrides(t *testing.T) {
	file := filepath.Join(t.TempDir(), "vw.yaml")
	os.WriteFile(file, []byte("influx:\n  url: http://influx.example:8086\n  bucket: vitals\ningest:\n  batch_size: 500\n"), 0o600)
	cfg, err := Load(file, []string{"VITALWATCH_INFLUX_BUCKET=override", "VITALWATCH_INGEST_FLUSH_INTERVAL=20ms",
		"VITALWATCH_BROKER_EMBEDDED=false", "VITALWATCH_BROKER_URL=tcp://mq:1883", "PATH=/bin"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Influx.URL != "http://influx.example:8086" || cfg.Influx.Bucket != "override" || cfg.Ingest.BatchSize != 500 ||
		cfg.Ingest.FlushInterval != 20*time.Millisecond || cfg.Broker.Embedded || cfg.Broker.URL != "tcp://mq:1883" ||
		cfg.HTTP.Listen != "127.0.0.1:8080" || cfg.Ingest.Workers != 2 || !cfg.Usage.Enabled || cfg.Usage.DedupeWindow != 192*time.Hour {
		t.Fatalf("Load = %+v; want file values, environment overrides and defaults", cfg)
	}
}

func TestLoadConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     []string
		wantKey string
	}{
		{"bad influx url", "influx:\n  url: influx:8086\n", nil, "influx.url"},
		{"unknown key", "influx:\n  ulr: http://x\n", nil, "influx.ulr"},
		{"unknown env", "", []string{"VITALWATCH_INFLUX_ULR=http://x"}, "VITALWATCH_INFLUX_ULR"},
		{"bad duration", "ingest:\n  flush_interval: soon\n", nil, "flush_interval"},
		{"bad number", "", []string{"VITALWATCH_INGEST_WORKERS=two"}, "workers"},
		{"workers range", "ingest:\n  workers: 0\n", nil, "ingest.workers"},
		{"external broker needs url", "broker:\n  embedded: false\n", nil, "broker.url"},
		{"bad listen", "http:\n  listen: 8080\n", nil, "http.listen"},
		{"bad log level", "log:\n  level: loud\n", nil, "log.level"},
		{"spool too small", "ingest:\n  spool_max_bytes: 10\n", nil, "ingest.spool_max_bytes"},
		{"shared group", "ingest:\n  shared_group: a/b\n", nil, "ingest.shared_group"},
		{"prefix of the platform's topics", "ingest:\n  topic_prefix: vitalwatch\n", nil, "ingest.topic_prefix"},
		{"prefix of the broker's topics", "", []string{"VITALWATCH_INGEST_TOPIC_PREFIX=$SYS/x"}, "ingest.topic_prefix"},
		{"no bucket", "influx:\n  bucket: \"\"\n", nil, "influx.bucket"},
		{"short dedupe window", "usage:\n  dedupe_window: 10m\n", nil, "usage.dedupe_window"},
		{"low above 1", "reallocation:\n  low: 60\n", nil, "reallocation.low"},
		{"high below low", "reallocation:\n  high: 0.5\n", nil, "reallocation.high"},
		{"target above high", "reallocation:\n  target: 0.95\n", nil, "reallocation.target"},
		{"no months", "reallocation:\n  months: 0\n", nil, "reallocation.months"},
		{"months from the environment", "", []string{"VITALWATCH_REALLOCATION_MONTHS=x"}, "reallocation.months"},
		{"bad dedupe window", "", []string{"VITALWATCH_USAGE_DEDUPE_WINDOW=a week"}, "dedupe_window"},
		{"allow_private not a bool", "", []string{"VITALWATCH_ALERTS_WEBHOOKS_ALLOW_PRIVATE=maybe"}, "allow_private"},
	}
	for _, tt := range tests {
		file := ""
		if tt.yaml != "" {
			file = filepath.Join(t.TempDir(), "vw.yaml")
			os.WriteFile(file, []byte(tt.yaml), 0o600)
		}
		_, err := Load(file, tt.env)
		if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
			t.Errorf("%s: Load() error = %v; want one naming %s", tt.name, err, tt.wantKey)
		}
	}
}

func TestExampleConfigIsValidAndComplete(t *testing.T) {
	const example = "../../vitalwatch.example.yaml"
	if _, err := Load(example, nil); err != nil {
		t.Fatalf("Load(%s): %v", example, err)
	}
	body, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	for key := range defaults {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(body), leaf+":") {
			t.Errorf("%s does not document key %s", example, key)
		}
	}
}

// Webhooks go to public addresses only unless alerts.webhooks.allow_private says otherwise, in
// the file or the environment.
func TestLoadConfigWebhooksAllowPrivate(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil || cfg.Alerts.Webhooks.AllowPrivate {
		t.Fatalf("default allow_private = %v, %v; want false", cfg.Alerts.Webhooks.AllowPrivate, err)
	}
	file := filepath.Join(t.TempDir(), "vw.yaml")
	os.WriteFile(file, []byte("alerts:\n  webhooks:\n    allow_private: true\n"), 0o600)
	if cfg, err := Load(file, nil); err != nil || !cfg.Alerts.Webhooks.AllowPrivate {
		t.Errorf("allow_private: true in the file = %+v, %v; want true", cfg.Alerts.Webhooks, err)
	}
	if cfg, err := Load(file, []string{"VITALWATCH_ALERTS_WEBHOOKS_ALLOW_PRIVATE=false"}); err != nil || cfg.Alerts.Webhooks.AllowPrivate {
		t.Errorf("VITALWATCH_ALERTS_WEBHOOKS_ALLOW_PRIVATE=false over the file = %+v, %v; want false", cfg.Alerts.Webhooks, err)
	}
}

func TestPrintConfigHidesSecrets(t *testing.T) {
	for _, dsn := range []string{
		"postgres://vw:s3cret-pw@db:5432/vitalwatch?sslmode=disable",
		"host=db user=vw password=s3cret-pw dbname=vitalwatch",
		"host=db password='s3cret-pw with space' user=vw",
	} {
		cfg, err := Load("", []string{"VITALWATCH_STORE_DSN=" + dsn, "VITALWATCH_BROKER_PASSWORD=s3cret-pw",
			"VITALWATCH_INFLUX_TOKEN=s3cret-pw"})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := Print(&out, cfg); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "s3cret") || !strings.Contains(out.String(), "db") {
			t.Errorf("Print with store.dsn %q =\n%s\nwant the DSN's host and no secret", dsn, out.String())
		}
	}
}
