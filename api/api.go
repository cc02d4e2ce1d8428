// Package api serves VitalWatch over HTTP: health and readiness, Prometheus metrics, and the
// JSON API under /api/v1.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vitalwatch/vitalwatch/deadletter"
)

// Check is one readiness check: a named dependency and a function that reports whether it answers.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// DeadLetterLister lists dead letters.
type DeadLetterLister interface {
	ListDeadLetters(ctx context.Context, f deadletter.Filter) ([]deadletter.DeadLetter, error)
}

// Options are the API's dependencies.
type Options struct {
	Gatherer    prometheus.Gatherer
	Checks      []Check
	DeadLetters DeadLetterLister
	// TokenSHA256 are hex SHA-256 hashes of the bearer tokens accepted on /api/v1. With none,
	// /api/v1 answers loopback clients only.
	TokenSHA256 []string
	Log         *slog.Logger
}

// API is the HTTP handler.
type API struct {
	opts   Options
	log    *slog.Logger
	tokens [][]byte
	router chi.Router
}

// New returns the API handler for opts.
func New(opts Options) (*API, error) {
	a := &API{opts: opts, log: opts.Log.With("component", "api")}
	for _, h := range opts.TokenSHA256 {
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(b) != sha256.Size {
			return nil, &Error{Code: CodeInvalid, Message: "a token hash is not 64 hex digits of SHA-256"}
		}
		a.tokens = append(a.tokens, b)
	}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/healthz", a.healthz)
	r.Get("/readyz", a.readyz)
	r.Handle("/metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(a.authenticate)
		r.Mount("/deadletters", a.deadLetterRoutes())
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, &Error{Code: CodeNotFound, Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, &Error{Code: CodeInvalid, Message: "method " + r.Method + " not allowed on " + r.URL.Path})
	})
	a.router = r
	return a, nil
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz runs every check concurrently and answers 503 if any fails.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	type result struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	results := make([]result, len(a.opts.Checks))
	done := make(chan struct{})
	for i, c := range a.opts.Checks {
		go func() {
			defer func() { done <- struct{}{} }()
			err := c.Check(ctx)
			results[i] = result{Name: c.Name, OK: err == nil}
			if err != nil {
				results[i].Error = err.Error()
			}
		}()
	}
	for range a.opts.Checks {
		<-done
	}
	status, word := http.StatusOK, "ready"
	for _, res := range results {
		if !res.OK {
			status, word = http.StatusServiceUnavailable, "not ready"
		}
	}
	writeJSON(w, status, map[string]any{"status": word, "checks": results})
}

// authenticate admits a request with a known bearer token, or, when no tokens are configured,
// a request from a loopback address.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.tokens) == 0 {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				a.writeError(w, r, &Error{Code: CodeForbidden,
					Message: "no API tokens are configured (http.api_token_sha256), so the API answers only on loopback"})
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			a.writeError(w, r, &Error{Code: CodeUnauthorized, Message: "missing Authorization: Bearer token"})
			return
		}
		sum := sha256.Sum256([]byte(tok))
		for _, t := range a.tokens {
			if subtle.ConstantTimeCompare(sum[:], t) == 1 {
				next.ServeHTTP(w, r)
				return
			}
		}
		a.writeError(w, r, &Error{Code: CodeUnauthorized, Message: "unknown token"})
	})
}
