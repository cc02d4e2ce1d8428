// Package config is the configuration of vitalwatch: every key with its default, read from a
// YAML file and the environment, checked, and printed.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reallocation"
)

// Config is the whole configuration of vitalwatch serve. It is read once, here, and passed down
// as typed values. Every key can be set in the YAML file or by VITALWATCH_<KEY> with dots as
// underscores, e.g. VITALWATCH_INFLUX_URL for influx.url.
type Config struct {
	DataDir string    `mapstructure:"data_dir"`
	Log     LogConfig `mapstructure:"log"`
	Store   struct {
		DSN             string        `mapstructure:"dsn"`
		RefreshInterval time.Duration `mapstructure:"refresh_interval"`
	} `mapstructure:"store"`
	HTTP struct {
		Listen string `mapstructure:"listen"`
	} `mapstructure:"http"`
	Web struct {
		// DistrictsGeoJSON is the path of the district outlines the map page draws; empty: none.
		DistrictsGeoJSON string `mapstructure:"districts_geojson"`
	} `mapstructure:"web"`
	Broker struct {
		Embedded bool   `mapstructure:"embedded"`
		Listen   string `mapstructure:"listen"`
		URL      string `mapstructure:"url"`
		Username string `mapstructure:"username"`
		Password string `mapstructure:"password"`
	} `mapstructure:"broker"`
	Ingest struct {
		Enabled          bool          `mapstructure:"enabled"`
		ClientID         string        `mapstructure:"client_id"`
		SharedGroup      string        `mapstructure:"shared_group"`
		TopicPrefix      string        `mapstructure:"topic_prefix"`
		Workers          int           `mapstructure:"workers"`
		QueueSize        int           `mapstructure:"queue_size"`
		BatchSize        int           `mapstructure:"batch_size"`
		FlushInterval    time.Duration `mapstructure:"flush_interval"`
		Linger           time.Duration `mapstructure:"linger"`
		WriteTimeout     time.Duration `mapstructure:"write_timeout"`
		RetryInterval    time.Duration `mapstructure:"retry_interval"`
		MaxRetryInterval time.Duration `mapstructure:"max_retry_interval"`
		WatchdogInterval time.Duration `mapstructure:"watchdog_interval"`
		SpoolMaxBytes    int64         `mapstructure:"spool_max_bytes"`
		DeadLetterKeep   int           `mapstructure:"dead_letter_keep"`
	} `mapstructure:"ingest"`
	Influx struct {
		URL     string        `mapstructure:"url"`
		Org     string        `mapstructure:"org"`
		Bucket  string        `mapstructure:"bucket"`
		Token   string        `mapstructure:"token"`
		Timeout time.Duration `mapstructure:"timeout"`
		Gzip    bool          `mapstructure:"gzip"`
	} `mapstructure:"influx"`
	Usage struct {
		Enabled      bool          `mapstructure:"enabled"`
		DedupeWindow time.Duration `mapstructure:"dedupe_window"`
	} `mapstructure:"usage"`
	DeviceStatus struct {
		Enabled      bool          `mapstructure:"enabled"`
		SaveInterval time.Duration `mapstructure:"save_interval"`
	} `mapstructure:"device_status"`
	Alerts struct {
		Enabled      bool          `mapstructure:"enabled"`
		RulesFile    string        `mapstructure:"rules_file"`
		Tick         time.Duration `mapstructure:"tick"`
		PollInterval time.Duration `mapstructure:"poll_interval"`
		// EscalateAfter is how long an urgent alert may stay unacknowledged before it
		// escalates, for teams that set no ack_within of their own.
		EscalateAfter time.Duration `mapstructure:"escalate_after"`
		Webhooks      struct {
			// AllowPrivate lets webhooks go to localhost and to loopback, link-local, private,
			// unspecified and multicast addresses: receivers on the platform's own network.
			// Off, such a URL is refused and a name resolving to such an address is not
			// connected to, so that managing a webhook cannot reach internal services.
			AllowPrivate bool `mapstructure:"allow_private"`
		} `mapstructure:"webhooks"`
	} `mapstructure:"alerts"`
	Reallocation struct {
		Low    float64 `mapstructure:"low"`
		High   float64 `mapstructure:"high"`
		Months int     `mapstructure:"months"`
		Target float64 `mapstructure:"target"`
		Growth float64 `mapstructure:"growth"`
		// GrowthCheck is how often serve checks the growth of every centre's patients on a
		// plan and raises, updates or resolves the centre_growth notices (docs/utilisation.md).
		GrowthCheck time.Duration `mapstructure:"growth_check"`
	} `mapstructure:"reallocation"`
}

// Thresholds are the spare/short thresholds of the reallocation.* keys.
func (c *Config) Thresholds() reallocation.Thresholds {
	r := c.Reallocation
	return reallocation.Thresholds{Low: r.Low, High: r.High, Months: r.Months, Target: r.Target, Growth: r.Growth}
}

