package influx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// Config says where the points go. InfluxDB 2.x and Cloud take org, bucket and token as they
// are; InfluxDB 1.8 takes bucket "database/retention-policy" (or just "database"), ignores
// org, and takes token "user:password", or empty when authentication is off.
type Config struct {
	URL     string
	Org     string
	Bucket  string
	Token   string
	Timeout time.Duration // per request
	Gzip    bool
}

// Writer writes line-protocol batches to InfluxDB. It is safe for concurrent use.
type Writer struct {
	client influxdb2.Client
	write  api.WriteAPIBlocking
}

// NewWriter returns a Writer for cfg. It does not contact the server.
func NewWriter(cfg Config) *Writer {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	opts := influxdb2.DefaultOptions().
		SetPrecision(time.Millisecond).
		SetUseGZip(cfg.Gzip).
		SetHTTPRequestTimeout(uint(timeout / time.Second)).
		SetApplicationName("vitalwatch")
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	return &Writer{client: client, write: client.WriteAPIBlocking(cfg.Org, cfg.Bucket)}
}

// Write sends one batch of line protocol (lines with millisecond timestamps). An error that
// retrying cannot cure, such as a point InfluxDB refuses, is a *RejectedError; any other
// error (network, timeout, 5xx, 429) may succeed later.
func (w *Writer) Write(ctx context.Context, lines []byte) error {
	if len(lines) == 0 {
		return nil
	}
	err := w.write.WriteRecord(ctx, string(lines))
	if err == nil {
		return nil
	}
	var herr *http2.Error
	if errors.As(err, &herr) && herr.StatusCode >= 400 && herr.StatusCode < 500 &&
		herr.StatusCode != http.StatusTooManyRequests && herr.StatusCode != http.StatusRequestTimeout &&
		herr.StatusCode != http.StatusUnauthorized && herr.StatusCode != http.StatusForbidden &&
		herr.StatusCode != http.StatusNotFound {
		// 401/403/404 are configuration (token, bucket) that an operator can fix: keep retrying.
		return &RejectedError{Status: herr.StatusCode, Message: herr.Message}
	}
	return fmt.Errorf("influx write: %w", err)
}

// Ping reports whether the server answers.
func (w *Writer) Ping(ctx context.Context) error {
	ok, err := w.client.Ping(ctx)
	if err != nil {
		return fmt.Errorf("influx ping: %w", err)
	}
	if !ok {
		return errors.New("influx ping: not ok")
	}
	return nil
}

// Close releases the client's idle connections.
func (w *Writer) Close() { w.client.Close() }

// RejectedError is a batch InfluxDB refused for its content. InfluxDB stores the valid points
// of such a batch and rejects the rest ("partial write"), so sending it again cannot help.
type RejectedError struct {
	Status  int
	Message string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("influx rejected points (HTTP %d): %s", e.Status, e.Message)
}
