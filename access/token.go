package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vitalwatch/vitalwatch/errcode"
)

// TokenPrefix starts every API token, so that a leaked one is easy to recognise (and for
// secret scanners to find).
const TokenPrefix = "vwt_"

// Token is an API token as the store keeps it: its name and dates, never the token itself.
type Token struct {
	ID       string
	UserID   string
	Name     string // what it is for, e.g. "hospital-sync"
	Created  time.Time
	LastUsed time.Time // zero: never used; updated at most once a minute
	Revoked  time.Time // zero: still valid
}

// NewToken returns a new API token: TokenPrefix and 32 random bytes in unpadded base64url. It is
// shown once; only HashToken of it is stored.
func NewToken() string { return TokenPrefix + randomString(32) }

// NewSessionID returns a new session id, the value of the session cookie: 32 random bytes in
// unpadded base64url. Only HashToken of it is stored.
func NewSessionID() string { return randomString(32) }

// HashToken returns the hex SHA-256 of a token or a session id, the form in which the store
// keeps them. Both are 256 random bits, so a fast hash suffices: no one can guess one from it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CheckTokenName returns Invalid unless name can name a token: 1-100 printable characters.
func CheckTokenName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 100 || !utf8.ValidString(name) ||
		strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return errcode.FieldErrorf(errcode.Invalid, "name", "a token name must be 1-100 printable characters")
	}
	return nil
}

// How long a sign-in lasts (OWASP session management: an absolute and an idle timeout).
const (
	SessionLifetime = 12 * time.Hour   // from sign-in, however active
	SessionIdle     = 30 * time.Minute // without a request
	// SessionRenewal is how often at most a session's last use is written: often enough for
	// the idle timeout, rarely enough that a busy UI does not write on every request.
	SessionRenewal = time.Minute
)

// Session is a sign-in to the web UI. Its id is the cookie, which the store keeps only hashed.
type Session struct {
	UserID  string
	Created time.Time
	Seen    time.Time // last use, to SessionRenewal's precision
}

// Expires returns when the session ends if it is not used again.
func (s Session) Expires() time.Time {
	end, idle := s.Created.Add(SessionLifetime), s.Seen.Add(SessionIdle)
	if idle.Before(end) {
		return idle
	}
	return end
}

// Active reports whether the session is still good at now.
func (s Session) Active(now time.Time) bool { return now.Before(s.Expires()) }

// NeedsRenewal reports whether a use at now should be written as the session's last use.
func (s Session) NeedsRenewal(now time.Time) bool { return now.Sub(s.Seen) >= SessionRenewal }
