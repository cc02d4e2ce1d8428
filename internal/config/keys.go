package config

import (
	"time"

	"github.com/vitalwatch/vitalwatch/ingest"
)

// Key is one configuration key: the one place that says its name, its default and what it
// means. Load takes its defaults from here, and vitalwatch.example.yaml is written from here
// (WriteExample).
type Key struct {
	// Name is the key as written in the YAML file, its sections joined by dots:
	// ingest.flush_interval. VITALWATCH_INGEST_FLUSH_INTERVAL sets it from the environment.
	Name string
	// Default is the value when neither the file nor the environment sets the key: a string,
	// bool, int, int64, float64 or time.Duration.
	Default any
	// Doc says what the key means. One line is written beside the key; several lines above it.
	Doc string
}

// ingestDefaults are the pipeline's own defaults, so that the ingest.* keys cannot disagree
// with what the pipeline does with a field left zero.
var ingestDefaults = ingest.DefaultConfig()

// keys are every configuration key, in the order of vitalwatch.example.yaml.
var keys = []Key{
	{"data_dir", "data", "the SQLite database (when store.dsn is empty) and the ingest spool; one per instance"},

	{"log.level", "info", "debug | info | warn | error"},
	{"log.format", "text", "text | json"},

	{"store.dsn", "", "Registry, users, audit log, dead letters, usage, alerts and webhooks. Empty: a SQLite file in\n" +
		"data_dir. For several instances sharing one state: postgres://user:password@host:5432/vitalwatch"},
	{"store.refresh_interval", 2 * time.Second, "how often a running instance checks the registry for changes made elsewhere"},

	{"http.listen", "127.0.0.1:8080", "/healthz, /readyz, /metrics, and /api/v1, which needs a user's session or API token\n" +
		"(vitalwatch users add, vitalwatch tokens create)."},

	{"web.districts_geojson", "", "a GeoJSON FeatureCollection of district outlines (Polygons) that the web app's map draws;\n" +
		"empty: none. Read at start."},

	{"broker.embedded", true, "run the MQTT broker inside vitalwatch serve"},
	{"broker.listen", "127.0.0.1:1883", "the embedded broker's address"},
	{"broker.url", "", "external broker when embedded is false, e.g. tcp://mosquitto:1883"},
	{"broker.username", "", "the ingest client's credentials on an external broker"},
	{"broker.password", "", "(the embedded broker makes its own)"},

	{"ingest.enabled", true, "run ingest; without it the embedded broker refuses every device"},
	{"ingest.client_id", "vitalwatch-ingest", "fixed: the broker keeps this session's messages while ingest is away"},
	{"ingest.shared_group", "", "set (e.g. ingest) to split messages over several instances"},
	{"ingest.topic_prefix", ingestDefaults.TopicPrefix, "devices/{id}/telemetry and devices/{id}/status"},
	{"ingest.workers", ingestDefaults.Workers, "parallel decode-and-write workers (1-64); one device always uses the same one"},
	{"ingest.queue_size", ingestDefaults.QueueSize, "messages waiting per worker before the broker is held back"},
	{"ingest.batch_size", ingestDefaults.BatchSize, "messages per InfluxDB write at most"},
	{"ingest.flush_interval", ingestDefaults.FlushInterval, "a batch waits at most this long for more messages"},
	{"ingest.linger", ingestDefaults.Linger, "a batch is written when no message has come for this long (at most flush_interval)"},
	{"ingest.write_timeout", ingestDefaults.WriteTimeout, "an InfluxDB write slower than this sends the batch to the spool"},
	{"ingest.retry_interval", ingestDefaults.RetryInterval, "first wait before retrying InfluxDB or a full spool; it doubles each time"},
	{"ingest.max_retry_interval", ingestDefaults.MaxRetryInterval, "longest wait between those retries"},
	{"ingest.watchdog_interval", 30 * time.Second, "probe the subscription through the broker; 0 turns it off"},
	{"ingest.spool_max_bytes", int64(1 << 30), "disk the spool may use while InfluxDB is down; then ingest stops acknowledging"},
	{"ingest.dead_letter_keep", ingestDefaults.DeadLetterKeep, "newest dead letters kept; 0 keeps all"},

	{"influx.url", "http://127.0.0.1:8086", "http:// or https://"},
	{"influx.org", "vitalwatch", "ignored by InfluxDB 1.8"},
	{"influx.bucket", "vitalwatch/autogen", "InfluxDB 2.x: the bucket; 1.8: database/retention-policy"},
	{"influx.token", "", "InfluxDB 2.x: an API token; 1.8: user:password, or empty without auth"},
	{"influx.timeout", 10 * time.Second, "per request"},
	{"influx.gzip", false, "compress writes (costs CPU, saves network)"},

	{"usage.enabled", true, "count uses as ingest stores readings"},
	{"usage.dedupe_window", 192 * time.Hour, "how long a use is remembered, so that a redelivered reading counts once"},

	{"device_status.enabled", true, "follow each device's live state as ingest and the embedded broker see it"},
	{"device_status.save_interval", 5 * time.Second, "how often this instance saves what changed and reads what the others saved"},

	{"reallocation.low", 0.60, "spare below this utilisation in each of the last months complete months"},
	{"reallocation.high", 0.90, "short above this utilisation last month"},
	{"reallocation.months", 3, "complete months a spare verdict needs (1-12)"},
	{"reallocation.target", 0.75, "the utilisation the planner aims at"},
	{"reallocation.growth", 0.20, "flag a centre needing more devices when its patients on a plan grew by more than this over\n" +
		"twelve months (0.2: 20%); 0 turns the flag off"},
	{"reallocation.growth_check", 24 * time.Hour, "how often serve checks that growth and raises, updates or resolves the centres' growth notices (1m-168h)"},

	{"alerts.enabled", true, "evaluate the alert rules on what ingest accepts"},
	{"alerts.rules_file", "", "a YAML rules file; empty: the defaults"},
	{"alerts.tick", 5 * time.Second, "how often time-driven rules run (fall confirmation, offline, missed measurements)"},
	{"alerts.poll_interval", 200 * time.Millisecond, "how often the live feed reads alert events written by other instances"},
	{"alerts.escalate_after", 15 * time.Minute, "an urgent alert unacknowledged this long goes to the team lead, then on call (a team's ack_within overrides it)"},
	{"alerts.webhooks.allow_private", false, "true lets webhooks go to localhost and loopback, link-local, private or multicast addresses (receivers on this network)"},
}

// sections document groups of keys; the comment goes above the group.
var sections = map[string]string{
	"usage": "Every accepted reading counts a use of its device on its local day (the site's time zone),\n" +
		"kept per device and day in the store. vitalwatch usage rebuild --from --to recounts days\n" +
		"from InfluxDB.",
	"device_status": "Live device status (docs/api.md): connected or not, last heard from, battery, signal,\n" +
		"firmware, clock offset and the last 24 hours' counts, kept in memory and saved to the store\n" +
		"in one transaction every save_interval.",
	"reallocation": "Spare and short (docs/utilisation.md): a device type at a centre is spare when its\n" +
		"utilisation was below low in each of the last months complete months, short when it was\n" +
		"above high last month; the planner aims at target.",
	"alerts": "Alerts (docs/alerts.md): the rules file sets thresholds, windows and severities; only what\n" +
		"differs from the built-in defaults (vitalwatch alerts rules prints them) needs to be in it.",
}

// lookup returns the key named name.
func lookup(name string) (Key, bool) {
	for _, k := range keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}
