package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/vitalwatch/vitalwatch/errcode"
)

// Password rules.
const (
	MinPasswordLength = 12   // characters (OWASP ASVS 2.1.1)
	MaxPasswordLength = 1024 // bytes: enough for any passphrase, little for a denial of service
)

// The argon2id parameters of new hashes: OWASP's first recommended set (m=19 MiB, t=2, p=1).
// A hash keeps the parameters it was made with, so these can be raised later.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// CheckPasswordRules returns Invalid when password is too short or too long to be set.
func CheckPasswordRules(password string) error {
	if n := utf8.RuneCountInString(password); n < MinPasswordLength {
		return errcode.FieldErrorf(errcode.Invalid, "password", "a password needs at least %d characters, this one has %d", MinPasswordLength, n)
	}
	if len(password) > MaxPasswordLength {
		return errcode.FieldErrorf(errcode.Invalid, "password", "a password may have at most %d bytes", MaxPasswordLength)
	}
	return nil
}

// HashPassword returns the argon2id hash of password in the PHC string format,
// $argon2id$v=19$m=19456,t=2,p=1$salt$key (salt and key in unpadded base64). It refuses a
// password that breaks the rules (CheckPasswordRules).
func HashPassword(password string) (string, error) {
	if err := CheckPasswordRules(password); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// dummySalt is the salt of the hash CheckPassword computes when there is nothing to compare.
var dummySalt = make([]byte, argonSaltLen)

// CheckPassword reports whether password matches hash, comparing in constant time. When hash
// is empty or malformed (an unknown user, a user without a password) it still computes one
// hash at the default cost before it says no, so that the answer takes about as long whether
// or not the user exists.
func CheckPassword(hash, password string) bool {
	p, ok := parseArgon2id(hash)
	if !ok || len(password) > MaxPasswordLength {
		argon2.IDKey([]byte(password), dummySalt, argonTime, argonMemory, argonThreads, argonKeyLen)
		return false
	}
	got := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(got, p.key) == 1
}

type argon2Params struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseArgon2id reads a hash made by HashPassword. Parameters far beyond the defaults are
// refused: a hash must not be able to make a check take seconds or gigabytes.
func parseArgon2id(hash string) (argon2Params, bool) {
	var p argon2Params
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=...,t=...,p=...", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, false
	}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &threads); err != nil || n != 3 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.memory, p.time, threads) {
		return p, false
	}
	if p.memory < 1024 || p.memory > 1<<20 || p.time < 1 || p.time > 16 || threads < 1 || threads > 16 {
		return p, false
	}
	p.threads = uint8(threads)
	var err1, err2 error
	p.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	p.key, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(p.salt) < 8 || len(p.key) < 16 || len(p.key) > 64 {
		return p, false
	}
	return p, true
}

// NewPassword returns a random password of 24 characters (144 bits), for a user whose first
// password is made for them.
func NewPassword() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
