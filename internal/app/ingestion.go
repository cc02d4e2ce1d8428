package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/api"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/ingest"
	"github.com/vitalwatch/vitalwatch/ingest/spool"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// spoolDir is the spool's directory in data_dir.
const spoolDir = "spool"

// ingestion is ingest as serve runs it: the spool and the InfluxDB writer the pipeline stores
// to, the pipeline, the subscriber that feeds it, and the use recorder it counts uses with
// (nil without usage.enabled).
type ingestion struct {
	cfg      *config.Config
	spool    *spool.Spool
	points   *influx.Writer
	pipeline *ingest.Pipeline
	sub      *ingest.Subscriber
	uses     *usage.Recorder
	alerts   *alerting // shown what ingest accepts; nil without alerts
	login    brokerLogin
	now      func() time.Time
	log      *slog.Logger
}

// newIngestion opens the spool in data_dir and the InfluxDB writer and builds the pipeline and
// its subscriber, which signs in to the broker with login. The pipeline shows what it takes to
// the alert service al and the device status tracker of live, when they are not nil.
func newIngestion(cfg *config.Config, db *store.Store, view *devices.View, reg prometheus.Registerer, al *alerting,
	live *deviceStatus, login brokerLogin, now func() time.Time, log *slog.Logger) (*ingestion, error) {
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(cfg.DataDir, spoolDir), MaxBytes: cfg.Ingest.SpoolMaxBytes})
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if r := sp.Recovery(); r.TruncatedBytes > 0 {
		log.Warn("spool: dropped a torn record at the end (its batch was never acknowledged)", "bytes", r.TruncatedBytes)
	}
	in := &ingestion{cfg: cfg, spool: sp, alerts: al, login: login, now: now, log: log,
		points: influx.NewWriter(influx.Config{URL: cfg.Influx.URL, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
			Token: cfg.Influx.Token, Timeout: cfg.Influx.Timeout, Gzip: cfg.Influx.Gzip})}
	deps := ingest.Deps{Points: in.points, DeadLetters: db, Spool: sp, Directory: view,
		Metrics: ingest.NewMetrics(reg), Log: log, Now: now}
	if cfg.Usage.Enabled {
		in.uses = usage.NewRecorder(db, reg, log)
		deps.Uses = in.uses
	}
	if al != nil {
		deps.Observer = al.svc
	}
	if live != nil {
		deps.Status = live.tracker
	}
	in.pipeline = ingest.NewPipeline(pipelineConfig(cfg), deps)
	in.sub = ingest.NewSubscriber(ingest.SubscriberConfig{
		BrokerURL: login.URL, ClientID: cfg.Ingest.ClientID, Username: login.Username,
		Password: login.Password, TopicPrefix: cfg.Ingest.TopicPrefix, SharedGroup: cfg.Ingest.SharedGroup,
		WatchdogInterval: cfg.Ingest.WatchdogInterval,
	}, in.pipeline, reg, log, now)
	return in, nil
}

// pipelineConfig is the pipeline's part of the ingest.* keys.
func pipelineConfig(cfg *config.Config) ingest.Config {
	i := cfg.Ingest
	return ingest.Config{TopicPrefix: i.TopicPrefix, Workers: i.Workers, QueueSize: i.QueueSize,
		BatchSize: i.BatchSize, FlushInterval: i.FlushInterval, Linger: i.Linger, WriteTimeout: i.WriteTimeout,
		RetryInterval: i.RetryInterval, MaxRetryInterval: i.MaxRetryInterval, DeadLetterKeep: i.DeadLetterKeep}
}

// checks are ingest's readiness checks: subscribed to the broker, InfluxDB answering, the
// spool writable.
func (in *ingestion) checks() []api.Check {
	return []api.Check{
		{Name: "broker", Check: func(context.Context) error { return in.sub.Ready() }},
		{Name: "influx", Check: in.points.Ping},
		{Name: "spool", Check: in.pipeline.SpoolReady},
	}
}

// run rebuilds the alert rules' windows from the recent readings in InfluxDB, then runs the
// pipeline and the subscriber until ctx ends. The pipeline stops first, so that its last
// acknowledgements leave before the subscriber disconnects.
func (in *ingestion) run(ctx context.Context) error {
	if in.alerts != nil {
		in.alerts.replay(ctx, in.cfg, in.now(), in.log)
	}
	g := group{log: in.log}
	g.add("pipeline", in.pipeline.Run)
	g.add("subscriber", in.sub.Run)
	in.log.Info("ingest started", "broker", in.login.URL, "influx", in.cfg.Influx.URL, "bucket", in.cfg.Influx.Bucket)
	return g.run(ctx)
}

// close closes the InfluxDB writer and the spool, once the pipeline has stopped.
func (in *ingestion) close() {
	in.points.Close()
	in.spool.Close()
}
