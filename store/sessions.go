package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// A user's credentials: API tokens, for integrations, and sessions, for the web UI. Both are
// 256-bit random strings that the store keeps only as their SHA-256 (access.HashToken), so a
// copy of the database lets no one in. Creating and revoking a token are audited changes;
// signing in and out are not changes to the registry and are not audited.

const tokenColumns = `id, user_id, name, created_ms, last_used_ms, revoked_ms`

func scanToken(sc scanner) (access.Token, error) {
	var t access.Token
	var created int64
	var used, revoked sql.NullInt64
	err := sc.Scan(&t.ID, &t.UserID, &t.Name, &created, &used, &revoked)
	t.Created = time.UnixMilli(created).UTC()
	t.LastUsed, t.Revoked = fromMillis(used), fromMillis(revoked)
	return t, err
}

// CreateToken makes a new API token for the user and returns it, once, with its id; only its
// hash is kept. NotFound if there is no such user; Invalid if the user is disabled or name is
// not 1-100 printable characters.
func (s *Users) CreateToken(ctx context.Context, userID, name string) (token, id string, err error) {
	if err := access.CheckTokenName(name); err != nil {
		return "", "", err
	}
	token, id = access.NewToken(), access.NewID("tok")
	err = s.change(ctx, "user.token_create", "user/"+userID, func(tx *sql.Tx) (any, error) {
		u, err := getOne(ctx, tx, "user", userID, `SELECT `+userColumns+` FROM users WHERE id = $1`, scanUser)
		if err != nil {
			return nil, err
		}
		if u.Disabled {
			return nil, errcode.Errorf(errcode.Invalid, "user %s is disabled; enable it before giving it a token", u.Username)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO api_tokens (id, user_id, name, hash, created_ms) VALUES ($1, $2, $3, $4, $5)`,
			id, userID, name, access.HashToken(token), s.now().UnixMilli())
		return struct {
			Token string `json:"token"`
			Name  string `json:"name"`
		}{id, name}, err
	})
	if err != nil {
		return "", "", err
	}
	return token, id, nil
}

// GetToken returns the API token with the id (never the token itself); NotFound if there is none.
func (s *Users) GetToken(ctx context.Context, id string) (access.Token, error) {
	return getOne(ctx, s.readers, "token", id, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = $1`, scanToken)
}

// ListTokens returns the user's API tokens, revoked ones too, oldest first; NotFound if there is
// no such user.
func (s *Users) ListTokens(ctx context.Context, userID string) ([]access.Token, error) {
	found, err := exists(ctx, s.readers, `SELECT 1 FROM users WHERE id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	if !found {
		return nil, notFound("user", userID)
	}
	out, err := queryAll(ctx, s.readers, `SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = $1 ORDER BY created_ms, id`,
		[]any{userID}, scanToken)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken makes the API token with the id stop working at once. NotFound if there is no such
// token; Conflict if it was revoked already. The token stays listed, with when it was revoked.
func (s *Users) RevokeToken(ctx context.Context, id string) error {
	t, err := s.GetToken(ctx, id)
	if err != nil {
		return err
	}
	return s.change(ctx, "user.token_revoke", "user/"+t.UserID, func(tx *sql.Tx) (any, error) {
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL`,
			id, s.now().UnixMilli())
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errcode.Errorf(errcode.Conflict, "token %s was revoked already", id)
		}
		return struct {
			Token string `json:"token"`
			Name  string `json:"name"`
		}{id, t.Name}, nil
	})
}