// LogConfig says how to log.
type LogConfig struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // text or json
}

// Load reads the YAML file at path (none if empty), then the environment, and validates the
// result. Errors name the key at fault.
func Load(path string, environ []string) (*Config, error) {
	v := viper.New()
	for _, k := range keys {
		v.SetDefault(k.Name, k.Default)
	}
	v.SetEnvPrefix("VITALWATCH")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	// Read from the given environment rather than the process's, so tests need no globals.
	env := map[string]string{}
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "VITALWATCH_") {
			env[k] = val
		}
	}
	for _, k := range keys {
		name := "VITALWATCH_" + strings.ToUpper(strings.ReplaceAll(k.Name, ".", "_"))
		if val, ok := env[name]; ok {
			v.Set(k.Name, val)
			delete(env, name)
		}
	}
	for name := range env {
		if name != "VITALWATCH_CONFIG" && name != "VITALWATCH_INFLUXD" {
			return nil, fmt.Errorf("config: environment variable %s names no configuration key", name)
		}
	}
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config: reading %s: %w", path, err)
		}
		for _, key := range v.AllKeys() {
			if _, ok := lookup(key); !ok {
				return nil, fmt.Errorf("config: %s: unknown key in %s", key, path)
			}
		}
	}
	var cfg Config
	err := v.UnmarshalExact(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
		)
		dc.WeaklyTypedInput = true
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", nameKeys(err))
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// nameKeys rewrites mapstructure's errors, which name struct paths, so they name config keys.
func nameKeys(err error) error {
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		return fmt.Errorf("%s: %v", de.Name(), de.Unwrap())
	}
	return err
}

