// Package api serves VitalWatch over HTTP: health and readiness, Prometheus metrics, and the
// JSON API under /api/v1.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
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
	// Registry is the store behind the registry's routes (sites, teams, patients, devices, audit).
	Registry Registry
	// Devices is the in-memory registry view; it limits a fleet manager's dead letters to the
	// devices at their sites.
	Devices *devices.View
	// Auth turns each /api/v1 request's credentials into the principal it acts as: usually
	// NewUserAuth of the store that is also Users.
	Auth Authenticator
	// Users keeps people's accounts, sessions and API tokens, for /api/v1/login, /logout, /me
	// and /users (503 without it).
	Users Accounts
	// Fleet computes utilisation, the spare/short assessment, the reallocation plan and the
	// alternatives to a faulty device (503 without it).
	Fleet *fleet.Reports
	// Alerts keeps alerts and their events, for /api/v1/alerts (503 without it).
	Alerts AlertStore
	// AlertFeed delivers alert events as they happen, for /api/v1/alerts/stream (503 without
	// it); acknowledging and resolving publish to it.
	AlertFeed *notify.Hub
	// AlertHeartbeat is how often the alert stream sends a comment when idle: default 15s.
	AlertHeartbeat time.Duration
	// Readings reads readings back from InfluxDB, for the evidence of an alert's detail
	// (without it, the evidence is as recorded with the alert).
	Readings ReadingReader
	// Series reads a patient's or a device's readings back from InfluxDB, for
	// /patients/{id}/readings, /devices/{id}/readings and /patients/{id}/summary (503 without it).
	Series ReadingSeries
	// Webhooks keeps the webhooks of teams and sites and their delivery log, for
	// /api/v1/webhooks (503 without it).
	Webhooks WebhookStore
	// AllowPrivateWebhooks lets a webhook's URL name localhost or a loopback, link-local,
	// private, unspecified or multicast address (config alerts.webhooks.allow_private).
	AllowPrivateWebhooks bool
	// Overrides keeps the threshold overrides of teams and patients, checked with
	// OverrideRules (the rules in force), for /teams/{id}/overrides and
	// /patients/{id}/overrides (503 without both).
	Overrides     OverrideStore
	OverrideRules OverrideValidator
	// Silences keeps the silences of patients' and devices' alerts, for /silences (503
	// without it).
	Silences SilenceStore
	// DeviceStatus is the devices' live state (status.Tracker), for /devices/{id}/status,
	// /sites/{id}/fleet and the device list's states and state filter (503 without it; the
	// list then carries no states).
	DeviceStatus DeviceStatus
	// RegistryChanged, if set, is called before a state-changing request answers with a
	// success, and brings the change into force on this instance (devices.Refresher.Refresh).
	RegistryChanged func(context.Context) error
	Log             *slog.Logger
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
	signIn *signIn
	doc    map[string]any // the OpenAPI document of the routes
}

// New returns the API handler for opts.
func New(opts Options) (*API, error) {
	a := &API{opts: opts, log: opts.Log.With("component", "api")}
	if opts.Auth == nil {
		return nil, errors.New("api: no authenticator")
	}
	a.signIn = newSignIn(a)
	routes := a.routes()
	a.doc = openAPIDocument(routes, queryParameters())
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/healthz", a.healthz)
	r.Get("/readyz", a.readyz)
	r.Handle("/metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	a.mount(r, routes)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, apiError(errcode.NotFound, "no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, apiError(errcode.Invalid, "method "+r.Method+" not allowed on "+r.URL.Path))
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
			var e *errcode.Error
			if !errors.As(err, &e) {
				e = apiError(errcode.Unauthorized, err.Error())
			}
			a.writeError(w, r, e)
			return
		}
		if p == nil {
			a.writeError(w, r, apiError(errcode.Unauthorized, "sign in, or present an API token as Authorization: Bearer TOKEN"))
			return
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), p)))
	})
}