// UserByToken returns the user that an API token belongs to. Unauthorized if the token is
// unknown or revoked or its user disabled. It notes when the token was last used, at most once
// a minute.
func (s *Users) UserByToken(ctx context.Context, token string) (access.User, error) {
	if !strings.HasPrefix(token, access.TokenPrefix) {
		return access.User{}, errcode.Errorf(errcode.Unauthorized, "not a VitalWatch API token (they start with %s)", access.TokenPrefix)
	}
	t, err := scanToken(s.readers.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, access.HashToken(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return access.User{}, errcode.Errorf(errcode.Unauthorized, "unknown API token")
	}
	if err != nil {
		return access.User{}, fmt.Errorf("look up token: %w", err)
	}
	if !t.Revoked.IsZero() {
		return access.User{}, errcode.Errorf(errcode.Unauthorized, "API token %s was revoked", t.ID)
	}
	u, err := s.enabledUser(ctx, t.UserID)
	if err != nil {
		return u, err
	}
	now := s.now()
	if now.Sub(t.LastUsed) >= access.SessionRenewal {
		if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_ms = $2 WHERE id = $1`, t.ID, now.UnixMilli()); err != nil {
			return u, fmt.Errorf("note token use: %w", err)
		}
	}
	return u, nil
}

// enabledUser returns the user with the id; Unauthorized if it is disabled or gone.
func (s *Users) enabledUser(ctx context.Context, id string) (access.User, error) {
	u, err := s.GetUser(ctx, id)
	var de *errcode.Error
	if errors.As(err, &de) && de.Code == errcode.NotFound {
		return u, errcode.Errorf(errcode.Unauthorized, "user %s no longer exists", id)
	}
	if err != nil {
		return u, err
	}
	if u.Disabled {
		return u, errcode.Errorf(errcode.Unauthorized, "user %s is disabled", u.Username)
	}
	return u, nil
}

// CreateSession signs the user in: it returns a new session id, to be sent as the session
// cookie and shown to no one else, and when the session ends at the latest. Only the id's hash
// is kept. Unauthorized if the user is disabled. Sessions that have expired are deleted first.
func (s *Users) CreateSession(ctx context.Context, userID string) (id string, expires time.Time, err error) {
	if _, err := s.PruneSessions(ctx); err != nil {
		return "", time.Time{}, err
	}
	if _, err := s.enabledUser(ctx, userID); err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	sess := access.Session{UserID: userID, Created: now, Seen: now}
	id = access.NewSessionID()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, created_ms, seen_ms, expires_ms)
		VALUES ($1, $2, $3, $4, $5)`, access.HashToken(id), userID, now.UnixMilli(), now.UnixMilli(), sess.Expires().UnixMilli()); err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	return id, now.Add(access.SessionLifetime), nil
}

// UserBySession returns the user signed in with the session id. Unauthorized if there is no such
// session, if it has expired (12 hours after sign-in, or 30 minutes after its last use; it is
// then deleted) or if its user is disabled. A use renews the session, at most once a minute.
func (s *Users) UserBySession(ctx context.Context, id string) (access.User, error) {
	hash := access.HashToken(id)
	var sess access.Session
	var created, seen int64
	err := s.readers.QueryRowContext(ctx, `SELECT user_id, created_ms, seen_ms FROM sessions WHERE hash = $1`, hash).
		Scan(&sess.UserID, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return access.User{}, errcode.Errorf(errcode.Unauthorized, "not signed in: the session has ended; sign in again")
	}
	if err != nil {
		return access.User{}, fmt.Errorf("look up session: %w", err)
	}
	sess.Created, sess.Seen = time.UnixMilli(created), time.UnixMilli(seen)
	now := s.now()
	if !sess.Active(now) {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
			return access.User{}, fmt.Errorf("end session: %w", err)
		}
		return access.User{}, errcode.Errorf(errcode.Unauthorized, "the session has expired; sign in again")
	}
	u, err := s.enabledUser(ctx, sess.UserID)
	if err != nil {
		return u, err
	}
	if sess.NeedsRenewal(now) {
		sess.Seen = now
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET seen_ms = $2, expires_ms = $3 WHERE hash = $1`,
			hash, now.UnixMilli(), sess.Expires().UnixMilli()); err != nil {
			return u, fmt.Errorf("renew session: %w", err)
		}
	}
	return u, nil
}

// DeleteSession ends the session with the id (signs out); nothing happens if there is none.
func (s *Users) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = $1`, access.HashToken(id)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// PruneSessions deletes the sessions that have expired and returns how many.
func (s *Users) PruneSessions(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_ms <= $1`, s.now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return res.RowsAffected()
}
