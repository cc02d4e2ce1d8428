package app

import (
	"context"
	"log/slog"
	"time"

	alertrules "github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/store"
)

// deviceStatus is the devices' live state as serve keeps it: the tracker that ingest and the
// embedded broker feed and the API reads, and the Sync that saves it to the store and merges
// what the other instances saved.
type deviceStatus struct {
	tracker *status.Tracker
	sync    *status.Sync
}

// newDeviceStatus builds the tracker, judging by the rules in force (those of the alert
// service, or the built-in ones without alerts), and loads what the store holds; nil without
// device_status.enabled.
func newDeviceStatus(ctx context.Context, cfg *config.Config, db *store.Store, al *alerting, now func() time.Time,
	log *slog.Logger) (*deviceStatus, error) {
	if !cfg.DeviceStatus.Enabled {
		return nil, nil
	}
	rules := alertrules.DefaultRules()
	if al != nil {
		rules = al.rules
	}
	lim, err := status.LimitsOf(rules.Defaults())
	if err != nil {
		return nil, err
	}
	t := status.NewTracker(lim, now)
	s := status.NewSync(t, db, status.SyncOptions{Every: cfg.DeviceStatus.SaveInterval,
		EmbeddedBroker: cfg.Broker.Embedded, Log: log})
	if err := s.Load(ctx); err != nil {
		return nil, err
	}
	log.Info("device status loaded", "devices", t.Len())
	return &deviceStatus{tracker: t, sync: s}, nil
}
