package access

import (
	"crypto/rand"
	"encoding/base32"
	"slices"

	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// User is a member of staff who uses VitalWatch, never a patient.
type User struct {
	ID       string // made by NewID("usr"); stable when the username changes
	Username string // what the person types to sign in
	Role     Role
	Teams    []string // a doctor's teams
	Sites    []string // a fleet manager's sites
	// PasswordHash is the argon2id hash of the password (see HashPassword). Empty: the user cannot
	// sign in with a password and acts only through API tokens (an integration).
	PasswordHash string
	// Disabled users can neither sign in nor use their sessions and tokens.
	Disabled bool
}

// Validate checks the user's fields. Whether the teams and sites exist is for the store to check.
func (u *User) Validate() error {
	switch {
	case !reading.ValidID(u.ID):
		return errcode.Errorf(errcode.Invalid, "user id %q is not 1-64 characters of A-Z a-z 0-9 . _ : -", u.ID)
	case !ValidUsername(u.Username):
		return errcode.FieldErrorf(errcode.Invalid, "username", "username %q is not 1-64 characters of a-z 0-9 . _ -", u.Username)
	case !u.Role.Valid():
		return errcode.FieldErrorf(errcode.Invalid, "role", "role %q is not doctor, fleet_manager or admin", u.Role)
	case u.Role == Doctor && len(u.Teams) == 0:
		return errcode.FieldErrorf(errcode.Invalid, "teams", "a doctor needs at least one team")
	case u.Role == FleetManager && len(u.Sites) == 0:
		return errcode.FieldErrorf(errcode.Invalid, "sites", "a fleet manager needs at least one site")
	case u.Role != Doctor && len(u.Teams) > 0:
		// Memberships that the role ignores would only mislead whoever reads them.
		return errcode.FieldErrorf(errcode.Invalid, "teams", "only doctors belong to teams; a %s has none", u.Role)
	case u.Role != FleetManager && len(u.Sites) > 0:
		return errcode.FieldErrorf(errcode.Invalid, "sites", "only fleet managers have sites; a %s has none", u.Role)
	}
	for _, m := range []struct {
		what, field string
		ids         []string
	}{{"team", "teams", u.Teams}, {"site", "sites", u.Sites}} {
		for i, id := range m.ids {
			if !reading.ValidID(id) {
				return errcode.FieldErrorf(errcode.Invalid, m.field, "%s %q is not 1-64 characters of A-Z a-z 0-9 . _ : -", m.what, id)
			}
			if slices.Contains(m.ids[:i], id) {
				return errcode.FieldErrorf(errcode.Invalid, m.field, "%s %s is listed twice", m.what, id)
			}
		}
	}
	return nil
}

// Principal returns who a request made by u acts as.
func (u *User) Principal() *Principal {
	return &Principal{UserID: u.ID, Role: u.Role, Teams: slices.Clone(u.Teams), Sites: slices.Clone(u.Sites)}
}

// ValidUsername reports whether s can be a username: 1-64 characters of a-z 0-9 . _ -.
func ValidUsername(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// UserFilter selects and pages a list of users, ordered by id.
type UserFilter struct {
	Role Role   // only users with this role
	Team string // only doctors of this team
	Site string // only fleet managers of this site
	// After is a cursor: only users whose id sorts after it. Pass the last id of a page to get
	// the next one.
	After string
	// Limit is the page size: default 100, at most 1000.
	Limit int
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a new random id with the prefix, such as "usr_3kd7f2m9qxw4hzab": 80 random
// bits, so ids never collide and reveal nothing.
func NewID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + "_" + idEncoding.EncodeToString(b)
}
