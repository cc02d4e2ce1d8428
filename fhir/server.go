// Package fhir serves VitalWatch's readings, registry and clinical alerts as a read-only FHIR R4
// JSON API under /fhir/r4, for integrations such as a hospital's record: readings as
// Observations (vital-signs profile, LOINC beside IEEE 11073 codes), devices, patients by
// pseudonymous id with their team, clinical alerts as Flags with their evidence through a
// DetectedIssue, and the CGM summary of the HL7 CGM IG, with searches, Patient/$everything and
// a CapabilityStatement. Access is the API's: a doctor sees their teams' patients, a fleet
// manager their sites' devices, an admin everything. docs/fhir.md describes it.
package fhir

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Base is the path the server answers under.
const Base = "/fhir/r4"

// Owns reports whether path is the FHIR server's.
func Owns(path string) bool { return path == Base || strings.HasPrefix(path, Base+"/") }

// Authenticator identifies who a request acts as (api.UserAuth): (nil, nil) without
// credentials, an *errcode.Error for wrong ones.
type Authenticator interface {
	Authenticate(r *http.Request) (*access.Principal, error)
}

// Registry is what the server reads of the registry (package store implements it).
type Registry interface {
	GetPatient(ctx context.Context, id string) (devices.Patient, error)
	GetTeam(ctx context.Context, id string) (devices.Team, error)
	GetSite(ctx context.Context, id string) (devices.Site, error)
	GetDevice(ctx context.Context, id string) (devices.Device, error)
	ListDevices(ctx context.Context, o devices.ListOptions) ([]devices.Device, error)
	ListTeams(ctx context.Context, o devices.ListOptions) ([]devices.Team, error)
	ListSites(ctx context.Context, o devices.ListOptions) ([]devices.Site, error)
}

// AlertStore is what the server reads of the alerts (package store implements it).
type AlertStore interface {
	GetAlert(ctx context.Context, id int64) (alerts.Alert, error)
	ListAlerts(ctx context.Context, f alerts.Filter) ([]alerts.Alert, error)
}

// Readings reads stored readings back from InfluxDB (influx.Reader).
type Readings interface {
	PointsIn(ctx context.Context, rg influx.Range) ([]influx.Point, bool, error)
	PointsAt(ctx context.Context, keys []influx.PointKey) ([]influx.Point, error)
	PatientReadings(ctx context.Context, patient string, start, stop time.Time, each func(reading.Message)) error
}

// Options are the server's dependencies.
type Options struct {
	// Auth turns a request's bearer token or session cookie into its principal (required).
	Auth Authenticator
	// Registry is read on every request for the access checks, so that a transfer ends the
	// old team's access at once (required).
	Registry Registry
	// Devices is the registry view: loans, time zones and hashed ids (required).
	Devices *devices.View
	// Alerts serves Flag and DetectedIssue (503 without it).
	Alerts AlertStore
	// Readings serves Observation (503 without it).
	Readings Readings
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	Log *slog.Logger
}

// Server is the FHIR API's HTTP handler.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
}

// readTimeout bounds the store and InfluxDB reads of one request.
const readTimeout = 30 * time.Second

// New returns the server of opts.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Auth == nil:
		return nil, errors.New("fhir: no authenticator")
	case opts.Registry == nil || opts.Devices == nil:
		return nil, errors.New("fhir: no registry")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: opts.Log.With("component", "fhir"), mux: http.NewServeMux()}
	for _, rt := range s.routes() {
		s.mux.Handle(Base+rt.pattern, s.handler(rt.open, rt.params, rt.serve))
	}
	unknown := s.handler(true, []string{anyParam}, func(c *call) error {
		return errcode.Errorf(errcode.NotFound, "no such endpoint: %s; GET %s/metadata lists what this server serves", c.r.URL.Path, Base)
	})
	s.mux.Handle(Base, unknown)
	s.mux.Handle(Base+"/", unknown)
	return s, nil
}

