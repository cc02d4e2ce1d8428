package api

import (
	"context"
	"io"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/csvimport"
)

// resource is a kind of registry resource with an id (sites, teams, patients, devices), T as
// the registry keeps it and J as the API shows it, for the handlers that are the same for each:
// list, get, create, change and import. The registry's methods are taken as method expressions
// on Registry, which the handlers call on reg once serve has found it configured.
type resource[T, J any] struct {
	reg       Registry
	get       func(Registry, context.Context, string) (T, error)
	list      func(Registry, context.Context, devices.ListOptions) ([]T, error)
	create    func(Registry, context.Context, T) error
	createAll func(Registry, context.Context, []T) error // every one or none
	update    func(Registry, context.Context, T) error
	parse     func(io.Reader) ([]csvimport.Row[T], []csvimport.RowError, error) // an import's CSV file
	id        func(T) string
	out       func(T) J
	in        func(J) (T, error) // a 400 for a value the registry cannot take

	// scopeBy limits a non-admin to their teams ("team", patients) or sites ("site", devices);
	// "": everyone may see every one. scopeOf is the team or site of one, and outside the 403
	// for one outside the caller's, a format of its id.
	scopeBy string
	scopeOf func(T) string
	outside string
}

// inScope reports whether p may see what is in team or site v (by scopeBy).
func (k resource[T, J]) inScope(p *access.Principal, v string) bool {
	switch k.scopeBy {
	case "team":
		return p.CanTeam(v)
	case "site":
		return p.CanSite(v)
	}
	return true
}

// mayHave refuses p a t outside p's teams or sites: one p creates, or changes into.
func (k resource[T, J]) mayHave(p *access.Principal, t T) error {
	if k.scopeBy != "" && !k.inScope(p, k.scopeOf(t)) {
		return forbidden("%s %s is not one of yours", k.scopeBy, k.scopeOf(t))
	}
	return nil
}

// one returns the resource of the path's id when c's principal may see it: 400 for an id that
// is not one, then as lookup.
func (k resource[T, J]) one(c *call) (T, error) {
	id, err := pathID(c.Request)
	if err != nil {
		var none T
		return none, err
	}
	return k.lookup(c.Context(), c.p, id)
}

// lookup returns the resource id when p may see it: NotFound if there is none, Forbidden if it
// is outside p's teams or sites.
func (k resource[T, J]) lookup(ctx context.Context, p *access.Principal, id string) (T, error) {
	t, err := k.get(k.reg, ctx, id)
	if err == nil && k.scopeBy != "" && !k.inScope(p, k.scopeOf(t)) {
		err = forbidden(k.outside, id)
	}
	return t, err
}

// serveList serves a page by id, filtered by the route's query. A non-admin's holds what is in
// their teams or sites: of the one the query names, which must be theirs, or of all of them.
func (k resource[T, J]) serveList(c *call) error {
	o, err := listOptions(c.q)
	if err != nil {
		return err
	}
	rows, err := k.listRows(c, o)
	if err != nil {
		return err
	}
	return c.reply(pageOf(rows, o.Limit, k.id, k.out))
}

// listRows reads a page of rows by id as o selects them, limited to the caller's teams or sites
// as serveList says.
func (k resource[T, J]) listRows(c *call, o devices.ListOptions) ([]T, error) {
	list := func(ctx context.Context, o devices.ListOptions) ([]T, error) { return k.list(k.reg, ctx, o) }
	field := func(o *devices.ListOptions) *string { return &o.Site }
	mine := c.p.Sites
	if k.scopeBy == "team" {
		field, mine = func(o *devices.ListOptions) *string { return &o.Team }, c.p.Teams
	}
	switch v := *field(&o); {
	case k.scopeBy == "" || c.p.IsAdmin():
		return list(c.Context(), o)
	case v != "":
		if !k.inScope(c.p, v) {
			return nil, forbidden("%s %s is not one of yours", k.scopeBy, v)
		}
		return list(c.Context(), o)
	default:
		return listIn(c.Context(), o, mine, func(o *devices.ListOptions, v string) { *field(o) = v }, list, k.id)
	}
}

func (k resource[T, J]) serveGet(c *call) error {
	t, err := k.one(c)
	if err != nil {
		return err
	}
	return c.reply(k.out(t))
}

// serveCreate creates one from the body, in the caller's teams or sites.
func (k resource[T, J]) serveCreate(c *call) error {
	var j J
	if _, err := c.decode(&j); err != nil {
		return err
	}
	t, err := k.store(c, j, k.create)
	if err != nil {
		return err
	}
	return c.created(k.id(t), k.out(t))
}

// serveUpdate changes the fields the body gives, and leaves the resource in the caller's teams
// or sites.
func (k resource[T, J]) serveUpdate(c *call) error {
	cur, err := k.one(c)
	if err != nil {
		return err
	}
	j := k.out(cur)
	if _, err := c.decode(&j); err != nil {
		return err
	}
	t, err := k.store(c, j, k.update)
	if err != nil {
		return err
	}
	return c.reply(k.out(t))
}

// store saves j, a body, as the registry's T, which must be in the caller's teams or sites.
func (k resource[T, J]) store(c *call, j J, save func(Registry, context.Context, T) error) (T, error) {
	t, err := k.in(j)
	if err == nil {
		err = k.mayHave(c.p, t)
	}
	if err == nil {
		err = save(k.reg, c.Context(), t)
	}
	return t, err
}

// serveImport imports a CSV file (imports.go); a row outside the caller's teams or sites is
// refused as forbidden.
func (k resource[T, J]) serveImport(c *call) error {
	rows, bad, atomic, err := readCSV(c, k.parse)
	if err != nil {
		return err
	}
	rep, _, err := importer[T]{
		id:    k.id,
		allow: func(t T) bool { return k.mayHave(c.p, t) == nil },
		one:   func(ctx context.Context, t T) error { return k.create(k.reg, ctx, t) },
		all:   func(ctx context.Context, ts []T) error { return k.createAll(k.reg, ctx, ts) },
	}.run(c.Context(), rows, bad, atomic)
	if err != nil {
		return err
	}
	return c.reply(rep)
}
