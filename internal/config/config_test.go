package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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
		{"no linger", "ingest:\n  linger: 0s\n", nil, "ingest.linger"},
		{"linger past the flush interval", "", []string{"VITALWATCH_INGEST_LINGER=100ms"}, "ingest.linger"},
		{"bad linger", "", []string{"VITALWATCH_INGEST_LINGER=briefly"}, "linger"},
		{"no retry interval", "ingest:\n  retry_interval: 0s\n", nil, "ingest.retry_interval"},
		{"max retry below retry", "ingest:\n  retry_interval: 2s\n  max_retry_interval: 1s\n", nil, "ingest.max_retry_interval"},
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
		{"growth checked every second", "reallocation:\n  growth_check: 1s\n", nil, "reallocation.growth_check"},
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

// vitalwatch.example.yaml is what `vitalwatch config --example` writes from the key table, so
// that it lists every key with its default, and it is a valid configuration.
func TestExampleConfigIsTheKeyTable(t *testing.T) {
	const example = "../../vitalwatch.example.yaml"
	body, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	if err := WriteExample(&want); err != nil {
		t.Fatal(err)
	}
	if string(body) != want.String() {
		t.Errorf("%s is not what WriteExample writes; run: go run ./cmd/vitalwatch config --example > vitalwatch.example.yaml\n%s",
			example, firstDifference(string(body), want.String()))
	}
	cfg, err := Load(example, nil)
	if err != nil {
		t.Fatalf("Load(%s): %v", example, err)
	}
	if def, _ := Load("", nil); !reflect.DeepEqual(cfg, def) {
		t.Errorf("Load(%s) = %+v; want the defaults %+v", example, cfg, def)
	}
}

// firstDifference shows the first line where got and want differ.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: %q; want %q", i+1, gl, wl)
		}
	}
	return ""
}

// Every key names a field of Config of its default's type, and every field has a key: a field
// added without a key (or the other way round) would have no default, no example and no
// environment variable.
func TestKeysAreTheFieldsOfConfig(t *testing.T) {
	var cfg Config
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.Name] {
			t.Errorf("key %s is in the table twice", k.Name)
		}
		seen[k.Name] = true
		f := field(&cfg, k.Name)
		if !f.IsValid() {
			t.Errorf("key %s names no field of Config", k.Name)
			continue
		}
		if got, want := f.Type(), reflect.TypeOf(k.Default); got != want {
			t.Errorf("key %s: field is a %v, default a %v", k.Name, got, want)
		}
		if k.Doc == "" {
			t.Errorf("key %s has no doc", k.Name)
		}
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := prefix + f.Tag.Get("mapstructure")
			if f.Type.Kind() == reflect.Struct {
				walk(name+".", f.Type)
			} else if !seen[name] {
				t.Errorf("field Config.%s (%s) has no key in the table", f.Name, name)
			}
		}
	}
	walk("", reflect.TypeOf(cfg))
}

// What vitalwatch config prints is a configuration file: loaded again, it gives the same
// configuration (secrets aside, which it hides).
func TestPrintWritesKeysThatLoadBack(t *testing.T) {
	env := []string{"VITALWATCH_INGEST_FLUSH_INTERVAL=20ms", "VITALWATCH_ALERTS_ESCALATE_AFTER=90m",
		"VITALWATCH_USAGE_DEDUPE_WINDOW=48h", "VITALWATCH_REALLOCATION_LOW=0.5", "VITALWATCH_STORE_DSN=host=db.example.internal port=5432 user=vitalwatch dbname=vitalwatch sslmode=require connect_timeout=10",
		"VITALWATCH_BROKER_USERNAME=yes", "VITALWATCH_HTTP_LISTEN=:0"}
	cfg, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := Print(&out, cfg); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"  flush_interval: 20ms\n", "  escalate_after: 1h30m\n", "  dedupe_window: 48h\n",
		"  low: 0.5\n", "  refresh_interval: 2s\n", "  spool_max_bytes: 1073741824\n", "ingest:\n", "    allow_private: false\n"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("Print =\n%s\nwant a line %q", out.String(), line)
		}
	}
	file := filepath.Join(t.TempDir(), "printed.yaml")
	os.WriteFile(file, []byte(out.String()), 0o600)
	again, err := Load(file, nil)
	if err != nil {
		t.Fatalf("Load(what Print wrote): %v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("Load(what Print wrote) = %+v; want %+v", again, cfg)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 50 * time.Millisecond: "50ms", 2 * time.Second: "2s", 15 * time.Minute: "15m", 192 * time.Hour: "192h",
		90 * time.Minute: "1h30m", 150 * time.Second: "2m30s", time.Hour + 5*time.Second: "1h0m5s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q; want %q", d, got, want)
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

// TestRulesFileIsReadByRulesOnly: Load does not read alerts.rules_file, so a bad or missing one
// leaves the commands that do not use the alert rules working; Rules reads it and names the key,
// the file's own key and its limit.
func TestRulesFileIsReadByRulesOnly(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(file, []byte("version: 2\nlate_after: 200h\n"), 0o600)
	for _, path := range []string{file, filepath.Join(t.TempDir(), "missing.yaml")} {
		cfg, err := Load("", []string{"VITALWATCH_ALERTS_RULES_FILE=" + path})
		if err != nil {
			t.Errorf("Load with alerts.rules_file %s: %v; want the rules file left to Rules", path, err)
			continue
		}
		if _, err := cfg.Rules(); err == nil || !strings.HasPrefix(err.Error(), "config: alerts.rules_file: ") || !strings.Contains(err.Error(), path) {
			t.Errorf("Rules() with %s = %v; want an error naming alerts.rules_file and the file", path, err)
		}
	}
	cfg, _ := Load("", []string{"VITALWATCH_ALERTS_RULES_FILE=" + file})
	if _, err := cfg.Rules(); err == nil || !strings.Contains(err.Error(), "late_after: must be from 1m to 168h (7 days), not 200h (line 2)") {
		t.Errorf("Rules() with late_after 200h = %v; want the key and its limit named", err)
	}
	os.WriteFile(file, []byte("version: 2\nlate_after: 168h\n"), 0o600)
	if r, err := cfg.Rules(); err != nil || r.Version() != 2 || r.LateAfter() != 168*time.Hour {
		t.Errorf("Rules() with late_after 168h = %v; want version 2, late_after 168h", err)
	}
	cfg, _ = Load("", nil)
	if r, err := cfg.Rules(); err != nil || r.Version() != 1 {
		t.Errorf("Rules() with no rules file = %v; want the defaults", err)
	}
}