// ServeHTTP serves the FHIR API's paths (Owns).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// route is an endpoint: its path below Base, whether it needs no credentials, the search
// parameters it takes besides _format and _pretty, and its handler. The CapabilityStatement
// (capability.go) says the same; a test holds the two together.
type route struct {
	pattern string
	open    bool
	params  []string
	serve   func(*call) error
}

// routes lists the endpoints.
func (s *Server) routes() []route {
	return []route{
		{"/metadata", true, nil, s.capabilities},
		{"/Patient/{id}", false, nil, s.readPatient},
		{"/Patient/{id}/$everything", false, []string{"start", "end", "_count", pageParam}, s.everything},
		{"/Observation", false, []string{"patient", "code", "date", "_count", pageParam}, s.searchObservations},
		{"/Observation/{id}", false, nil, s.readObservation},
		{"/Device", false, []string{"patient", "_count", pageParam}, s.searchDevices},
		{"/Device/{id}", false, nil, s.readDevice},
		{"/Organization/{id}", false, nil, s.readOrganization},
		{"/Flag", false, []string{"patient", "status", "_count", pageParam}, s.searchFlags},
		{"/Flag/{id}", false, nil, s.readFlag},
		{"/DetectedIssue/{id}", false, nil, s.readDetectedIssue},
	}
}

// call is one request, admitted.
type call struct {
	r      *http.Request
	w      http.ResponseWriter
	p      *access.Principal // nil on an open route
	q      url.Values
	pretty bool
}

// base is the server's base URL as the request reached it.
func (c *call) base() string {
	scheme := "http"
	if c.r.TLS != nil || strings.EqualFold(c.r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + c.r.Host + Base
}

// ctx is the request's context, bounded by readTimeout.
func (c *call) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.r.Context(), readTimeout)
}

// handler admits a request to a route: GET only, JSON only, the credentials (unless open) and
// the query's parameters (params, and _format and _pretty anywhere); then serve answers.
func (s *Server) handler(open bool, params []string, serve func(*call) error) http.Handler {
	allowed := append([]string{"_format", "_pretty"}, params...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{r: r, w: w}
		err := s.admit(c, open, allowed)
		if err == nil {
			err = serve(c)
		}
		if err != nil {
			s.writeError(c, err)
		}
	})
}

// Codes this server adds to errcode's, for what only HTTP has.
const (
	codeMethod        = "method_not_allowed"
	codeNotAcceptable = "not_acceptable"
)

// admit checks the method, the format asked for, the credentials and the query.
func (s *Server) admit(c *call, open bool, allowed []string) error {
	r := c.r
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.w.Header().Set("Allow", "GET, HEAD")
		return &errcode.Error{Code: codeMethod, Message: "this FHIR server is read-only: " + r.Method + " is not allowed"}
	}
	q := r.URL.Query()
	c.q, c.pretty = q, q.Get("_pretty") == "true"
	if f := q.Get("_format"); f != "" && !jsonFormat(f) {
		return &errcode.Error{Code: codeNotAcceptable, Field: "_format", Message: "_format: only JSON is served (json, application/fhir+json)"}
	}
	if a := r.Header.Get("Accept"); a != "" && q.Get("_format") == "" && !acceptsJSON(a) {
		return &errcode.Error{Code: codeNotAcceptable, Message: "Accept: only application/fhir+json is served"}
	}
	if !open {
		p, err := s.opts.Auth.Authenticate(r)
		var e *errcode.Error
		switch {
		case errors.As(err, &e):
			return e
		case err != nil:
			return errcode.Errorf(errcode.Unauthorized, "%v", err)
		case p == nil:
			return errcode.Errorf(errcode.Unauthorized, "present an API token as Authorization: Bearer TOKEN, or sign in")
		}
		c.p = p
	}
	for k, vs := range q {
		if slices.Contains(allowed, anyParam) {
			break
		}
		if !slices.Contains(allowed, k) {
			return &errcode.Error{Code: codeUnknownParam, Field: k, Message: "unknown search parameter " + k + "; this endpoint takes " + strings.Join(allowed, ", ")}
		}
		if len(vs) > 1 && k != "date" {
			return &errcode.Error{Code: errcode.Invalid, Field: k, Message: k + ": give it once"}
		}
	}
	return nil
}

