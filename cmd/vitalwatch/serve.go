package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/api"
	"github.com/vitalwatch/vitalwatch/broker"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/ingest"
	"github.com/vitalwatch/vitalwatch/spool"
	"github.com/vitalwatch/vitalwatch/store"
	deviceusage "github.com/vitalwatch/vitalwatch/usage" // "usage" is the help text in main.go
)

// spoolDir is the spool's directory in data_dir.
const spoolDir = "spool"

// listening tells a caller (a test) the addresses serve ended up on.
type listening struct {
	HTTP   string
	Broker string // empty when the broker is external
}

// serveOption changes what serve takes from outside its configuration; tests use them.
type serveOption func(*serveOptions)

// serveOptions are what the options set.
type serveOptions struct {
	now func() time.Time // the clock; time.Now unless a test sets it
}

// withClock makes serve read the time from now rather than time.Now: the alert rules, the
// escalator and the webhook schedule, ingest's receive times, the fleet reports and the replay
// at start. A scenario test drives it to play days of readings in seconds.
func withClock(now func() time.Time) serveOption {
	return func(o *serveOptions) { o.now = now }
}

// serve runs the platform until ctx ends, then shuts down in order: stop taking messages,
// make what is held durable and acknowledge it, disconnect, close.
func serve(ctx context.Context, cfg *Config, log *slog.Logger, started func(listening), options ...serveOption) error {
	opts := serveOptions{now: time.Now}
	for _, o := range options {
		o(&opts)
	}
	now := opts.now
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir %s: %w", cfg.DataDir, err)
	}
	db, err := store.Open(ctx, cfg.StoreDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	// The registry view that the broker and ingest consult on every connection and message.
	view := devices.NewView(devices.NewDirectory(-1, nil, nil, nil))
	if err := devices.Refresh(ctx, view, db); err != nil {
		return err
	}
	log.Info("registry loaded", "devices", view.Load().Len(), "version", view.Load().Version())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	checks := []api.Check{{Name: "store", Check: db.Ping}}

	var addrs listening
	var embedded *broker.Broker
	brokerURL := cfg.Broker.URL
	ingestUser, ingestPassword := cfg.Broker.Username, cfg.Broker.Password
	if cfg.Broker.Embedded {
		// Ingest signs in to the embedded broker as a principal whose password lives only in
		// this process.
		ingestUser, ingestPassword = "vitalwatch-ingest", devices.NewSecret()
		principal := ingestPrincipal(ingestUser, ingestPassword, cfg.Ingest.TopicPrefix)
		principal.ClientID = cfg.Ingest.ClientID // its session is ingest's alone
		// The broker keeps messages in memory only: it acknowledges a device's publish once
		// ingest has made it durable, and keeps devices out while ingest is not subscribed
		// (at start, while the alert rules replay, and whenever ingest's connection is down),
		// so that a restart or crash never loses what a device was told was delivered.
		b, err := broker.Start(broker.Config{Listen: cfg.Broker.Listen, Devices: view, TopicPrefix: cfg.Ingest.TopicPrefix,
			Principals: []broker.Principal{principal}, Ingest: cfg.Ingest.ClientID}, log)
		if err != nil {
			return err
		}
		defer b.Close()
		embedded = b
		brokerURL = b.URL()
		addrs.Broker = b.Addr()
		log.Info("embedded MQTT broker listening", "addr", b.Addr())
		if !cfg.Ingest.Enabled {
			log.Warn("embedded broker without ingest: nothing can make device messages durable, so devices are refused")
		}
	}

	// Alerts: the engine sees what ingest accepted before it is acknowledged; the hub feeds
	// /api/v1/alerts/stream with this and other instances' alert events.
	var (
		alertSvc  *alerts.Service
		hub       *alerts.Hub
		escalator *alerts.Escalator
	)
	// The API checks threshold overrides against the rules in force: without alerts, none.
	var overrideRules api.OverrideValidator
	// The webhook deliverer sends alert events to teams' and sites' receivers (any instance's
	// events: the outbox is shared, and a lease keeps two instances from sending one twice).
	var deliverer *alerts.Deliverer
	if cfg.Alerts.Enabled {
		rules := alerts.DefaultRules()
		if cfg.Alerts.RulesFile != "" {
			if rules, err = alerts.LoadRules(cfg.Alerts.RulesFile); err != nil {
				return fmt.Errorf("config: alerts.rules_file: %w", err)
			}
		}
		hub = alerts.NewHub(db, alerts.HubOptions{PollInterval: cfg.Alerts.PollInterval, Log: log})
		alertSvc = alerts.NewService(alerts.NewEngine(rules, now), alerts.NewLifecycle(db, hub, log), view, log)
		alertSvc.UseSettings(db) // threshold overrides and silences
		overrideRules = rules
		escalator = alerts.NewEscalator(db, hub, cfg.Alerts.EscalateAfter, now, log)
		deliverer = alerts.NewDeliverer(db, alerts.DelivererOptions{AllowPrivate: cfg.Alerts.Webhooks.AllowPrivate, Now: now, Log: log})
	}

	// Alert details read their evidence back from InfluxDB, whether or not this instance ingests.
	readings := influx.NewReader(influx.Config{URL: cfg.Influx.URL, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
		Token: cfg.Influx.Token, Timeout: cfg.Influx.Timeout})
	defer readings.Close()
	var (
		pipeline *ingest.Pipeline
		sub      *ingest.Subscriber
		points   *influx.Writer
		sp       *spool.Spool
		uses     *deviceusage.Recorder // counts device uses for ingest, with usage.enabled
	)
	if cfg.Ingest.Enabled {
		sp, err = spool.Open(spool.Options{Dir: filepath.Join(cfg.DataDir, spoolDir), MaxBytes: cfg.Ingest.SpoolMaxBytes})
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		defer sp.Close()
		if r := sp.Recovery(); r.TruncatedBytes > 0 {
			log.Warn("spool: dropped a torn record at the end (its batch was never acknowledged)", "bytes", r.TruncatedBytes)
		}
		points = influx.NewWriter(influx.Config{URL: cfg.Influx.URL, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
			Token: cfg.Influx.Token, Timeout: cfg.Influx.Timeout, Gzip: cfg.Influx.Gzip})
		defer points.Close()
		pcfg := ingest.Config{
			TopicPrefix: cfg.Ingest.TopicPrefix, Workers: cfg.Ingest.Workers, QueueSize: cfg.Ingest.QueueSize,
			BatchSize: cfg.Ingest.BatchSize, FlushInterval: cfg.Ingest.FlushInterval, Linger: cfg.Ingest.Linger,
			WriteTimeout: cfg.Ingest.WriteTimeout, RetryInterval: cfg.Ingest.RetryInterval,
			MaxRetryInterval: cfg.Ingest.MaxRetryInterval, DeadLetterKeep: cfg.Ingest.DeadLetterKeep,
		}
		deps := ingest.Deps{Points: points, DeadLetters: db, Spool: sp, Directory: view,
			Metrics: ingest.NewMetrics(reg), Log: log, Now: now}
		if cfg.Usage.Enabled {
			uses = deviceusage.NewRecorder(db, reg, log)
			deps.Uses = uses
		}
		if alertSvc != nil {
			deps.Observer = alertSvc
		}
		pipeline = ingest.NewPipeline(pcfg, deps)
		sub = ingest.NewSubscriber(ingest.SubscriberConfig{
			BrokerURL: brokerURL, ClientID: cfg.Ingest.ClientID, Username: ingestUser,
			Password: ingestPassword, TopicPrefix: cfg.Ingest.TopicPrefix, SharedGroup: cfg.Ingest.SharedGroup,
			WatchdogInterval: cfg.Ingest.WatchdogInterval,
		}, pipeline, reg, log, now)
		checks = append(checks,
			api.Check{Name: "broker", Check: func(context.Context) error { return sub.Ready() }},
			api.Check{Name: "influx", Check: points.Ping},
			api.Check{Name: "spool", Check: pipeline.SpoolReady})
	}

	reports, err := fleet.New(fleet.Deps{Store: db, Moves: db, Now: now,
		Directory: func(context.Context) (*devices.Directory, error) { return view.Load(), nil }}, cfg.Thresholds())
	if err != nil {
		return err
	}
	// Changes made through this instance's API are in force here before the request answers;
	// other instances' changes arrive within store.refresh_interval.
	refresher := devices.NewRefresher(view, db, func(*devices.Directory) {
		if embedded != nil {
			if n := embedded.DropRevoked(); n > 0 {
				log.Info("disconnected devices retired or given a new secret", "count", n)
			}
		}
	}, log)
	handler, err := api.New(api.Options{RegistryChanged: refresher.Refresh, Gatherer: reg, Checks: checks, DeadLetters: db,
		Registry: db, Devices: view, Fleet: reports, Alerts: db, AlertFeed: hub,
		Auth: api.NewUserAuth(db, log), Users: db, Overrides: db, OverrideRules: overrideRules, Silences: db, Webhooks: db, Log: log,
		Readings: readings, AllowPrivateWebhooks: cfg.Alerts.Webhooks.AllowPrivate})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %q: %w", cfg.HTTP.Listen, err)
	}
	addrs.HTTP = ln.Addr().String()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	log.Info("HTTP listening", "addr", addrs.HTTP, "metrics", "http://"+addrs.HTTP+"/metrics",
		"ready", "http://"+addrs.HTTP+"/readyz", "deadletters", "http://"+addrs.HTTP+"/api/v1/deadletters")

	refreshCtx, stopRefresh := context.WithCancel(context.Background())
	refreshed := make(chan struct{})
	go func() {
		defer close(refreshed)
		_ = refresher.Run(refreshCtx, cfg.Store.RefreshInterval) // nil: it stops only when told
	}()
	defer func() { stopRefresh(); <-refreshed }()

	// The use recorder outlives the pipeline, which records a batch's uses before acknowledging
	// it; the keys it keeps are forgotten after usage.dedupe_window.
	usesCtx, stopUses := context.WithCancel(context.Background())
	defer stopUses()
	pruneCtx, stopPruning := context.WithCancel(context.Background())
	defer stopPruning()
	usesDone, pruned := make(chan error, 1), make(chan struct{})
	if uses != nil {
		go func() { usesDone <- uses.Run(usesCtx) }()
		go func() {
			defer close(pruned)
			_ = deviceusage.NewPruner(db, cfg.Usage.DedupeWindow, deviceusage.PruneEvery, time.Now, log.With("component", "usage")).Run(pruneCtx) // nil: it stops only when told
		}()
	} else {
		usesDone <- nil
		close(pruned)
	}

	// The hub, the time-driven rules and the escalator run until the HTTP server is shut down;
	// cancelling the hub ends the open alert streams.
	alertsCtx, stopAlerts := context.WithCancel(context.Background())
	defer stopAlerts()
	alertsDone := make(chan struct{}, 3)
	if alertSvc != nil {
		go func() { defer func() { alertsDone <- struct{}{} }(); hub.Run(alertsCtx) }()
		go func() { defer func() { alertsDone <- struct{}{} }(); alertSvc.Run(alertsCtx, cfg.Alerts.Tick) }()
		go func() { defer func() { alertsDone <- struct{}{} }(); escalator.Run(alertsCtx, cfg.Alerts.Tick) }()
	} else {
		alertsDone <- struct{}{}
		alertsDone <- struct{}{}
		alertsDone <- struct{}{}
	}
	delivered := make(chan struct{}) // the deliverer has stopped: an attempt it cut off is retried
	if deliverer != nil {
		go func() { defer close(delivered); deliverer.Run(alertsCtx) }()
	} else {
		close(delivered)
	}

	// The broker, the pipeline and the subscriber have their own contexts: on shutdown the
	// broker drains while ingest runs, then the pipeline flushes, then the subscriber leaves.
	brokerCtx, drainBroker := context.WithCancel(context.Background())
	defer drainBroker()
	pipeCtx, stopPipeline := context.WithCancel(context.Background())
	defer stopPipeline()
	subCtx, stopSub := context.WithCancel(context.Background())
	defer stopSub()
	brokerDone, pipeDone, subDone := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	if pipeline != nil && alertSvc != nil {
		// Rule windows and episodes (a CGM episode under way, a BP crisis awaiting its retest)
		// come back from the recent readings before new ones arrive.
		replayAlerts(ctx, cfg, alertSvc, now(), log)
	}
	if pipeline != nil {
		if embedded != nil {
			go func() { brokerDone <- embedded.Run(brokerCtx) }()
		}
		go func() { pipeDone <- pipeline.Run(pipeCtx) }()
		go func() { subDone <- sub.Run(subCtx) }()
		log.Info("ingest started", "broker", brokerURL, "influx", cfg.Influx.URL, "bucket", cfg.Influx.Bucket)
	}
	if started != nil {
		started(addrs)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-httpDone:
		serveErr = fmt.Errorf("http: %w", err)
	}
	log.Info("shutting down")
	if pipeline != nil {
		if embedded != nil {
			// The embedded broker forgets what it holds when it closes: take no more from
			// devices, and let ingest acknowledge what is in flight first.
			drainBroker()
			if err := <-brokerDone; err != nil {
				log.Warn("embedded broker drain incomplete", "err", err)
			}
		}
		stopPipeline()
		if err := <-pipeDone; err != nil {
			log.Warn("ingest stopped", "err", err)
		}
		stopSub()
		<-subDone
	}
	stopUses()
	if err := <-usesDone; err != nil {
		log.Warn("use recorder stopped", "err", err)
	}
	stopPruning()
	<-pruned
	stopAlerts()
	<-alertsDone
	<-alertsDone
	<-alertsDone
	<-delivered
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	log.Info("stopped")
	return serveErr
}

