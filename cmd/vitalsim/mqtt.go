package main

import (
	"context"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/mqttconn"
)

// will is a connection's MQTT last will: what the broker publishes when the connection drops
// without a DISCONNECT.
type will struct {
	topic   string
	payload []byte
}

// connect opens one MQTT connection. It fails, rather than retrying, when the broker cannot be
// reached at start; once connected, the client reconnects by itself and the messages published
// meanwhile fail and are counted.
//
// With onLost set, the client does not reconnect by itself: onLost is called, from a goroutine of
// paho's and so without blocking, when the connection drops, and the caller reconnects.
func connect(ctx context.Context, cfg config, clientID, username string, w *will, onLost func()) (mqtt.Client, error) {
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.broker).
		SetClientID(clientID).
		SetCleanSession(true).
		SetOrderMatters(false).
		SetKeepAlive(30 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(5 * time.Second)
	if username != "" {
		opts.SetUsername(username)
	}
	if cfg.password != "" {
		opts.SetPassword(cfg.password)
	}
	if w != nil {
		opts.SetBinaryWill(w.topic, w.payload, cfg.qos, false)
	}
	if onLost != nil {
		opts.SetAutoReconnect(false)
		opts.SetConnectionLostHandler(func(mqtt.Client, error) { onLost() })
	}
	if cfg.coalesce && !cfg.realtime {
		if mqttconn.Supports(cfg.broker) {
			opts.SetCustomOpenConnectionFn(mqttconn.Open)
		}
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		c.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("cannot connect to MQTT broker %s as %s: %w", cfg.broker, clientID, err)
	}
	return c, nil
}

// waitToken waits for tok until timeout and reports whether it completed.
func waitToken(tok mqtt.Token, timeout time.Duration) bool {
	select {
	case <-tok.Done():
		return true
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return true
	case <-t.C:
		return false
	}
}
