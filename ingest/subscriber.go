package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/mqttconn"
)

// SubscriberConfig says how to reach the broker and what to subscribe to.
type SubscriberConfig struct {
	BrokerURL string // tcp://host:port, ssl://host:port
	ClientID  string // fixed, so the broker keeps the session (and its queued messages) across restarts
	Username  string
	Password  string
	// TopicPrefix is the first level of device topics ("devices").
	TopicPrefix string
	// SharedGroup, when set, subscribes as $share/{group}/... so that the instances of one
	// group split the messages between them.
	SharedGroup string
	KeepAlive   time.Duration
	// WatchdogInterval is how often a probe message is sent through the broker to check the
	// subscription still delivers; 0 turns the watchdog off.
	WatchdogInterval time.Duration
}

// Subscriber feeds a Pipeline from an MQTT broker: QoS 1, a persistent session and manual
// acknowledgement, so a message is acknowledged only once the pipeline has made it durable.
type Subscriber struct {
	cfg      SubscriberConfig
	pipeline *Pipeline
	client   mqtt.Client
	log      *slog.Logger
	now      func() time.Time

	ctx        context.Context
	cancel     context.CancelFunc
	subscribed atomic.Bool
	lastProbe  atomic.Int64 // unix nanos of the last probe received
	busySince  atomic.Int64 // unix nanos since a handler has been waiting on the pipeline; 0 if none
	wg         sync.WaitGroup

	connects    prometheus.Counter
	connLost    prometheus.Counter
	resubscribe prometheus.Counter
	connected   prometheus.GaugeFunc
}

// NewSubscriber returns a subscriber for cfg that feeds p. It does not connect yet.
func NewSubscriber(cfg SubscriberConfig, p *Pipeline, reg prometheus.Registerer, log *slog.Logger, now func() time.Time) *Subscriber {
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = "devices"
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscriber{cfg: cfg, pipeline: p, log: log.With("component", "mqtt"), now: now, ctx: ctx, cancel: cancel,
		connects: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwatch_mqtt_connects_total",
			Help: "Successful connections of the ingest client to the broker."}),
		connLost: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwatch_mqtt_connection_lost_total",
			Help: "Times the ingest client lost its broker connection."}),
		resubscribe: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwatch_mqtt_watchdog_resubscribes_total",
			Help: "Times the watchdog found the subscription silent while connected and subscribed again."}),
	}
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.BrokerURL).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(false).
		SetAutoAckDisabled(true).
		SetOrderMatters(true). // the handler blocks while the pipeline is full: that is the back pressure
		SetKeepAlive(cfg.KeepAlive).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetOnConnectHandler(s.onConnect).
		// A resumed session's queued messages can arrive before onConnect has subscribed (and
		// so before paho has a route for them); without a default handler they would never be
		// acknowledged.
		SetDefaultPublishHandler(s.handle).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.subscribed.Store(false)
			s.connLost.Inc()
			s.log.Warn("broker connection lost", "err", err)
		})
	if mqttconn.Supports(cfg.BrokerURL) {
		opts.SetCustomOpenConnectionFn(mqttconn.Open)
	}
	s.client = mqtt.NewClient(opts)
	s.connected = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwatch_mqtt_connected",
		Help: "1 when the ingest client is connected and subscribed."}, func() float64 {
		if s.Ready() == nil {
			return 1
		}
		return 0
	})
	reg.MustRegister(s.connects, s.connLost, s.resubscribe, s.connected)
	return s
}

// Start connects in the background (retrying until the broker answers) and, if configured,
// starts the watchdog. It returns at once.
func (s *Subscriber) Start() {
	s.client.Connect()
	if s.cfg.WatchdogInterval > 0 {
		s.wg.Go(s.watchdog)
	}
}

// Ready returns nil when the client is connected and subscribed.
func (s *Subscriber) Ready() error {
	if !s.client.IsConnectionOpen() {
		return errors.New("not connected to the broker")
	}
	if !s.subscribed.Load() {
		return errors.New("connected to the broker but not subscribed")
	}
	return nil
}

