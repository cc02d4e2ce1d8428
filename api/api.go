// Package api serves VitalWatch over HTTP: health and readiness, Prometheus metrics, and the
// JSON API under /api/v1.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vitalwatch/vitalwatch/access"
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
	// Auth turns each /api/v1 request's credentials into the principal it acts as.
	Auth Authenticator
	Log  *slog.Logger
}

// Authenticator identifies who a request acts as. It returns (nil, nil) when the request carries
// no credentials, and an error when it carries wrong ones.
type Authenticator interface {
	Authenticate(r *http.Request) (*access.Principal, error)
}

// API is the HTTP handler.
type API struct {
	opts   Options
	log    *slog.Logger
	router chi.Router
}

// New returns the API handler for opts.
func New(opts Options) (*API, error) {
	a := &API{opts: opts, log: opts.Log.With("component", "api")}
	if opts.Auth == nil {
		return nil, errors.New("api: no authenticator")
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

// authenticate makes every /api/v1 request act as the principal its credentials name; a
// request without valid credentials gets 401.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.opts.Auth.Authenticate(r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = &Error{Code: CodeUnauthorized, Message: err.Error()}
			}
			a.writeError(w, r, e)
			return
		}
		if p == nil {
			a.writeError(w, r, &Error{Code: CodeUnauthorized, Message: "sign in, or present an API token as Authorization: Bearer TOKEN"})
			return
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), p)))
	})
}

// StaticTokens authenticates bearer tokens whose SHA-256 (hex) is in hashes as admins; with no
// hashes, it admits loopback clients as admins instead.
func StaticTokens(hashes []string) (Authenticator, error) {
	st := staticTokens{}
	for _, h := range hashes {
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(b) != sha256.Size {
			return nil, errors.New("a token hash is not 64 hex digits of SHA-256")
		}
		st = append(st, b)
	}
	return st, nil
}

type staticTokens [][]byte

var staticAdmin = &access.Principal{UserID: "token", Role: access.Admin}

func (st staticTokens) Authenticate(r *http.Request) (*access.Principal, error) {
	if len(st) == 0 {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, &Error{Code: CodeForbidden,
				Message: "no API tokens are configured (http.api_token_sha256), so the API answers only on loopback"}
		}
		return staticAdmin, nil
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return nil, nil
	}
	sum := sha256.Sum256([]byte(tok))
	for _, t := range st {
		if subtle.ConstantTimeCompare(sum[:], t) == 1 {
			return staticAdmin, nil
		}
	}
	return nil, &Error{Code: CodeUnauthorized, Message: "unknown token"}
}
