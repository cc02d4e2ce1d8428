package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Users keeps people's accounts: users, their API tokens and their sessions.
type Users struct{ *DB }

// NewUsers returns an Users over db.
func NewUsers(db *DB) *Users { return &Users{db} }

// Users are changed like the registry (through change: one transaction, one audit row, the
// registry version incremented), and their teams and sites must be in the registry. The audit
// log never holds a password hash, nor a token or its hash.

const userColumns = `id, username, role, password_hash, disabled`

func scanUser(sc scanner) (access.User, error) {
	var u access.User
	var disabled int
	err := sc.Scan(&u.ID, &u.Username, &u.Role, &u.PasswordHash, &disabled)
	u.Disabled = disabled != 0
	return u, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// userDetail is a user as the audit log records it: everything but the password's hash.
func userDetail(u access.User) any {
	return struct {
		Username    string      `json:"username"`
		Role        access.Role `json:"role"`
		Teams       []string    `json:"teams,omitempty"`
		Sites       []string    `json:"sites,omitempty"`
		Disabled    bool        `json:"disabled"`
		HasPassword bool        `json:"has_password"`
	}{u.Username, u.Role, u.Teams, u.Sites, u.Disabled, u.PasswordHash != ""}
}

// checkPasswordHash refuses anything but an argon2id hash, so that a password never reaches the
// database as it was typed.
func checkPasswordHash(hash string) error {
	if !strings.HasPrefix(hash, "$argon2id$") {
		return errcode.Errorf(errcode.Invalid, "a password must be stored as an argon2id hash (access.HashPassword)")
	}
	return nil
}

// CreateUser adds a user and returns it as stored. A user without an ID gets a new one
// (access.NewID); PasswordHash may be empty for a user who will only use API tokens. Conflict
// if the id or the username is taken; Invalid if a team or site does not exist.
func (s *Users) CreateUser(ctx context.Context, u access.User) (access.User, error) {
	if u.ID == "" {
		u.ID = access.NewID("usr")
	}
	if err := u.Validate(); err != nil {
		return u, err
	}
	if u.PasswordHash != "" {
		if err := checkPasswordHash(u.PasswordHash); err != nil {
			return u, err
		}
	}
	err := s.change(ctx, "user.create", "user/"+u.ID, func(tx *sql.Tx) (any, error) {
		if err := mustBeNew(ctx, tx, "user", u.ID, `SELECT 1 FROM users WHERE id = $1`); err != nil {
			return nil, err
		}
		if err := usernameFree(ctx, tx, u); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5)`,
			u.ID, u.Username, u.Role, u.PasswordHash, boolInt(u.Disabled)); err != nil {
			return nil, err
		}
		return userDetail(u), setMemberships(ctx, tx, u)
	})
	return u, err
}

// UpdateUser replaces the username, role, teams, sites and disabled flag of the user with u.ID;
// never the password hash, which only SetUserPassword changes. NotFound if there is no such
// user; Conflict if the username is another user's. Disabling a user ends their sessions (their
// tokens stay, refused while the user is disabled). The last enabled admin cannot be disabled
// or given another role.
func (s *Users) UpdateUser(ctx context.Context, u access.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return s.change(ctx, "user.update", "user/"+u.ID, func(tx *sql.Tx) (any, error) {
		old, err := getOne(ctx, tx, "user", u.ID, `SELECT `+userColumns+` FROM users WHERE id = $1`, scanUser)
		if err != nil {
			return nil, err
		}
		if err := usernameFree(ctx, tx, u); err != nil {
			return nil, err
		}
		if old.Role == access.Admin && !old.Disabled && (u.Role != access.Admin || u.Disabled) {
			others, err := exists(ctx, tx, `SELECT 1 FROM users WHERE role = $1 AND disabled = 0 AND id <> $2`, access.Admin, u.ID)
			if err != nil {
				return nil, err
			}
			if !others {
				return nil, errcode.Errorf(errcode.Invalid, "%s is the last enabled admin; make another user admin first", old.Username)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET username = $2, role = $3, disabled = $4 WHERE id = $1`,
			u.ID, u.Username, u.Role, boolInt(u.Disabled)); err != nil {
			return nil, err
		}
		if u.Disabled {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID); err != nil {
				return nil, err
			}
		}
		u.PasswordHash = old.PasswordHash // for the detail's has_password
		return userDetail(u), setMemberships(ctx, tx, u)
	})
}

// SetUserPassword replaces the hash of the user's password (made by access.HashPassword) and
// ends the user's sessions; NotFound if there is no such user. The audit log records that it
// changed, not the hash.
func (s *Users) SetUserPassword(ctx context.Context, id, hash string) error {
	if err := checkPasswordHash(hash); err != nil {
		return err
	}
	return s.change(ctx, "user.password_set", "user/"+id, func(tx *sql.Tx) (any, error) {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, id, hash)
		if err != nil {
			return nil, err
		}
		if err := updated(res, "user", id); err != nil {
			return nil, err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return struct{}{}, err
	})
}

