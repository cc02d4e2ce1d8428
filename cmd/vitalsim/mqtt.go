package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/vitalwatch/vitalwatch/ingest/mqttconn"
	"github.com/vitalwatch/vitalwatch/simulators"
)

// will is a connection's MQTT last will: what the broker publishes when the connection drops
// without a DISCONNECT.
type will struct {
	topic   string
	payload []byte
}

// login is who a connection signs in as.
type login struct {
	clientID, username, password string
}

// deviceLogin is how a device signs in: with --auth as itself (client id and user name its id,
// password its secret); otherwise with its id as client id and --username (with {id} replaced
// by the id) and --password.
func deviceLogin(cfg config, d *simulators.Device) login { return loginAs(cfg, d.ID) }

// loginAs is deviceLogin for the device id, a fleet's or a script's.
func loginAs(cfg config, id string) login {
	if cfg.auth {
		secret, ok := cfg.secrets[id]
		if !ok {
			secret = simulators.Secret(cfg.seed, id)
		}
		return login{clientID: id, username: id, password: secret}
	}
	return login{clientID: id, username: strings.ReplaceAll(cfg.username, "{id}", id), password: cfg.password}
}

// readSecrets reads the devices' secrets from devices.csv of a registry export (--registry).
func readSecrets(dir string) (map[string]string, error) {
	path := filepath.Join(dir, "devices.csv")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--registry: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("--registry: %s: %w", path, err)
	}
	idCol, secretCol := slices.Index(header, "id"), slices.Index(header, "secret")
	if idCol < 0 || secretCol < 0 {
		return nil, fmt.Errorf("--registry: %s has no id and secret columns", path)
	}
	secrets := map[string]string{}
	for {
		row, err := r.Read()
		if err == io.EOF {
			return secrets, nil
		}
		if err != nil {
			return nil, fmt.Errorf("--registry: %s: %w", path, err)
		}
		if s := row[secretCol]; s != "" {
			secrets[row[idCol]] = s
		}
	}
}

// checkSecrets fails when --registry gave secrets and a device of the fleet has none there: the
// export is of another fleet (--devices, --seed, --mix or --scenario).
func checkSecrets(cfg config, fleet *simulators.Fleet) error {
	if cfg.secrets == nil || fleet == nil {
		return nil
	}
	for _, d := range fleet.Devices() {
		if _, ok := cfg.secrets[d.ID]; !ok {
			return fmt.Errorf("--registry %s has no secret for %s: export the registry with the same --devices, --seed, --mix and --scenario", cfg.registryDir, d.ID)
		}
	}
	return nil
}

// connect opens one MQTT connection. It fails, rather than retrying, when the broker cannot be
// reached at start or refuses the login; once connected, the client reconnects by itself and the
// messages published meanwhile fail and are counted.
//
// With onLost set, the client does not reconnect by itself: onLost is called, from a goroutine of
// paho's and so without blocking, when the connection drops, and the caller reconnects.
func connect(ctx context.Context, cfg config, l login, w *will, onLost func()) (mqtt.Client, error) {
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.broker).
		SetClientID(l.clientID).
		SetCleanSession(true).
		SetOrderMatters(false).
		SetKeepAlive(30 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(5 * time.Second)
	if l.username != "" {
		opts.SetUsername(l.username)
	}
	if l.password != "" {
		opts.SetPassword(l.password)
	}
	if w != nil {
		opts.SetBinaryWill(w.topic, w.payload, cfg.qos, false)
	}
	if onLost != nil {
		opts.SetAutoReconnect(false)
		opts.SetConnectionLostHandler(func(mqtt.Client, error) { onLost() })
	}
	// A coalescing connection pays off where many devices share it; it also holds 64 KiB of read
	// buffer, which a connection per device (--auth, --realtime) would multiply by thousands.
	if cfg.coalesce && !cfg.realtime && !cfg.auth {
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
		err = fmt.Errorf("cannot connect to MQTT broker %s as %s: %w", cfg.broker, l.clientID, err)
		if cfg.auth && (errors.Is(err, packets.ErrorRefusedNotAuthorised) || errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword)) {
			err = fmt.Errorf("%w (--auth: the password is the device's secret derived from --seed %d; "+
				"the broker must know the secrets of `vitalsim --export-registry` with the same --seed, --devices and --mix)", err, cfg.seed)
		}
		return nil, err
	}
	return c, nil
}

// connectParallel bounds how many connections are opened at once when every device has its own.
const connectParallel = 32

// connectEach opens n connections with open(ctx, i), connectParallel at a time, so that a broker
// that is down or refuses one fails the run before anything is published. On the first failure
// it stops opening, closes those it opened and returns the error; the slice is then nil.
func connectEach(ctx context.Context, n int, open func(ctx context.Context, i int) (mqtt.Client, error)) ([]mqtt.Client, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clients := make([]mqtt.Client, n)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		connErr error
		sem     = make(chan struct{}, connectParallel)
	)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := open(ctx, i)
			if err != nil {
				errOnce.Do(func() { connErr = err; cancel() })
				return
			}
			clients[i] = c
		})
	}
	wg.Wait()
	if connErr == nil && ctx.Err() != nil {
		connErr = ctx.Err()
	}
	if connErr != nil {
		disconnectAll(clients, 0)
		return nil, connErr
	}
	return clients, nil
}

// disconnectAll disconnects the clients that are not nil, connectParallel at a time, each waiting
// up to quiesce ms for its work in progress.
func disconnectAll(clients []mqtt.Client, quiesce uint) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, connectParallel)
	for _, c := range clients {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.Disconnect(quiesce)
		})
	}
	wg.Wait()
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
