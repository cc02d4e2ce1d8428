package api

import (
	"context"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// People's accounts over HTTP: who am I (/me), sign-out (/logout), and, for admins only, users
// and their API tokens (/users). A response never holds a password hash, and a token only in the
// answer that creates it.

// Accounts is what sign-in and user management need of the store; package store implements it.
type Accounts interface {
	CreateUser(ctx context.Context, u access.User) (access.User, error)
	UpdateUser(ctx context.Context, u access.User) error
	SetUserPassword(ctx context.Context, id, hash string) error
	GetUser(ctx context.Context, id string) (access.User, error)
	GetUserByUsername(ctx context.Context, username string) (access.User, error)
	ListUsers(ctx context.Context, f access.UserFilter) ([]access.User, error)
	CreateToken(ctx context.Context, userID, name string) (token, id string, err error)
	GetToken(ctx context.Context, id string) (access.Token, error)
	ListTokens(ctx context.Context, userID string) ([]access.Token, error)
	RevokeToken(ctx context.Context, id string) error
	CreateSession(ctx context.Context, userID string) (id string, expires time.Time, err error)
	DeleteSession(ctx context.Context, id string) error
}

// userJSON is a user as the API shows it: never the password's hash.
type userJSON struct {
	ID          string      `json:"id"`
	Username    string      `json:"username"`
	Role        access.Role `json:"role"`
	Teams       []string    `json:"teams"`
	Sites       []string    `json:"sites"`
	Disabled    bool        `json:"disabled"`
	HasPassword bool        `json:"has_password"` // false: signs in only with API tokens
}

func userOut(u access.User) userJSON {
	j := userJSON{ID: u.ID, Username: u.Username, Role: u.Role, Teams: u.Teams, Sites: u.Sites,
		Disabled: u.Disabled, HasPassword: u.PasswordHash != ""}
	if j.Teams == nil {
		j.Teams = []string{}
	}
	if j.Sites == nil {
		j.Sites = []string{}
	}
	return j
}

// userBody creates or changes a user. Password, when given, is set (at least 12 characters);
// only its hash is kept.
type userBody struct {
	Username string      `json:"username"`
	Role     access.Role `json:"role"`
	Teams    []string    `json:"teams"`
	Sites    []string    `json:"sites"`
	Disabled bool        `json:"disabled"`
	Password string      `json:"password"`
}

// me serves GET /api/v1/me: the signed-in user.
func (a *API) me(c *call) error {
	u, err := a.opts.Users.GetUser(c.Context(), c.p.UserID)
	if err != nil {
		return err
	}
	return c.reply(userOut(u))
}

func (a *API) listUsers(c *call) error {
	q := c.q
	f := access.UserFilter{Role: access.Role(q.Get("role")), Team: q.Get("team"), Site: q.Get("site"), After: q.Get("after")}
	if err := idParams(q, "team", "site", "after"); err != nil {
		return err
	}
	var err error
	if f.Limit, err = limitOf(q); err != nil {
		return err
	}
	users, err := a.opts.Users.ListUsers(c.Context(), f)
	if err != nil {
		return err
	}
	return c.reply(pageOf(users, f.Limit, func(u access.User) string { return u.ID }, userOut))
}

func (a *API) createUser(c *call) error {
	var body userBody
	has, err := c.decode(&body)
	if err != nil {
		return err
	}
	u := access.User{Username: body.Username, Role: body.Role, Teams: body.Teams, Sites: body.Sites, Disabled: body.Disabled}
	if has["password"] {
		if u.PasswordHash, err = access.HashPassword(body.Password); err != nil {
			return err
		}
	}
	u, err = a.opts.Users.CreateUser(c.Context(), u)
	if err != nil {
		return err
	}
	return c.created(u.ID, userOut(u))
}

// userFor returns the user of the path's id.
func (a *API) userFor(c *call) (access.User, error) {
	id, err := pathID(c.Request)
	if err != nil {
		return access.User{}, err
	}
	return a.opts.Users.GetUser(c.Context(), id)
}

func (a *API) getUser(c *call) error {
	u, err := a.userFor(c)
	if err != nil {
		return err
	}
	return c.reply(userOut(u))
}

// updateUser serves PATCH /api/v1/users/{id}: the fields given replace the user's. A new role
// drops the memberships it has no use for unless they are given too.
func (a *API) updateUser(c *call) error {
	u, err := a.userFor(c)
	if err != nil {
		return err
	}
	id := u.ID
	body := userBody{Username: u.Username, Role: u.Role, Teams: u.Teams, Sites: u.Sites, Disabled: u.Disabled}
	has, err := c.decode(&body)
	if err != nil {
		return err
	}
	if has["role"] && body.Role != access.Doctor && !has["teams"] {
		body.Teams = nil
	}
	if has["role"] && body.Role != access.FleetManager && !has["sites"] {
		body.Sites = nil
	}
	var hash string
	if has["password"] {
		// Checked before anything changes, so that a bad password changes nothing.
		if hash, err = access.HashPassword(body.Password); err != nil {
			return err
		}
	}
	if has["username"] || has["role"] || has["teams"] || has["sites"] || has["disabled"] {
		u.Username, u.Role, u.Teams, u.Sites, u.Disabled = body.Username, body.Role, body.Teams, body.Sites, body.Disabled
		if err := a.opts.Users.UpdateUser(c.Context(), u); err != nil {
			return err
		}
	}
	if hash != "" {
		if err := a.opts.Users.SetUserPassword(c.Context(), id, hash); err != nil {
			return err
		}
	}
	if u, err = a.opts.Users.GetUser(c.Context(), id); err != nil {
		return err
	}
	return c.reply(userOut(u))
}

// tokenJSON is an API token as the API shows it. Token, the secret itself, is there only in the
// answer that creates it.
type tokenJSON struct {
	ID       string    `json:"id"`
	User     string    `json:"user"`
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Revoked  time.Time `json:"revoked,omitzero"`
	Token    string    `json:"token,omitempty"`
}

// tokenBody creates an API token.
type tokenBody struct {
	Name string `json:"name"` // what it is for: 1-100 printable characters
}

func tokenOut(t access.Token) tokenJSON {
	return tokenJSON{ID: t.ID, User: t.UserID, Name: t.Name, Created: t.Created, LastUsed: t.LastUsed, Revoked: t.Revoked}
}

func (a *API) listTokens(c *call) error {
	id, err := pathID(c.Request)
	if err != nil {
		return err
	}
	tokens, err := a.opts.Users.ListTokens(c.Context(), id)
	if err != nil {
		return err
	}
	return c.reply(pageOf(tokens, 0, func(t access.Token) string { return t.ID }, tokenOut))
}

// createToken serves POST /api/v1/users/{id}/tokens {"name"}: 201 with the token, shown this
// once.
func (a *API) createToken(c *call) error {
	id, err := pathID(c.Request)
	if err != nil {
		return err
	}
	var body tokenBody
	if _, err := c.decode(&body); err != nil {
		return err
	}
	token, tokenID, err := a.opts.Users.CreateToken(c.Context(), id, body.Name)
	if err != nil {
		return err
	}
	t, err := a.opts.Users.GetToken(c.Context(), tokenID)
	if err != nil {
		return err
	}
	out := tokenOut(t)
	out.Token = token
	return c.created(tokenID, out)
}

// revokeToken serves DELETE /api/v1/users/{id}/tokens/{token_id}: the token stops working at once.
func (a *API) revokeToken(c *call) error {
	id, err := pathID(c.Request)
	if err != nil {
		return err
	}
	tokenID := chi.URLParam(c.Request, "token_id")
	t, err := a.opts.Users.GetToken(c.Context(), tokenID)
	if err != nil {
		return err
	}
	if t.UserID != id {
		return apiError(errcode.NotFound, "user "+id+" has no token "+tokenID)
	}
	if err := a.opts.Users.RevokeToken(c.Context(), tokenID); err != nil {
		return err
	}
	return c.reply(nil)
}
