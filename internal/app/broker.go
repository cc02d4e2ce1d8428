package app

import (
	"log/slog"
	"time"

	"github.com/vitalwatch/vitalwatch/broker"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/config"
)

// brokerLogin is how the ingest client signs in to the broker.
type brokerLogin struct {
	URL, Username, Password string
}

// ingestUser is the ingest client's username on the embedded broker.
const ingestUser = "vitalwatch-ingest"

// startBroker starts the embedded broker, listening on broker.listen, and returns how ingest
// signs in to it: as a principal whose password exists only in this process.
// With live, it tells the tracker of the devices' connections.
func startBroker(cfg *config.Config, view *devices.View, live *deviceStatus, now func() time.Time, log *slog.Logger) (*broker.Broker, brokerLogin, error) {
	login := brokerLogin{Username: ingestUser, Password: devices.NewSecret()}
	principal := IngestPrincipal(login.Username, login.Password, cfg.Ingest.TopicPrefix)
	principal.ClientID = cfg.Ingest.ClientID // its session is ingest's alone
	// The broker keeps messages in memory only: it acknowledges a device's publish once ingest
	// has made it durable, and keeps devices out while ingest is not subscribed (at start,
	// while the alert rules replay, and whenever ingest's connection is down), so that a
	// restart or crash never loses what a device was told was delivered.
	bc := broker.Config{Listen: cfg.Broker.Listen, Devices: view, TopicPrefix: cfg.Ingest.TopicPrefix,
		Principals: []broker.Principal{principal}, Ingest: cfg.Ingest.ClientID, Now: now}
	if live != nil {
		bc.Presence = live.tracker
	}
	b, err := broker.Start(bc, log)
	if err != nil {
		return nil, brokerLogin{}, err
	}
	login.URL = b.URL()
	log.Info("embedded MQTT broker listening", "addr", b.Addr())
	if !cfg.Ingest.Enabled {
		log.Warn("embedded broker without ingest: nothing can make device messages durable, so devices are refused")
	}
	return b, login, nil
}

// IngestPrincipal is what the ingest client may do on a broker that checks access: read device
// telemetry and status (also through shared subscriptions), send commands, and round-trip its
// watchdog probes.
func IngestPrincipal(user, password, prefix string) broker.Principal {
	return broker.Principal{Username: user, Password: password,
		Subscribe: []string{prefix + "/+/telemetry", prefix + "/+/status",
			"$share/+/" + prefix + "/+/telemetry", "$share/+/" + prefix + "/+/status", "vitalwatch/ingest/+/probe"},
		Publish: []string{prefix + "/+/commands", "vitalwatch/ingest/+/probe"},
	}
}