// Close stops the watchdog and disconnects, giving outstanding acknowledgements quiesce to
// leave. Call it after the pipeline has stopped, so that its last acknowledgements are sent.
func (s *Subscriber) Close(quiesce time.Duration) {
	s.cancel()
	s.wg.Wait()
	s.client.Disconnect(uint(quiesce / time.Millisecond))
}

func (s *Subscriber) topics() map[string]byte {
	filter := func(kind string) string {
		t := s.cfg.TopicPrefix + "/+/" + kind
		if s.cfg.SharedGroup != "" {
			t = "$share/" + s.cfg.SharedGroup + "/" + t
		}
		return t
	}
	return map[string]byte{filter("telemetry"): 1, filter("status"): 1}
}

func (s *Subscriber) probeTopic() string { return "vitalwatch/ingest/" + s.cfg.ClientID + "/probe" }

// onConnect subscribes on every connection. The broker usually still has the session's
// subscriptions; subscribing again is harmless and covers a broker that lost them.
func (s *Subscriber) onConnect(c mqtt.Client) {
	s.connects.Inc()
	if err := s.subscribe(); err != nil {
		s.log.Error("subscribe failed; reconnecting", "err", err)
		go func() { // reconnect from outside the callback
			c.Disconnect(0)
			s.client.Connect()
		}()
		return
	}
	s.log.Info("connected and subscribed", "broker", s.cfg.BrokerURL, "client_id", s.cfg.ClientID, "shared_group", s.cfg.SharedGroup)
}

func (s *Subscriber) subscribe() error {
	tok := s.client.SubscribeMultiple(s.topics(), s.handle)
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		return fmt.Errorf("subscribe %v: %v", s.topics(), tokenErr(tok))
	}
	if s.cfg.WatchdogInterval > 0 {
		tok = s.client.Subscribe(s.probeTopic(), 0, func(mqtt.Client, mqtt.Message) {
			s.lastProbe.Store(s.now().UnixNano())
		})
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			return fmt.Errorf("subscribe %s: %v", s.probeTopic(), tokenErr(tok))
		}
	}
	s.lastProbe.Store(s.now().UnixNano())
	s.subscribed.Store(true)
	return nil
}

func tokenErr(t mqtt.Token) error {
	if t.Error() != nil {
		return t.Error()
	}
	return errors.New("timed out")
}

// handle passes a message to the pipeline. It does not acknowledge: the pipeline does, once the
// message is durable. A message the pipeline cannot take (it is stopping) stays unacknowledged
// and the broker delivers it again to the next session.
func (s *Subscriber) handle(_ mqtt.Client, m mqtt.Message) {
	now := s.now()
	s.busySince.Store(now.UnixNano())
	defer s.busySince.Store(0)
	_ = s.pipeline.Submit(s.ctx, Delivery{Topic: m.Topic(), Payload: m.Payload(), Received: now, Ack: m.Ack})
}

// watchdog sends a probe through the broker every interval. When the connection is up but no
// probe has come back for three intervals (and no handler is merely waiting on a busy
// pipeline), the subscription has gone silent: it subscribes again.
func (s *Subscriber) watchdog() {
	every := s.cfg.WatchdogInterval
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if !s.client.IsConnectionOpen() || !s.subscribed.Load() {
			continue
		}
		s.client.Publish(s.probeTopic(), 0, false, []byte("probe"))
		now := s.now()
		if busy := s.busySince.Load(); busy != 0 {
			continue // the pipeline is holding the broker back; silence is expected
		}
		if now.Sub(time.Unix(0, s.lastProbe.Load())) < 3*every {
			continue
		}
		s.resubscribe.Inc()
		s.log.Warn("subscription silent while connected; subscribing again", "silent_for", now.Sub(time.Unix(0, s.lastProbe.Load())).Round(time.Second))
		if err := s.subscribe(); err != nil {
			s.log.Error("resubscribe failed", "err", err)
		}
	}
}