// anyParam lets a route take any parameter: the answer to an unknown endpoint is its 404.
const anyParam = "*"

// codeUnknownParam is a search parameter the endpoint does not take: a 400 of issue code
// not-supported.
const codeUnknownParam = "unknown_parameter"

// jsonFormat reports whether a _format value asks for JSON.
func jsonFormat(f string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(f)), ";")
	switch strings.TrimSpace(mt) {
	case "json", "application/json", "application/fhir+json", "application/json+fhir":
		return true
	}
	return false
}

// acceptsJSON reports whether an Accept header takes JSON (or anything).
func acceptsJSON(a string) bool {
	for part := range strings.SplitSeq(a, ",") {
		mt, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(part)), ";")
		mt = strings.TrimSpace(mt)
		if mt == "*/*" || mt == "application/*" || jsonFormat(mt) {
			return true
		}
	}
	return false
}

// contentType is the media type of every answer.
const contentType = "application/fhir+json; charset=utf-8"

// reply writes v with status 200.
func (s *Server) reply(c *call, v any) error {
	s.write(c, http.StatusOK, v)
	return nil
}

// write writes v as FHIR JSON.
func (s *Server) write(c *call, status int, v any) {
	c.w.Header().Set("Content-Type", contentType)
	c.w.WriteHeader(status)
	if c.r.Method == http.MethodHead {
		return
	}
	enc := json.NewEncoder(c.w)
	enc.SetEscapeHTML(false)
	if c.pretty {
		enc.SetIndent("", "  ")
	}
	_ = enc.Encode(v)
}

// issueOf maps an error code to its HTTP status and FHIR issue type.
var issueOf = map[string]struct {
	status int
	issue  string
}{
	errcode.Invalid:      {http.StatusBadRequest, "invalid"},
	codeUnknownParam:     {http.StatusBadRequest, "not-supported"},
	errcode.Unauthorized: {http.StatusUnauthorized, "login"},
	errcode.Forbidden:    {http.StatusForbidden, "forbidden"},
	errcode.NotFound:     {http.StatusNotFound, "not-found"},
	codeMethod:           {http.StatusMethodNotAllowed, "not-supported"},
	codeNotAcceptable:    {http.StatusNotAcceptable, "not-supported"},
	errcode.Unavailable:  {http.StatusServiceUnavailable, "transient"},
}

// writeError answers err as an OperationOutcome. An *errcode.Error keeps its message, and the
// parameter it names is the issue's expression; any other error is internal, and its text
// stays in the log (without the path, which can hold a patient's id, above debug).
func (s *Server) writeError(c *call, err error) {
	var e *errcode.Error
	m, ok := issueOf[errcode.Of(err)]
	if ok {
		errors.As(err, &e)
	} else {
		s.log.Error("FHIR request failed", "method", c.r.Method, "err", errcode.Root(err))
		s.log.Debug("FHIR request failed", "path", c.r.URL.Path, "err", err)
		e = &errcode.Error{Code: errcode.Internal, Message: "internal error"}
		m.status, m.issue = http.StatusInternalServerError, "exception"
	}
	is := Issue{Severity: "error", Code: m.issue, Diagnostics: e.Message}
	if e.Field != "" {
		is.Expression = []string{e.Field}
	}
	if m.status == http.StatusUnauthorized {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="VitalWatch"`)
	}
	s.write(c, m.status, OperationOutcome{ResourceType: "OperationOutcome", Issue: []Issue{is}})
}

// invalidParam is a 400 about the search parameter name.
func invalidParam(name, format string, args ...any) error {
	return errcode.FieldErrorf(errcode.Invalid, name, name+": "+format, args...)
}

// unavailable is the 503 of a dependency this server was built without.
func unavailable(what string) error {
	return errcode.Errorf(errcode.Unavailable, "%s not configured on this server", what)
}
