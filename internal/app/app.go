// Package app runs vitalwatch serve: it builds the embedded broker, ingest, the alert services
// and the HTTP API from the configuration, and runs them together in one group that stops
// them in order.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vitalwatch/vitalwatch/api"
	"github.com/vitalwatch/vitalwatch/broker"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/fhir"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
	webapp "github.com/vitalwatch/vitalwatch/web"
)

// Addrs are the addresses serve listens on.
type Addrs struct {
	HTTP   string
	Broker string // empty when the broker is external
}

// Options are what Run takes from outside the configuration; tests set them.
type Options struct {
	// Now is the clock, time.Now if nil: the alert rules, the escalator and the webhook
	// schedule, ingest's receive times, the fleet reports and the replay at start. A scenario
	// test drives it to play days of readings in seconds.
	Now func() time.Time
	// Started, if set, is told the addresses once everything listens, as the components start.
	Started func(Addrs)
}

// Run runs serve until ctx ends or a component fails, and returns that failure. Then it stops
// the components in order: the embedded broker takes no more messages from devices and lets
// ingest acknowledge what is in flight (up to 20 s); the pipeline flushes and acknowledges what
// it holds (up to 30 s) and the subscriber disconnects; the use recorder finishes (up to 10 s)
// and pruning stops; the alert services and the webhook deliverer stop; the HTTP server shuts
// down; the registry refresh stops. Last it closes what they used.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, opts Options) error {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
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

	al, err := newAlerting(cfg, db, view, reg, now, log) // nil without alerts.enabled
	if err != nil {
		return err
	}
	// The devices' live state, fed by the embedded broker and ingest; nil without
	// device_status.enabled.
	live, err := newDeviceStatus(ctx, cfg, db, al, now, log)
	if err != nil {
		return err
	}
	var tracker *status.Tracker
	if live != nil {
		tracker = live.tracker
	}
	fleetMetrics := newFleetCollector(view, tracker)
	reg.MustRegister(fleetMetrics)
	var addrs Addrs
	login := brokerLogin{URL: cfg.Broker.URL, Username: cfg.Broker.Username, Password: cfg.Broker.Password}
	var embedded *broker.Broker
	if cfg.Broker.Embedded {
		if embedded, login, err = startBroker(cfg, view, live, now, log); err != nil {
			return err
		}
		defer embedded.Close()
		addrs.Broker = embedded.Addr()
	}
	// Alert details read their evidence back from InfluxDB, whether or not this instance ingests.
	readings := influx.NewReader(influx.Config{URL: cfg.Influx.URL, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
		Token: cfg.Influx.Token, Timeout: cfg.Influx.Timeout})
	defer readings.Close()
	var in *ingestion
	if cfg.Ingest.Enabled {
		if in, err = newIngestion(cfg, db, view, reg, al, live, login, now, log); err != nil {
			return err
		}
		defer in.close()
		checks = append(checks, in.checks()...)
	}

	reg.MustRegister(newReadinessCollector(checks))

	reports, err := fleet.New(fleet.Deps{Store: db, Moves: db, Patients: db, Faults: db, Now: now,
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
	apiOpts := api.Options{RegistryChanged: refresher.Refresh, Gatherer: reg, Checks: checks, DeadLetters: db,
		Registry: db, Devices: view, Fleet: reports, Alerts: db, Auth: api.NewUserAuth(db, log), Users: db, Overrides: db,
		Silences: db, Webhooks: db, Log: log, Readings: readings, Series: readings, AllowPrivateWebhooks: cfg.Alerts.Webhooks.AllowPrivate}
	if al != nil {
		// Without alerts there is no live feed, and no rules to check threshold overrides against.
		apiOpts.AlertFeed, apiOpts.OverrideRules = al.hub, al.rules
	}
	if live != nil {
		apiOpts.DeviceStatus = live.tracker
	}
	handler, err := api.New(apiOpts)
	if err != nil {
		return err
	}
	// The read-only FHIR API, with the API's credentials and access rules.
	fhirAPI, err := fhir.New(fhir.Options{Auth: apiOpts.Auth, Registry: db, Devices: view, Alerts: db, Readings: readings,
		Now: now, Log: log})
	if err != nil {
		return err
	}
	webApp, err := webapp.New(webapp.Options{EscalateAfter: cfg.Alerts.EscalateAfter, Districts: cfg.Web.DistrictsGeoJSON,
		Log: log.With("component", "web")})
	if err != nil {
		return err
	}
	web, err := listenHTTP(cfg.HTTP.Listen, httpHandler(withFHIR(handler, fhirAPI), webApp), log)
	if err != nil {
		return err
	}
	defer web.shutdown()
	addrs.HTTP = web.addr()

	// The order below is the order of the stop.
	g := group{log: log, stopping: func() { log.Info("shutting down") }}
	if embedded != nil {
		g.add("embedded broker", embedded.Run)
	}
	if in != nil {
		g.add("ingest", in.run)
		if in.uses != nil {
			// The use recorder outlives the pipeline, which records a batch's uses before
			// acknowledging it; the keys it keeps are forgotten after usage.dedupe_window.
			g.add("use recorder", in.uses.Run)
			g.add("use key pruning", usage.NewPruner(db, cfg.Usage.DedupeWindow, usage.PruneEvery, time.Now,
				log.With("component", "usage")).Run)
		}
	}
	if live != nil {
		// It outlives the broker and ingest, which feed it, to save what they last told it.
		g.add("device status", live.sync.Run)
	}
	if al != nil {
		al.addTo(&g, cfg.Alerts.Tick)
		al.addGrowthNotices(&g, cfg, reports, db, log)
	}
	g.add("fleet metrics", fleetMetrics.Run)
	g.add("report caches", func(ctx context.Context) error { return reports.ForgetIdleEvery(ctx, time.Minute) })
	g.add("http", web.run)
	g.add("registry refresh", func(ctx context.Context) error { return refresher.Run(ctx, cfg.Store.RefreshInterval) })
	if opts.Started != nil {
		opts.Started(addrs)
	}
	err = g.run(ctx)
	log.Info("stopped")
	return err
}
