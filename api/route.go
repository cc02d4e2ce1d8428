package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Every route of /api/v1 is a row of one table (routes.go), from which the router is built and
// the OpenAPI document generated (openapi.go). Once the request is authenticated (401 without
// valid credentials, but for signing in), serve checks what the row says, in this order, before
// the row's handler runs:
//  1. what the route needs: 503 when it is not configured;
//  2. the role: a role with no business with a kind of resource gets 403 whatever the id,
//     without a lookup;
//  3. the query: a parameter the route does not take, or one given twice, is a 400.
//
// The handler does the rest, which is its own: the id (404), the scope on the data (403 for a
// patient of another team or a device at another site, read from the registry on every
// request, so that a transfer ends the old team's access at once), the body (call.decode) and
// the answer (call.reply).

// route is one operation of /api/v1.
type route struct {
	method, path string // path below /api/v1, with {id} parameters
	id           string // operationId
	summary      string
	gate         gate     // who may call it
	needs        need     // what it cannot be served without
	query        []string // the query parameters it takes, as keys of queryParameters
	body         string   // schema of the JSON body (apiSchemas), "csv" for a CSV file, "" for none
	status       int      // of success
	answer       string   // schema of the answer on success; "" for none (204); "sse" for an event stream
	serve        handler
}

// handler serves a request that serve has admitted; an error goes out through writeError.
type handler func(c *call) error

// gate is who may call a route: in the document's words (doc), and as serve checks it before
// the handler runs. An admin may call every route.
type gate struct {
	doc    string
	roles  []access.Role // the other roles that may call it; none: admins only
	what   string        // what the route does, for the 403: "a doctor may not <what>"
	open   bool          // every role: the handler decides by the scope (alerts, webhooks, silences)
	public bool          // needs no credentials (signing in)
}

// and is g with more said in the document.
func (g gate) and(more string) gate {
	g.doc += more
	return g
}

// check refuses p unless g lets p's role through.
func (g gate) check(p *access.Principal) error {
	switch {
	case g.open || g.public || p.IsAdmin():
		return nil
	case len(g.roles) == 0:
		return forbidden("only an admin may %s", g.what)
	}
	return roleIn(p, g.what, g.roles...)
}

// need is a dependency of a route: 503 when it is not configured.
type need uint8

// What a route may need (Options).
const (
	needRegistry need = 1 << iota
	needUsers
	needAlerts
	needSilences
	needWebhooks
	needSeries
	needDeviceStatus
)

// unconfigured returns the 503 for the first of what n needs that is not configured.
func (a *API) unconfigured(n need) error {
	for _, d := range []struct {
		need
		ok  bool
		msg string
	}{
		{needRegistry, a.opts.Registry != nil, "the registry is not configured"},
		{needUsers, a.opts.Users != nil, "user accounts are not configured"},
		{needAlerts, a.opts.Alerts != nil, "alerts are not configured"},
		{needSilences, a.opts.Silences != nil, "silences are not configured"},
		{needWebhooks, a.opts.Webhooks != nil, "webhooks are not configured"},
		{needSeries, a.opts.Series != nil, "readings from InfluxDB are not configured"},
		{needDeviceStatus, a.opts.DeviceStatus != nil, errNoDeviceStatus.Message},
	} {
		if n&d.need != 0 && !d.ok {
			return apiError(errcode.Unavailable, d.msg)
		}
	}
	return nil
}

// mount serves routes under /api/v1 on r. Every one but signing in is in a group that
// authenticates the request first and brings a change into force before it answers (inForce),
// with a router for each first path segment (/sites, /alerts, ...), as chi's per-resource
// routers are.
func (a *API) mount(r chi.Router, routes []route) {
	params := queryParameters()
	v1 := chi.NewRouter()
	v1.Use(a.authenticate, a.inForce)
	subs := map[string]chi.Router{}
	for _, rt := range routes {
		if rt.gate.public {
			r.Method(rt.method, "/api/v1"+rt.path, a.serve(rt, params))
			continue
		}
		seg, rest := rt.path, "/"
		if i := strings.Index(rt.path[1:], "/"); i >= 0 {
			seg, rest = rt.path[:i+1], rt.path[i+1:]
		}
		sub, ok := subs[seg]
		if !ok {
			sub = chi.NewRouter()
			subs[seg] = sub
			v1.Mount(seg, sub)
		}
		sub.Method(rt.method, rest, a.serve(rt, params))
	}
	r.Mount("/api/v1", v1)
}

// serve adapts rt for the router: it admits the request (see the top of this file), then runs
// rt's handler. params describes the query parameters by key (queryParameters).
func (a *API) serve(rt route, params map[string]map[string]any) http.HandlerFunc {
	var allowed []string
	for _, k := range rt.query {
		allowed = append(allowed, params[k]["name"].(string))
	}
	schema, _ := schemaNamed(rt.body)
	return func(w http.ResponseWriter, r *http.Request) {
		c := &call{Request: r, w: w, status: rt.status, body: schema}
		err := a.admit(c, rt, allowed)
		if err == nil {
			err = rt.serve(c)
		}
		if err != nil {
			a.writeError(w, c.Request, err)
		}
	}
}

// admit checks what rt needs, who calls it and the query's keys.
func (a *API) admit(c *call, rt route, allowed []string) error {
	if err := a.unconfigured(rt.needs); err != nil {
		return err
	}
	if !rt.gate.public {
		p, ok := access.FromContext(c.Context())
		if !ok {
			return apiError(errcode.Unauthorized, "sign in first")
		}
		// The principal is the actor of any change the handler makes, for the audit log.
		c.p, c.Request = p, c.WithContext(audit.WithActor(c.Context(), auditActor(p)))
		if err := rt.gate.check(p); err != nil {
			return err
		}
	}
	var err error
	c.q, err = queryParams(c.Request, allowed...)
	return err
}

// call is one admitted request to a route, with what its handler needs besides the request.
type call struct {
	*http.Request
	w      http.ResponseWriter
	p      *access.Principal // who it acts as; nil on a public route
	q      url.Values        // the query, of the route's parameters, each given once
	status int               // the route's status of success
	body   apiSchema         // the route's JSON body; the zero schema if it takes none
}

// reply answers v as JSON with the route's status of success; a route that answers 204 writes
// no body.
func (c *call) reply(v any) error {
	if c.status == http.StatusNoContent {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(c.w, c.status, v)
	return nil
}

// created replies with v, a resource just created below the request's path as id, and says
// where it is in Location.
func (c *call) created(id string, v any) error {
	c.w.Header().Set("Location", strings.TrimSuffix(c.URL.Path, "/")+"/"+id)
	return c.reply(v)
}

// decode reads the JSON body into dst (see decodeBody) as the route's schema says: a field it
// requires that is missing, or one it cannot set, is a 400 naming it. It returns the names of
// the fields present.
func (c *call) decode(dst any) (map[string]bool, error) {
	has, err := decodeBody(c.Request, dst, c.body.fixed)
	if err != nil {
		return nil, err
	}
	return has, required(has, c.body.required...)
}

// auditActor is how the audit log names the principal: "user:" and its user id.
func auditActor(p *access.Principal) string { return "user:" + p.UserID }

// forbidden returns a 403 error.
func forbidden(format string, args ...any) *errcode.Error {
	return errcode.Errorf(errcode.Forbidden, format, args...)
}

// roleIn refuses a principal whose role is not one of roles.
func roleIn(p *access.Principal, what string, roles ...access.Role) error {
	if p.IsAdmin() || slices.Contains(roles, p.Role) {
		return nil
	}
	return forbidden("a %s may not %s", p.Role, what)
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