// usernameFree returns Conflict when another user than u has u's username.
func usernameFree(ctx context.Context, tx *sql.Tx, u access.User) error {
	taken, err := exists(ctx, tx, `SELECT 1 FROM users WHERE username = $1 AND id <> $2`, u.Username, u.ID)
	if err != nil {
		return err
	}
	if taken {
		return errcode.FieldErrorf(errcode.Conflict, "username", "username %s is taken", u.Username)
	}
	return nil
}

// setMemberships makes the user's teams and sites those of u, each of which must exist.
func setMemberships(ctx context.Context, tx *sql.Tx, u access.User) error {
	for _, m := range []struct {
		what, table, column, exists string
		ids                         []string
	}{
		{"team", "user_teams", "team_id", `SELECT 1 FROM teams WHERE id = $1`, u.Teams},
		{"site", "user_sites", "site_id", `SELECT 1 FROM sites WHERE id = $1`, u.Sites},
	} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+m.table+` WHERE user_id = $1`, u.ID); err != nil {
			return err
		}
		for _, id := range m.ids {
			if err := mustExist(ctx, tx, m.what, id, m.exists); err != nil {
				return onField(m.what+"s", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+m.table+` (user_id, `+m.column+`) VALUES ($1, $2)`, u.ID, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadMemberships fills in the teams and sites of users, which are in id order, with one query
// per table over their range of ids.
func loadMemberships(ctx context.Context, q querier, users []access.User) error {
	if len(users) == 0 {
		return nil
	}
	byID := make(map[string]*access.User, len(users))
	for i := range users {
		byID[users[i].ID] = &users[i]
	}
	lo, hi := users[0].ID, users[len(users)-1].ID
	for _, m := range []struct {
		query string
		add   func(u *access.User, id string)
	}{
		{`SELECT user_id, team_id FROM user_teams WHERE user_id >= $1 AND user_id <= $2 ORDER BY user_id, team_id`,
			func(u *access.User, id string) { u.Teams = append(u.Teams, id) }},
		{`SELECT user_id, site_id FROM user_sites WHERE user_id >= $1 AND user_id <= $2 ORDER BY user_id, site_id`,
			func(u *access.User, id string) { u.Sites = append(u.Sites, id) }},
	} {
		rows, err := q.QueryContext(ctx, m.query, lo, hi)
		if err != nil {
			return err
		}
		for rows.Next() {
			var userID, id string
			if err := rows.Scan(&userID, &id); err != nil {
				rows.Close()
				return err
			}
			if u, ok := byID[userID]; ok { // the range may hold users the page left out
				m.add(u, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// getUser returns the user that query (with one parameter, key) finds, with its memberships.
func getUser(ctx context.Context, q querier, key, query string) (access.User, error) {
	u, err := getOne(ctx, q, "user", key, query, scanUser)
	if err != nil {
		return u, err
	}
	users := []access.User{u}
	if err := loadMemberships(ctx, q, users); err != nil {
		return u, fmt.Errorf("get user %s: %w", key, err)
	}
	return users[0], nil
}

// GetUser returns the user with the id, password hash included; NotFound if there is none.
func (s *Users) GetUser(ctx context.Context, id string) (access.User, error) {
	return getUser(ctx, s.readers, id, `SELECT `+userColumns+` FROM users WHERE id = $1`)
}

// GetUserByUsername returns the user with the username, password hash included; NotFound if
// there is none.
func (s *Users) GetUserByUsername(ctx context.Context, username string) (access.User, error) {
	return getUser(ctx, s.readers, username, `SELECT `+userColumns+` FROM users WHERE username = $1`)
}

// ListUsers returns a page of users by id, password hashes included.
func (s *Users) ListUsers(ctx context.Context, f access.UserFilter) ([]access.User, error) {
	w := &where{}
	if f.Role != "" {
		if !f.Role.Valid() {
			return nil, errcode.Errorf(errcode.Invalid, "role %q is not doctor, fleet_manager or admin", f.Role)
		}
		w.add("role = ?", f.Role)
	}
	if f.Team != "" {
		w.add("EXISTS (SELECT 1 FROM user_teams m WHERE m.user_id = users.id AND m.team_id = ?)", f.Team)
	}
	if f.Site != "" {
		w.add("EXISTS (SELECT 1 FROM user_sites m WHERE m.user_id = users.id AND m.site_id = ?)", f.Site)
	}
	users, err := list(ctx, s.DB, "users", userColumns, "users", "id", w, devices.ListOptions{After: f.After, Limit: f.Limit}, scanUser)
	if err != nil {
		return nil, err
	}
	if err := loadMemberships(ctx, s.db, users); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}
