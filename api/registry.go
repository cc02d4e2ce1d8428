package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The registry over HTTP: sites, teams, patients, devices and the audit log, one file each.
//
// Access is checked on every request against the principal it acts as, in this order:
//  1. the role: a role that has no business with a kind of resource (a doctor and devices, a
//     fleet manager and patients, anyone but an admin and the audit log or changes to sites
//     and teams) gets 403 whatever the id, without a lookup;
//  2. the id: one that does not exist gets 404;
//  3. the scope: a patient of another team, or a device at another site, gets 403. Ids are
//     pseudonymous, so saying that one exists tells nothing about a person; a 403 tells the
//     caller it asked for the wrong thing rather than a mistyped one.
//
// Every check reads the registry at the time of the request: a transfer ends the old team's
// access at once.

// Registry is what the API needs of the registry store; package store implements it.
type Registry interface {
	siteRegistry
	teamRegistry
	patientRegistry
	deviceRegistry
	moveRegistry // moves.go
	AuditLog(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

type siteRegistry interface {
	GetSite(ctx context.Context, id string) (devices.Site, error)
	ListSites(ctx context.Context, o devices.ListOptions) ([]devices.Site, error)
	CreateSite(ctx context.Context, s devices.Site) error
	CreateSites(ctx context.Context, s []devices.Site) error
	UpdateSite(ctx context.Context, s devices.Site) error
}

type teamRegistry interface {
	GetTeam(ctx context.Context, id string) (devices.Team, error)
	ListTeams(ctx context.Context, o devices.ListOptions) ([]devices.Team, error)
	CreateTeam(ctx context.Context, t devices.Team) error
	CreateTeams(ctx context.Context, t []devices.Team) error
	UpdateTeam(ctx context.Context, t devices.Team) error
}

type patientRegistry interface {
	GetPatient(ctx context.Context, id string) (devices.Patient, error)
	ListPatients(ctx context.Context, o devices.ListOptions) ([]devices.Patient, error)
	CreatePatient(ctx context.Context, p devices.Patient) error
	CreatePatients(ctx context.Context, p []devices.Patient) error
	PatchPatient(ctx context.Context, id string, c devices.PatientChange) error
	TransferPatient(ctx context.Context, patientID, toTeam, devicePolicy string, at time.Time) error
	Transfers(ctx context.Context, patientID string) ([]devices.Transfer, error)
}

type deviceRegistry interface {
	GetDevice(ctx context.Context, id string) (devices.Device, error)
	ListDevices(ctx context.Context, o devices.ListOptions) ([]devices.Device, error)
	CreateDevice(ctx context.Context, d devices.Device) error
	CreateDevices(ctx context.Context, d []devices.Device) error
	UpdateDevice(ctx context.Context, d devices.Device) error
	SetDeviceSecret(ctx context.Context, id, hash string) error
	AssignDevice(ctx context.Context, deviceID, patientID string, from time.Time) error
	ReturnDevice(ctx context.Context, deviceID string, at time.Time) error
	Assignments(ctx context.Context, deviceID string) ([]devices.Assignment, error)
}

// registryRoutes adds the registry's routes to r (the authenticated /api/v1 group), and the
// OpenAPI document that describes every /api/v1 route.
func (a *API) registryRoutes(r chi.Router) {
	r.Mount("/sites", a.siteRoutes())
	r.Mount("/teams", a.teamRoutes())
	r.Mount("/patients", a.patientRoutes())
	r.Mount("/devices", a.deviceRoutes())
	r.Get("/audit", a.registry(a.listAudit))
	r.Get("/openapi.json", a.openAPI)
}

// registryHandler serves one registry request as p; an error goes out through writeError.
type registryHandler func(w http.ResponseWriter, r *http.Request, p *access.Principal) error

// registry adapts h for the registry's routes (see withPrincipal).
func (a *API) registry(h registryHandler) http.HandlerFunc {
	return a.withPrincipal(a.opts.Registry != nil, "the registry is not configured", h)
}

// withPrincipal adapts h: it answers 503 with the message unconfigured when what h needs is
// not configured, finds the principal, and names it as the actor of any change h makes,
// for the audit log.
func (a *API) withPrincipal(configured bool, unconfigured string, h registryHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !configured {
			a.writeError(w, r, apiError(errcode.Unavailable, unconfigured))
			return
		}
		p, ok := access.FromContext(r.Context())
		if !ok {
			a.writeError(w, r, apiError(errcode.Unauthorized, "sign in first"))
			return
		}
		r = r.WithContext(audit.WithActor(r.Context(), auditActor(p)))
		if err := h(w, r, p); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// auditActor is how the audit log names the principal: "user:" and its user id.
func auditActor(p *access.Principal) string { return "user:" + p.UserID }

// forbidden returns a 403 error.
func forbidden(format string, args ...any) *errcode.Error {
	return apiError(errcode.Forbidden, fmt.Sprintf(format, args...))
}

// adminOnly refuses anyone but an admin.
func adminOnly(p *access.Principal, what string) error {
	if !p.IsAdmin() {
		return forbidden("only an admin may %s", what)
	}
	return nil
}

// roleIn refuses a principal whose role is not one of roles.
func roleIn(p *access.Principal, what string, roles ...access.Role) error {
	if p.IsAdmin() || slices.Contains(roles, p.Role) {
		return nil
	}
	return forbidden("a %s may not %s", p.Role, what)
}

// pathID is the {id} of the route, which must be an id.
func pathID(r *http.Request) (string, error) {
	id := chi.URLParam(r, "id")
	if !reading.ValidID(id) {
		return "", invalid("id " + strconv.Quote(id) + " in the path is not 1-64 characters of A-Z a-z 0-9 . _ : -")
	}
	return id, nil
}

// queryParams returns the query, refusing a parameter not in allowed and one given twice.
func queryParams(r *http.Request, allowed ...string) (url.Values, error) {
	q := r.URL.Query()
	for key, vs := range q {
		if !slices.Contains(allowed, key) {
			if len(allowed) == 0 {
				return nil, invalid("unknown parameter " + strconv.Quote(key) + "; this endpoint takes none")
			}
			return nil, invalid("unknown parameter " + strconv.Quote(key) + "; use " + strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, invalid(key + ": give it once")
		}
	}
	return q, nil
}

// listParams reads a list's query: the filters it takes (site, team, kind, status, mode), after
// and limit. The limit is always set: 100 unless given, 1-1000.
func listParams(r *http.Request, filters ...string) (devices.ListOptions, error) {
	q, err := queryParams(r, append(slices.Clone(filters), "after", "limit")...)
	if err != nil {
		return devices.ListOptions{}, err
	}
	o := devices.ListOptions{Site: q.Get("site"), Team: q.Get("team"), Kind: q.Get("kind"), Status: q.Get("status"),
		Mode: q.Get("mode"), After: q.Get("after"), Limit: 100}
	for _, f := range []struct{ name, value string }{{"site", o.Site}, {"team", o.Team}, {"after", o.After}} {
		if f.value != "" && !reading.ValidID(f.value) {
			return o, invalid(f.name + ": " + strconv.Quote(f.value) + " is not an id")
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := limitParam(v)
		if err != nil {
			return o, err
		}
		o.Limit = n
	}
	return o, nil
}

// page is one page of a list. Next is the cursor of the following page, for after=; it is
// empty on the last page.
type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// limitParam reads a page size: an integer from 1 to 1000.
func limitParam(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, invalid("limit: must be an integer from 1 to 1000")
	}
	return n, nil
}

// cursorParam reads the cursor parameter name (before= or after=): the id a previous page's
// next gave.
func cursorParam(name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, invalid(name + ": not a cursor (a positive integer from a previous page's next)")
	}
	return n, nil
}

// pageOf converts a page of registry rows read with limit.
func pageOf[R, T any](rows []R, limit int, id func(R) string, conv func(R) T) page[T] {
	p := page[T]{Items: make([]T, 0, len(rows))}
	for _, r := range rows {
		p.Items = append(p.Items, conv(r))
	}
	if len(rows) == limit && limit > 0 {
		p.Next = id(rows[len(rows)-1])
	}
	return p
}

// listIn lists one page of the rows in any of scopes (a doctor's teams, a fleet manager's
// sites): the store filters by one team or site at a time, so it reads a page from each and
// merges them by id. Each scope's rows are in id order after o.After, so the first o.Limit of
// the merge are the page.
func listIn[T any](ctx context.Context, o devices.ListOptions, scopes []string, scope func(*devices.ListOptions, string),
	list func(context.Context, devices.ListOptions) ([]T, error), id func(T) string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	for _, s := range scopes {
		if seen[s] {
			continue
		}
		seen[s] = true
		so := o
		scope(&so, s)
		rows, err := list(ctx, so)
		if err != nil {
			return nil, err
		}
		all = append(all, rows...)
	}
	slices.SortFunc(all, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	if len(all) > o.Limit {
		all = all[:o.Limit]
	}
	return all, nil
}

// writeCreated answers 201 with v and the new resource's address.
func writeCreated(w http.ResponseWriter, r *http.Request, id string, v any) {
	w.Header().Set("Location", strings.TrimSuffix(r.URL.Path, "/")+"/"+id)
	writeJSON(w, http.StatusCreated, v)
}

// timeOr is t, or now when t is zero.
func timeOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC().Truncate(time.Millisecond)
	}
	return t
}