// Validate checks every key and names the first one that is wrong.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...))
	}
	if c.DataDir == "" {
		return bad("data_dir", "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if d := c.Store.DSN; d != "" && strings.Contains(d, "://") && !strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") {
		return bad("store.dsn", "must be a postgres:// URL, or empty for SQLite in data_dir, got a %s URL", d[:strings.Index(d, "://")])
	}
	if c.Store.RefreshInterval <= 0 {
		return bad("store.refresh_interval", "must be a positive duration such as 2s")
	}
	if err := checkHostPort(c.HTTP.Listen); err != nil {
		return bad("http.listen", "%v", err)
	}
	if c.Broker.Embedded {
		if err := checkHostPort(c.Broker.Listen); err != nil {
			return bad("broker.listen", "%v", err)
		}
	} else if c.Ingest.Enabled {
		u, err := url.Parse(c.Broker.URL)
		if c.Broker.URL == "" {
			return bad("broker.url", "must be set when broker.embedded is false, e.g. tcp://broker:1883")
		}
		if err != nil || u.Host == "" || !slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}, u.Scheme) {
			return bad("broker.url", "must be tcp://host:port (or ssl://, ws://), got %q", c.Broker.URL)
		}
	}
	if c.Ingest.Enabled {
		i := c.Ingest
		switch {
		case i.ClientID == "" || len(i.ClientID) > 64:
			return bad("ingest.client_id", "must be 1-64 characters")
		case strings.ContainsAny(i.SharedGroup, "/+#"):
			return bad("ingest.shared_group", "must not contain / + or #")
		case i.TopicPrefix == "" || strings.ContainsAny(i.TopicPrefix, "+#") || strings.HasSuffix(i.TopicPrefix, "/"):
			return bad("ingest.topic_prefix", "must be a topic level such as devices, without + # or a trailing /")
		case strings.HasPrefix(i.TopicPrefix, "$") || strings.Split(i.TopicPrefix, "/")[0] == "vitalwatch":
			// vitalwatch/ holds ingest's watchdog probes: under that prefix a device named
			// "ingest" could publish fake probes.
			return bad("ingest.topic_prefix", "must not start with $ or the level vitalwatch, which the platform's own topics use")
		case i.Workers < 1 || i.Workers > 64:
			return bad("ingest.workers", "must be from 1 to 64, got %d", i.Workers)
		case i.QueueSize < 1:
			return bad("ingest.queue_size", "must be at least 1, got %d", i.QueueSize)
		case i.BatchSize < 1 || i.BatchSize > 100000:
			return bad("ingest.batch_size", "must be from 1 to 100000, got %d", i.BatchSize)
		case i.FlushInterval <= 0:
			return bad("ingest.flush_interval", "must be a positive duration such as 50ms")
		case i.Linger <= 0 || i.Linger > i.FlushInterval:
			return bad("ingest.linger", "must be a positive duration no longer than ingest.flush_interval (%v), got %v", i.FlushInterval, i.Linger)
		case i.WriteTimeout <= 0:
			return bad("ingest.write_timeout", "must be a positive duration such as 10s")
		case i.RetryInterval <= 0:
			return bad("ingest.retry_interval", "must be a positive duration such as 500ms")
		case i.MaxRetryInterval < i.RetryInterval:
			return bad("ingest.max_retry_interval", "must be at least ingest.retry_interval (%v), got %v", i.RetryInterval, i.MaxRetryInterval)
		case i.WatchdogInterval < 0:
			return bad("ingest.watchdog_interval", "must be a duration, 0 to turn the watchdog off")
		case i.SpoolMaxBytes < 64<<20:
			return bad("ingest.spool_max_bytes", "must be at least 67108864 (64 MiB: several batches), got %d", i.SpoolMaxBytes)
		case i.DeadLetterKeep < 0:
			return bad("ingest.dead_letter_keep", "must be 0 (keep all) or more")
		}
		u, err := url.Parse(c.Influx.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("influx.url", "must be an http:// or https:// URL, got %q", c.Influx.URL)
		}
		if c.Influx.Bucket == "" {
			return bad("influx.bucket", "must be set: a bucket (InfluxDB 2.x) or database/retention-policy (1.8)")
		}
		if c.Influx.Timeout <= 0 {
			return bad("influx.timeout", "must be a positive duration such as 10s")
		}
	}
	if c.DeviceStatus.Enabled && (c.DeviceStatus.SaveInterval < 100*time.Millisecond || c.DeviceStatus.SaveInterval > time.Minute) {
		return bad("device_status.save_interval", "must be from 100ms to 1m, got %v", c.DeviceStatus.SaveInterval)
	}
	if c.Alerts.Enabled {
		switch {
		case c.Alerts.Tick < 100*time.Millisecond || c.Alerts.Tick > time.Minute:
			return bad("alerts.tick", "must be from 100ms to 1m: how often time-driven rules (fall confirmation, offline) run, got %v", c.Alerts.Tick)
		case c.Alerts.PollInterval < 10*time.Millisecond || c.Alerts.PollInterval > 10*time.Second:
			return bad("alerts.poll_interval", "must be from 10ms to 10s: how often the live feed reads other instances' alert events, got %v", c.Alerts.PollInterval)
		case c.Alerts.EscalateAfter < devices.MinAckWithin || c.Alerts.EscalateAfter > devices.MaxAckWithin:
			return bad("alerts.escalate_after", "must be from %v to %v: how long an urgent alert may stay unacknowledged before it escalates, got %v",
				devices.MinAckWithin, devices.MaxAckWithin, c.Alerts.EscalateAfter)
		}
	}
	r := c.Reallocation
	switch {
	case !(r.Low > 0 && r.Low < 1):
		return bad("reallocation.low", "must be a share between 0 and 1 such as 0.6, got %v", r.Low)
	case !(r.High > r.Low):
		return bad("reallocation.high", "must be above reallocation.low (%v), got %v", r.Low, r.High)
	case !(r.Target >= r.Low && r.Target < r.High):
		return bad("reallocation.target", "must be at least reallocation.low (%v) and below reallocation.high (%v), got %v", r.Low, r.High, r.Target)
	case r.Months < 1 || r.Months > 12:
		return bad("reallocation.months", "must be from 1 to 12, got %d", r.Months)
	case !(r.Growth >= 0 && r.Growth <= 10):
		return bad("reallocation.growth", "must be a share from 0 (off) to 10 such as 0.2, got %v", r.Growth)
	case r.GrowthCheck < time.Minute || r.GrowthCheck > 7*24*time.Hour:
		return bad("reallocation.growth_check", "must be from 1m to 168h (7 days): how often the growth notices are checked, got %v", r.GrowthCheck)
	}
	if c.Usage.Enabled && c.Usage.DedupeWindow < time.Hour {
		return bad("usage.dedupe_window", "must be at least 1h: how long a use is remembered so that a redelivery is not counted again, got %v", c.Usage.DedupeWindow)
	}
	return nil
}

// Rules returns the alert rules in force: alerts.rules_file over the built-in defaults. Only the
// commands that use them call it (serve and alerts), so that a bad rules file stops those and
// leaves the registry and user commands working; an error names alerts.rules_file.
func (c *Config) Rules() (*rules.Rules, error) {
	if c.Alerts.RulesFile == "" {
		return rules.DefaultRules(), nil
	}
	r, err := rules.LoadRules(c.Alerts.RulesFile)
	if err != nil {
		return nil, fmt.Errorf("config: alerts.rules_file: %w", err)
	}
	return r, nil
}

func checkHostPort(s string) error {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return fmt.Errorf("must be host:port, got %q", s)
	}
	return nil
}

// DBFile is the SQLite database in data_dir when store.dsn is empty.
const DBFile = "vitalwatch.db"

// StoreDSN is where the registry, dead letters and audit log live: store.dsn, or a SQLite file
// in data_dir.
func (c *Config) StoreDSN() string {
	if c.Store.DSN != "" {
		return c.Store.DSN
	}
	return filepath.Join(c.DataDir, DBFile)
}