// ingestPrincipal is what the ingest client may do on a broker that checks access: read device
// telemetry and status (also through shared subscriptions), send commands, and round-trip its
// watchdog probes.
func ingestPrincipal(user, password, prefix string) broker.Principal {
	return broker.Principal{Username: user, Password: password,
		Subscribe: []string{prefix + "/+/telemetry", prefix + "/+/status",
			"$share/+/" + prefix + "/+/telemetry", "$share/+/" + prefix + "/+/status", "vitalwatch/ingest/+/probe"},
		Publish: []string{prefix + "/+/commands", "vitalwatch/ingest/+/probe"},
	}
}

// replayAlerts feeds the alert engine the readings in InfluxDB recent at now. If InfluxDB cannot
// be read, serve starts anyway: the windows then fill from new readings, and open alerts are in
// the store regardless.
func replayAlerts(ctx context.Context, cfg *Config, svc *alerts.Service, now time.Time, log *slog.Logger) {
	history := influx.NewReader(influx.Config{URL: cfg.Influx.URL, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
		Token: cfg.Influx.Token, Timeout: max(cfg.Influx.Timeout, 30*time.Second)})
	defer history.Close()
	start := time.Now()
	n, err := svc.Replay(ctx, history, now)
	if err != nil {
		log.Warn("alert rules: could not replay recent readings; their windows start empty", "err", err, "replayed", n)
		return
	}
	log.Info("alert rules: replayed recent readings", "readings", n, "took", time.Since(start).Round(time.Millisecond))
}
