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

	"github.com/vitalwatch/vitalwatch/ingest/mqttconn"
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
	probe    string // the watchdog's topic

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the supervisor
	kick   chan struct{}  // wakes the supervisor: connected, connection lost
	// conn changes with every connection and every loss, so that a subscribe that straddles
	// one is not taken for the current connection's.
	conn              atomic.Uint64
	subscribed        atomic.Bool  // the current connection is subscribed
	resubscribeWanted atomic.Bool  // the watchdog found the subscription silent
	lastProbe         atomic.Int64 // unix nanos of the last probe received
	busySince         atomic.Int64 // unix nanos since a handler has been waiting on the pipeline; 0 if none

	connects    prometheus.Counter
	connLost    prometheus.Counter
	resubscribe prometheus.Counter
	connected   prometheus.GaugeFunc
}

// NewSubscriber returns a subscriber for cfg that feeds p. It connects once Run runs.
func NewSubscriber(cfg SubscriberConfig, p *Pipeline, reg prometheus.Registerer, log *slog.Logger, now func() time.Time) *Subscriber {
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = "devices"
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscriber{cfg: cfg, pipeline: p, log: log.With("component", "mqtt"), now: now, ctx: ctx, cancel: cancel,
		probe: "vitalwatch/ingest/" + cfg.ClientID + "/probe",
		kick:  make(chan struct{}, 1),
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
		// Every message comes to the default handler: the subscriptions have no callbacks (see
		// subscribe), and a resumed session's queued messages can arrive before onConnect has
		// subscribed at all.
		SetDefaultPublishHandler(s.handle).
		SetConnectionLostHandler(s.onConnectionLost).
		SetStore(mqttconn.NewStore())
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

// closeQuiesce is how long Run, as it disconnects, gives outstanding acknowledgements to leave.
const closeQuiesce = 2 * time.Second

// Run connects and keeps the client connected and subscribed (and, if configured, the
// watchdog probing) until ctx ends; then it disconnects, giving outstanding acknowledgements
// 2 s to leave. Let the pipeline's Run return first, so that its last acknowledgements are
// sent. Run returns nil: a broker it cannot reach it tries again, and Ready reports.
func (s *Subscriber) Run(ctx context.Context) error {
	s.start()
	<-ctx.Done()
	s.close(closeQuiesce)
	return nil
}

// start connects in the background and starts the goroutine that keeps the client connected
// and subscribed (and, if configured, runs the watchdog). It returns at once.
func (s *Subscriber) start() {
	s.client.Connect()
	s.wg.Go(s.supervise)
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

// close stops the supervisor and disconnects, giving outstanding acknowledgements quiesce to
// leave.
func (s *Subscriber) close(quiesce time.Duration) {
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

func (s *Subscriber) probeTopic() string { return s.probe }

// onConnect and onConnectionLost run on paho's goroutines. They only record the change and
// wake the supervisor, which owns every reaction to it: subscribing, and connecting again if
// paho has stopped trying. (Disconnecting and connecting from here raced with paho's own
// reconnect: a Disconnect while paho handled the loss cancelled its reconnect, Disconnect(0)
// returned before the status changed, and the Connect that followed failed on that status,
// silently; the client then stayed disconnected.)
func (s *Subscriber) onConnect(mqtt.Client) {
	s.connects.Inc()
	s.conn.Add(1)
	s.subscribed.Store(false)
	s.wake()
}

func (s *Subscriber) onConnectionLost(_ mqtt.Client, err error) {
	s.conn.Add(1)
	s.subscribed.Store(false)
	s.connLost.Inc()
	s.log.Warn("broker connection lost", "err", err)
	s.wake()
}

func (s *Subscriber) wake() {
	select {
	case s.kick <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Backoff of the supervisor's retries while the client is not connected and subscribed.
const (
	minRetry = 500 * time.Millisecond
	maxRetry = 10 * time.Second
)

// supervise keeps the client connected and subscribed until close: it subscribes on every
// connection, retries a failed subscribe, connects again if paho is neither connected nor
// reconnecting, and runs the watchdog. Retries back off from minRetry to maxRetry and start
// again from minRetry once the client is ready.
func (s *Subscriber) supervise() {
	var probes <-chan time.Time
	if s.cfg.WatchdogInterval > 0 {
		t := time.NewTicker(s.cfg.WatchdogInterval)
		defer t.Stop()
		probes = t.C
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	b := newBackoff(minRetry, maxRetry)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		case <-retry.C:
		case <-probes:
			s.watchdog()
		}
		if s.ensure() {
			retry.Stop()
			b.reset()
			continue
		}
		retry.Reset(b.next())
	}
}

// ensure does what can be done now towards being connected and subscribed, and reports
// whether the client is.
func (s *Subscriber) ensure() bool {
	if !s.client.IsConnectionOpen() {
		// IsConnected is also true while paho connects or reconnects by itself; false means
		// it has stopped trying (or is about to), so start it again. A Connect refused for
		// paho's status is tried again at the next retry.
		if !s.client.IsConnected() {
			s.log.Warn("broker client neither connected nor reconnecting; connecting again")
			s.client.Connect()
		}
		return false
	}
	if s.subscribed.Load() && !s.resubscribeWanted.Load() {
		return true
	}
	conn := s.conn.Load()
	if err := s.subscribe(); err != nil {
		s.log.Error("subscribe failed; retrying", "err", err)
		return false
	}
	if s.conn.Load() != conn {
		return false // the connection changed meanwhile: subscribe on the new one
	}
	s.resubscribeWanted.Store(false)
	s.subscribed.Store(true)
	s.log.Info("connected and subscribed", "broker", s.cfg.BrokerURL, "client_id", s.cfg.ClientID, "shared_group", s.cfg.SharedGroup)
	return true
}

func (s *Subscriber) subscribe() error {
	// No callbacks: every message goes to the default handler, handle. With a callback paho
	// keeps a route, and matches each message's topic against each route by splitting both.
	if err := s.wait(s.client.SubscribeMultiple(s.topics(), nil)); err != nil {
		return fmt.Errorf("subscribe %v: %w", s.topics(), err)
	}
	if s.cfg.WatchdogInterval > 0 {
		if err := s.wait(s.client.Subscribe(s.probeTopic(), 0, nil)); err != nil {
			return fmt.Errorf("subscribe %s: %w", s.probeTopic(), err)
		}
	}
	s.lastProbe.Store(s.now().UnixNano())
	return nil
}

// subscribeTimeout bounds the wait for a SUBACK; paho ends the wait itself when the connection
// is lost.
const subscribeTimeout = 30 * time.Second

// wait waits for tok, for at most subscribeTimeout, or until close.
func (s *Subscriber) wait(tok mqtt.Token) error {
	timeout := time.NewTimer(subscribeTimeout)
	defer timeout.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-timeout.C:
		return errors.New("timed out")
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// handle passes a message to the pipeline, or notes the watchdog's probe. It does not
// acknowledge: the pipeline does, once the message is durable. A message the pipeline cannot
// take (it is stopping) stays unacknowledged and the broker delivers it again to the next
// session.
func (s *Subscriber) handle(_ mqtt.Client, m mqtt.Message) {
	if m.Topic() == s.probe {
		s.lastProbe.Store(s.now().UnixNano())
		return
	}
	now := s.now()
	s.busySince.Store(now.UnixNano())
	defer s.busySince.Store(0)
	_ = s.pipeline.Submit(s.ctx, Delivery{Topic: m.Topic(), Payload: m.Payload(), Received: now, Ack: m.Ack})
}

// watchdog sends a probe through the broker (every WatchdogInterval, from supervise). When the
// connection is up but no probe has come back for three intervals (and no handler is merely
// waiting on a busy pipeline), the subscription has gone silent: it asks for a new subscribe,
// which ensure makes and retries.
func (s *Subscriber) watchdog() {
	if !s.client.IsConnectionOpen() || !s.subscribed.Load() {
		return // ensure is at work
	}
	s.client.Publish(s.probeTopic(), 0, false, []byte("probe"))
	now := s.now()
	if busy := s.busySince.Load(); busy != 0 {
		return // the pipeline is holding the broker back; silence is expected
	}
	every := s.cfg.WatchdogInterval
	if now.Sub(time.Unix(0, s.lastProbe.Load())) < 3*every {
		return
	}
	s.resubscribe.Inc()
	s.log.Warn("subscription silent while connected; subscribing again", "silent_for", now.Sub(time.Unix(0, s.lastProbe.Load())).Round(time.Second))
	s.resubscribeWanted.Store(true)
}
