package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	alertrules "github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/store"
)

// alerting is the alert services of one instance: the service, whose engine sees what ingest
// accepted before it is acknowledged; the hub, which feeds /api/v1/alerts/stream with this and
// other instances' alert events; the escalator; and the webhook deliverer, which sends any
// instance's alert events to teams' and sites' receivers (the outbox is shared, and a lease
// keeps two instances from sending one twice).
type alerting struct {
	rules     *alertrules.Rules
	svc       *alertrules.Service
	hub       *notify.Hub
	escalator *notify.Escalator
	deliverer *notify.Deliverer
	// lifecycle records findings and publishes their events, counted, to the hub: the engine's
	// and the growth notices'.
	lifecycle *alerts.Lifecycle
}

// newAlerting loads the rules (alerts.rules_file over the defaults) and builds the alert
// services, which count what they do in reg; nil without alerts.enabled.
func newAlerting(cfg *config.Config, db *store.Store, view *devices.View, reg prometheus.Registerer, now func() time.Time,
	log *slog.Logger) (*alerting, error) {
	if !cfg.Alerts.Enabled {
		return nil, nil
	}
	rules, err := cfg.Rules()
	if err != nil {
		return nil, err
	}
	hub := notify.NewHub(db, notify.HubOptions{PollInterval: cfg.Alerts.PollInterval, Log: log})
	metrics := notify.NewMetrics(reg, alertrules.RuleIDs())
	counted := metrics.Counting(hub) // raised alerts and escalation steps, on their way to the hub
	lifecycle := alerts.NewLifecycle(db, counted, log)
	svc := alertrules.NewService(alertrules.NewEngine(rules, now), lifecycle, view, log)
	svc.UseSettings(db) // threshold overrides and silences
	return &alerting{rules: rules, svc: svc, hub: hub, lifecycle: lifecycle,
		escalator: notify.NewEscalator(db, counted, cfg.Alerts.EscalateAfter, now, log),
		deliverer: notify.NewDeliverer(db, notify.DelivererOptions{AllowPrivate: cfg.Alerts.Webhooks.AllowPrivate, Now: now,
			Metrics: metrics, Log: log}),
	}, nil
}

// addTo adds the alert services to g: the hub (its stop ends the open alert streams), the
// time-driven rules and the escalator every tick, and the deliverer (an attempt its stop cuts
// off is sent again).
func (a *alerting) addTo(g *group, tick time.Duration) {
	g.add("alert hub", a.hub.Run)
	g.add("alert rules", func(ctx context.Context) error { return a.svc.Run(ctx, tick) })
	g.add("escalator", func(ctx context.Context) error { return a.escalator.Run(ctx, tick) })
	g.add("webhook deliverer", a.deliverer.Run)
}

// addGrowthNotices adds to g the check of the centres' growth notices (centre_growth) on
// reports, after fleet.GrowthCheckDelay and then every reallocation.growth_check, recorded in
// db and published as the engine's findings are (the live feed, webhooks). The rules file may
// turn the rule off or change its severity.
func (a *alerting) addGrowthNotices(g *group, cfg *config.Config, reports *fleet.Reports, db *store.Store, log *slog.Logger) {
	th := a.rules.Defaults()
	sev, _ := th.Severity(alerts.RuleCentreGrowth, "growth")
	n := fleet.NewGrowthNotices(reports, db, a.lifecycle,
		fleet.GrowthRule{Enabled: th.Enabled(alerts.RuleCentreGrowth), Severity: sev, Version: th.Version()}, log)
	g.add("growth notices", func(ctx context.Context) error {
		return n.Run(ctx, fleet.GrowthCheckDelay, cfg.Reallocation.GrowthCheck)
	})
}

// replay feeds the alert engine the readings in InfluxDB recent at now, so that rule windows
// and episodes (a CGM episode under way, a BP crisis awaiting its retest) come back before new
// readings arrive. If InfluxDB cannot be read, serve starts anyway: the windows then fill from
// new readings, and open alerts are in the store regardless.
func (a *alerting) replay(ctx context.Context, cfg *config.Config, now time.Time, log *slog.Logger) {
	history := influx.NewReader(influx.Config{URL: cfg.Influx.URL, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
		Token: cfg.Influx.Token, Timeout: max(cfg.Influx.Timeout, 30*time.Second)})
	defer history.Close()
	start := time.Now()
	n, err := a.svc.Replay(ctx, history, now)
	if err != nil {
		log.Warn("alert rules: could not replay recent readings; their windows start empty", "err", err, "replayed", n)
		return
	}
	log.Info("alert rules: replayed recent readings", "readings", n, "took", time.Since(start).Round(time.Millisecond))
}
