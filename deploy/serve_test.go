package deploy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/app"
	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// scrapeServe runs vitalwatch serve as make run does (embedded broker, ingest into a real
// influxd, alerts, device status, usage), waits until it is ready, and returns its /metrics.
func scrapeServe(t *testing.T) []byte {
	t.Helper()
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	cfg, err := config.Load("", []string{"VITALWATCH_DATA_DIR=" + t.TempDir(), "VITALWATCH_HTTP_LISTEN=127.0.0.1:0",
		"VITALWATCH_BROKER_LISTEN=127.0.0.1:0", "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	addrs := make(chan app.Addrs, 1)
	go func() {
		served <- app.Run(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Started: func(a app.Addrs) { addrs <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("serve stopped with %v; want nil", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop within a minute")
		}
	})
	var a app.Addrs
	select {
	case a = <-addrs:
	case err := <-served:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start within a minute")
	}
	base := "http://" + a.HTTP
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body, err := get(base + "/readyz")
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %s %v; want 200", status, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	status, body, err := get(base + "/metrics")
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /metrics = %d %v", status, err)
	}
	return body
}

func get(url string) (int, []byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, errors.Join(err)
}
