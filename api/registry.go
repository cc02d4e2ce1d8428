package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The registry over HTTP: sites, teams, patients, devices and the audit log, one file each.
//
// Access is checked on every request against the principal it acts as, in this order:
//  1. the role: a role that has no business with a kind of resource (a doctor and devices, a
//     fleet manager and patients, anyone but an admin and the audit log or changes to sites
//     and teams) gets 403 whatever the id, without a lookup (the route's gate, routes.go);
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

// pathID is the {id} of the route, which must be an id.
func pathID(r *http.Request) (string, error) {
	id := chi.URLParam(r, "id")
	if !reading.ValidID(id) {
		return "", invalid("id " + strconv.Quote(id) + " in the path is not 1-64 characters of A-Z a-z 0-9 . _ : -")
	}
	return id, nil
}

// byNumber returns what get finds by the path's {id}, a number, when may lets the caller see
// it: 400 for an id that is not one (a names the kind: "an alert"), get's NotFound if there is
// none, else may's error.
func byNumber[T any](c *call, a string, get func(context.Context, int64) (T, error), may func(T) error) (T, error) {
	raw := chi.URLParam(c.Request, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		var none T
		return none, invalid("id " + strconv.Quote(raw) + " in the path is not " + a + " id (a positive whole number)")
	}
	t, err := get(c.Context(), id)
	if err != nil {
		return t, err
	}
	return t, may(t)
}

// listOptions reads a registry list's query: its filters (site, team, kind, status, mode; the
// route says which it takes), after and limit.
func listOptions(q url.Values) (devices.ListOptions, error) {
	o := devices.ListOptions{Site: q.Get("site"), Team: q.Get("team"), Kind: q.Get("kind"), Status: q.Get("status"),
		Mode: q.Get("mode"), After: q.Get("after")}
	if err := idParams(q, "site", "team", "after"); err != nil {
		return o, err
	}
	var err error
	o.Limit, err = limitOf(q)
	return o, err
}

// idParams refuses a query parameter of names that is given but is not an id.
func idParams(q url.Values, names ...string) error {
	for _, name := range names {
		if v := q.Get(name); v != "" && !reading.ValidID(v) {
			return invalid(name + ": " + strconv.Quote(v) + " is not an id")
		}
	}
	return nil
}

// page is one page of a list. Next is the cursor of the following page, for after=; it is
// empty on the last page.
type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// limitOf reads limit=, a page size: an integer from 1 to 1000, 100 unless given.
func limitOf(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, invalid("limit: must be an integer from 1 to 1000")
	}
	return n, nil
}

// pageParams reads the cursor parameter name (before= or after=), the id a previous page's
// next gave, and limit=: 0 and 100 unless given.
func pageParams(q url.Values, name string) (int64, int, error) {
	var n int64
	if v := q.Get(name); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
			return 0, 0, invalid(name + ": not a cursor (a positive integer from a previous page's next)")
		}
	}
	limit, err := limitOf(q)
	return n, limit, err
}

// pageOf converts a page of rows read with limit (0: a whole list, without a next).
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

// timeOr is t, or now when t is zero.
func timeOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC().Truncate(time.Millisecond)
	}
	return t
}
