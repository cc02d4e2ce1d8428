package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/broker"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/ingest/mqttconn"
	"github.com/vitalwatch/vitalwatch/internal/app"
	"github.com/vitalwatch/vitalwatch/store"
)

// The connections benchmark (BenchmarkConnections) runs what it measures in a process of its
// own, so that each run's memory and CPU are that process's alone: this test binary, run again
// with BENCH_PROCESS set, as TestConnectionsBenchProcess.
//
//   - "serve" runs vitalwatch serve (the same code as the binary) with the configuration file
//     BENCH_PROCESS_CONFIG.
//   - "broker" runs the embedded broker as serve configures it (device sign-in against the
//     registry in the configuration's data_dir, each device publish held until ingest's client
//     acknowledges it), with a bare subscriber in ingest's place that acknowledges every
//     message at once: the broker alone, ingest off.
//   - "subscriber" runs no broker: a bare subscriber signs in to the external broker of the
//     configuration (broker.url, as ingest would) and acknowledges every message at once; with
//     Mosquitto, the counterpart of "broker" (BENCH_BROKER=mosquitto).
//
// With BENCH_PROCESS_PROFILE set to a path prefix, SIGUSR2 starts a CPU profile and SIGUSR1
// stops it (PREFIX.cpu.pprof) and writes a heap profile (PREFIX.heap.pprof). SIGTERM stops the
// process.
const (
	benchProcessEnv = "BENCH_PROCESS"
	benchConfigEnv  = "BENCH_PROCESS_CONFIG"
	benchProfileEnv = "BENCH_PROCESS_PROFILE"
)

func TestConnectionsBenchProcess(t *testing.T) {
	mode := os.Getenv(benchProcessEnv)
	if mode == "" {
		t.Skip("runs only as a process of BenchmarkConnections")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go profileOnSignal(ctx, os.Getenv(benchProfileEnv))
	cfgFile := os.Getenv(benchConfigEnv)
	var err error
	switch mode {
	case "serve":
		err = run(ctx, []string{"serve", "--config", cfgFile}, os.Environ(), os.Stdout, os.Stderr)
	case "broker":
		err = brokerAlone(ctx, cfgFile)
	case "subscriber":
		err = subscriberAlone(ctx, cfgFile)
	default:
		err = fmt.Errorf("%s=%q: want serve, broker or subscriber", benchProcessEnv, mode)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// profileOnSignal writes the profiles that SIGUSR2 and SIGUSR1 ask for, until ctx ends.
func profileOnSignal(ctx context.Context, prefix string) {
	if prefix == "" {
		return
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sig)
	var cpu *os.File
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-sig:
			switch {
			case s == syscall.SIGUSR2 && cpu == nil:
				f, err := os.Create(prefix + ".cpu.pprof")
				if err == nil && pprof.StartCPUProfile(f) == nil {
					cpu = f
				}
			case s == syscall.SIGUSR1:
				if cpu != nil {
					pprof.StopCPUProfile()
					cpu.Close()
				}
				runtime.GC() // the heap profile shows the live heap as of the last collection
				if f, err := os.Create(prefix + ".heap.pprof"); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
				return
			}
		}
	}
}

// brokerAlone runs the embedded broker of serve's configuration in cfgFile, with a subscriber
// in ingest's place that acknowledges every message as it comes, until ctx ends.
func brokerAlone(ctx context.Context, cfgFile string) error {
	cfg, err := LoadConfig(cfgFile, nil)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, os.Stderr)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, filepath.Join(cfg.DataDir, dbFile))
	if err != nil {
		return err
	}
	defer db.Close()
	view := devices.NewView(devices.NewDirectory(-1, nil, nil, nil))
	if err := devices.Refresh(ctx, view, db); err != nil {
		return err
	}
	const user = "vitalwatch-ingest"
	password := devices.NewSecret()
	principal := app.IngestPrincipal(user, password, cfg.Ingest.TopicPrefix)
	principal.ClientID = cfg.Ingest.ClientID
	b, err := broker.Start(broker.Config{Listen: cfg.Broker.Listen, Devices: view, TopicPrefix: cfg.Ingest.TopicPrefix,
		Principals: []broker.Principal{principal}, Ingest: cfg.Ingest.ClientID}, log)
	if err != nil {
		return err
	}
	defer b.Close()
	opts := mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(cfg.Ingest.ClientID).SetUsername(user).SetPassword(password).
		SetCleanSession(false).SetOrderMatters(false).SetKeepAlive(30 * time.Second).SetCustomOpenConnectionFn(mqttconn.Open)
	sub := mqtt.NewClient(opts)
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("bare subscriber: connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	prefix := cfg.Ingest.TopicPrefix
	tok := sub.SubscribeMultiple(map[string]byte{prefix + "/+/telemetry": 1, prefix + "/+/status": 1}, func(mqtt.Client, mqtt.Message) {})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("bare subscriber: subscribe: %v", tok.Error())
	}
	log.Info("broker alone: taking devices", "addr", b.Addr(), "devices", view.Load().Len())
	return b.Run(ctx)
}

// subscriberAlone signs in to the external broker of the configuration in cfgFile (and the
// environment, as serve reads it) as ingest's client would: broker.url, broker.username and
// broker.password, ingest.client_id's persistent session, ingest.shared_group's shared
// subscription, QoS 1, the buffered connection. It acknowledges every message as it comes,
// until ctx ends. On http.listen, /readyz answers 200 once it has subscribed, and /metrics
// gives vitalwatch_ingest_acked_total, the messages it acknowledged, as serve's does.
func subscriberAlone(ctx context.Context, cfgFile string) error {
	cfg, err := LoadConfig(cfgFile, os.Environ())
	if err != nil {
		return err
	}
	var acked atomic.Int64
	var subscribed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !subscribed.Load() {
			http.Error(w, "not subscribed", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "vitalwatch_ingest_acked_total %d\n", acked.Load())
	})
	srv := &http.Server{Addr: cfg.HTTP.Listen, Handler: mux}
	go srv.ListenAndServe()
	defer srv.Close()

	opts := mqtt.NewClientOptions().AddBroker(cfg.Broker.URL).SetClientID(cfg.Ingest.ClientID).
		SetUsername(cfg.Broker.Username).SetPassword(cfg.Broker.Password).SetCleanSession(false).
		SetOrderMatters(false).SetKeepAlive(30 * time.Second).SetCustomOpenConnectionFn(mqttconn.Open)
	sub := mqtt.NewClient(opts)
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("bare subscriber: connect to %s: %v", cfg.Broker.URL, tok.Error())
	}
	defer sub.Disconnect(100)
	topics := map[string]byte{}
	for _, kind := range []string{"telemetry", "status"} {
		t := cfg.Ingest.TopicPrefix + "/+/" + kind
		if cfg.Ingest.SharedGroup != "" {
			t = "$share/" + cfg.Ingest.SharedGroup + "/" + t
		}
		topics[t] = 1
	}
	tok := sub.SubscribeMultiple(topics, func(mqtt.Client, mqtt.Message) { acked.Add(1) })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("bare subscriber: subscribe: %v", tok.Error())
	}
	subscribed.Store(true)
	<-ctx.Done()
	return nil
}
