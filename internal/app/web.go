package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// webServer is the HTTP server of health, readiness, metrics and the API, on its listener.
type webServer struct {
	srv  *http.Server
	ln   net.Listener
	log  *slog.Logger
	once sync.Once
}

// listenHTTP listens on addr (http.listen) for handler.
func listenHTTP(addr string, handler http.Handler, log *slog.Logger) (*webServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen %q: %w", addr, err)
	}
	return &webServer{srv: &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}, ln: ln, log: log}, nil
}

// addr is the address the server listens on.
func (w *webServer) addr() string { return w.ln.Addr().String() }

// run serves until ctx ends, then shuts down, giving requests 5 s to finish. If serving fails,
// it returns the error at once; shutdown then closes the server after the others have stopped.
func (w *webServer) run(ctx context.Context) error {
	a := w.addr()
	served := make(chan error, 1)
	go func() { served <- w.srv.Serve(w.ln) }()
	w.log.Info("HTTP listening", "addr", a, "metrics", "http://"+a+"/metrics",
		"ready", "http://"+a+"/readyz", "deadletters", "http://"+a+"/api/v1/deadletters")
	select {
	case <-ctx.Done():
		w.shutdown()
		return nil
	case err := <-served:
		return err
	}
}

// shutdown stops the server, once, giving requests 5 s to finish.
func (w *webServer) shutdown() {
	w.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.log.Warn("http shutdown", "err", err)
		}
	})
}
