package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Signing in. The web UI signs in with a username and password at POST /api/v1/login, which
// sets the session cookie; integrations present an API token as Authorization: Bearer vwt_...
// Either way UserAuth turns the credentials into the principal of an enabled user.

// SessionCookie is the cookie that carries a web session's id.
const SessionCookie = "vw_session"

// Sign-in limits (OWASP authentication cheat sheet: throttle failed attempts per account and per
// client). The counts live in memory, per instance.
const (
	failuresPerUsername = 5
	failuresPerAddr     = 20
	failureWindow       = 15 * time.Minute
	limiterKeys         = 10000 // usernames or addresses remembered at most, each
	// concurrentHashes bounds the password checks run at once: each takes 19 MiB for tens of
	// milliseconds, so a flood of sign-ins waits here rather than exhausting memory.
	concurrentHashes = 4
)

// Credentials is what UserAuth needs of the store (package store implements it): the enabled user
// behind an API token or a session id, or an *errcode.Error Unauthorized.
type Credentials interface {
	UserByToken(ctx context.Context, token string) (access.User, error)
	UserBySession(ctx context.Context, id string) (access.User, error)
}

// UserAuth is the Authenticator of people and integrations: a bearer API token, or else the
// session cookie, names an enabled user, whose role and memberships make the principal.
type UserAuth struct {
	creds Credentials
	log   *slog.Logger
}

// NewUserAuth returns an authenticator that checks credentials against creds.
func NewUserAuth(creds Credentials, log *slog.Logger) *UserAuth {
	return &UserAuth{creds: creds, log: log.With("component", "auth")}
}

// Authenticate implements Authenticator.
func (ua *UserAuth) Authenticate(r *http.Request) (*access.Principal, error) {
	var user access.User
	var err error
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return nil, apiError(errcode.Unauthorized, "Authorization: send Bearer and an API token")
		}
		user, err = ua.creds.UserByToken(r.Context(), strings.TrimSpace(token))
	} else if c, cerr := r.Cookie(SessionCookie); cerr == nil && c.Value != "" {
		user, err = ua.creds.UserBySession(r.Context(), c.Value)
	} else {
		return nil, nil
	}
	var de *errcode.Error
	switch {
	case errors.As(err, &de) && de.Code == errcode.Unauthorized:
		return nil, apiError(errcode.Unauthorized, de.Message)
	case err != nil:
		ua.log.Error("checking credentials", "err", err)
		return nil, apiError(errcode.Unavailable, "credentials cannot be checked now; try again")
	case user.Disabled: // the store refuses these already
		return nil, apiError(errcode.Unauthorized, "the account is disabled")
	}
	return user.Principal(), nil
}

// signIn serves POST /api/v1/login, with the counts of recent failures that throttle it.
type signIn struct {
	a       *API
	byName  *access.Limiter
	byAddr  *access.Limiter
	hashing chan struct{}
	now     func() time.Time
}

func newSignIn(a *API) *signIn {
	return &signIn{a: a,
		byName:  access.NewLimiter(failuresPerUsername, failureWindow, limiterKeys),
		byAddr:  access.NewLimiter(failuresPerAddr, failureWindow, limiterKeys),
		hashing: make(chan struct{}, concurrentHashes),
		now:     time.Now,
	}
}

// loginJSON is the body of POST /api/v1/login.
type loginJSON struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// wrongCredentials is the one answer to an unknown username and a wrong password, so that the
// answer does not tell which usernames exist.
var wrongCredentials = apiError(errcode.Unauthorized, "wrong username or password")

// login checks a username and password and starts a session: 200 with the user and the session
// cookie. A failure is 401 whether the username exists or not, after about the same time; too
// many failures for the username or from the client's address are 429 with Retry-After.
func (s *signIn) login(c *call) error {
	a, users := s.a, s.a.opts.Users
	var body loginJSON
	if _, err := c.decode(&body); err != nil {
		return err
	}
	username, addr := strings.ToLower(strings.TrimSpace(body.Username)), clientAddr(c.Request)
	log := a.log.With("username", username, "addr", addr)
	now := s.now()
	// Both counts are taken before the password is checked, so that attempts sent at once
	// cannot all get in before the first has failed.
	if wait, ok := s.byAddr.Take(addr, now); !ok {
		log.Warn("sign-in refused: too many failures from the address")
		return tooMany(c.w, wait)
	}
	if wait, ok := s.byName.Take(username, now); !ok {
		s.byAddr.Forgive(addr)
		log.Warn("sign-in refused: too many failures for the username")
		return tooMany(c.w, wait)
	}

	u, err := users.GetUserByUsername(c.Context(), username)
	if err != nil && errcode.Of(err) != errcode.NotFound {
		s.byAddr.Forgive(addr)
		s.byName.Forgive(username)
		return err
	}
	known := err == nil
	hash := ""
	if known {
		hash = u.PasswordHash // empty for token-only users: CheckPassword then says no, as slowly
	}
	select {
	case s.hashing <- struct{}{}:
	case <-c.Context().Done():
		return nil // the client has gone: there is no one to answer
	}
	ok := access.CheckPassword(hash, body.Password)
	<-s.hashing
	if !ok || !known {
		log.Warn("sign-in failed", "known_user", known)
		return wrongCredentials
	}
	if u.Disabled {
		log.Warn("sign-in refused: the account is disabled")
		return apiError(errcode.Unauthorized, "the account is disabled")
	}
	s.byName.Reset(username)
	s.byAddr.Forgive(addr)

	// A new session each time; the one the browser held, if any, ends.
	if old, err := c.Cookie(SessionCookie); err == nil && old.Value != "" {
		if err := users.DeleteSession(c.Context(), old.Value); err != nil {
			log.Warn("ending the previous session", "err", err)
		}
	}
	id, expires, err := users.CreateSession(c.Context(), u.ID)
	if err != nil {
		return err
	}
	http.SetCookie(c.w, sessionCookie(id, expires))
	log.Info("signed in", "user", u.ID)
	return c.reply(userOut(u))
}

// tooMany is the 429, saying in Retry-After how many seconds to wait.
func tooMany(w http.ResponseWriter, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return apiError(CodeTooManyRequests, fmt.Sprintf("too many failed sign-ins; try again in %d minutes", (secs+59)/60))
}

// sessionCookie is the session cookie with the id, or (empty id) one that removes it. The
// browser sends it only to this site (SameSite=Strict, which also stops cross-site requests
// from using it), only over HTTPS (Secure; browsers treat http://localhost as secure too), and
// never shows it to scripts (HttpOnly).
func sessionCookie(id string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: SessionCookie, Value: id, Path: "/", Expires: expires,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
	if id == "" {
		c.MaxAge = -1
	}
	return c
}

// logout ends the session of the request's cookie and removes the cookie.
func (a *API) logout(c *call) error {
	if ck, err := c.Cookie(SessionCookie); err == nil && ck.Value != "" && a.opts.Users != nil {
		if err := a.opts.Users.DeleteSession(c.Context(), ck.Value); err != nil {
			return err
		}
	}
	http.SetCookie(c.w, sessionCookie("", time.Time{}))
	return c.reply(nil)
}

// clientAddr is the key under which failed sign-ins from the request's client are counted: its
// IP address, or for IPv6 its /64 network, which one client usually holds whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
	}
	return ip.String()
}
