// Package access says who may do what. People sign in with a password (the web UI) or present an
// API token (integrations); either way a request acts as a Principal, whose role and memberships
// decide what it may see and change:
//
//   - doctor: the patients (and their readings and clinical alerts) of their own teams;
//   - fleet_manager: the devices (and fault alerts) of their own sites;
//   - admin: everything, including sites, teams and users.
package access

import (
	"context"
	"slices"
)

// Role is what a user is to the platform.
type Role string

// Roles.
const (
	Doctor       Role = "doctor"
	FleetManager Role = "fleet_manager"
	Admin        Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == Doctor || r == FleetManager || r == Admin }

// Principal is who a request acts as.
type Principal struct {
	UserID string
	Role   Role
	Teams  []string // a doctor's teams
	Sites  []string // a fleet manager's sites
}

// IsAdmin reports whether p may do everything.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == Admin }

// CanTeam reports whether p may see and change the patients of team.
func (p *Principal) CanTeam(team string) bool {
	return p.IsAdmin() || p != nil && p.Role == Doctor && slices.Contains(p.Teams, team)
}

// CanSite reports whether p may see and change the devices of site.
func (p *Principal) CanSite(site string) bool {
	return p.IsAdmin() || p != nil && p.Role == FleetManager && slices.Contains(p.Sites, site)
}

type principalKey struct{}

// WithPrincipal returns ctx acting as p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx acts as, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
