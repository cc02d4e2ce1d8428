package devices

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// secretIterations is the PBKDF2 iteration count of new hashes. Secrets are 192 random bits,
// so the hash need not be slow: what matters is that the stored form cannot be used to connect.
// 101 is Mosquitto's default, keeping the hash usable as is in a Mosquitto password file.
const secretIterations = 101

// NewSecret returns a fresh random device secret. It is shown once, when the device is created
// or its secret rotated, and only its hash is stored.
func NewSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret returns the secret's hash in Mosquitto's password-file format:
// $7$iterations$base64(salt)$base64(PBKDF2-SHA512(secret, salt, iterations, 64 bytes)).
func HashSecret(secret string) string {
	salt := make([]byte, 12)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha512.New, secret, salt, secretIterations, sha512.Size)
	if err != nil {
		panic(fmt.Sprintf("devices: pbkdf2: %v", err)) // only for parameters FIPS mode forbids
	}
	return fmt.Sprintf("$7$%d$%s$%s", secretIterations,
		base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key))
}

// VerifySecret reports whether secret matches hash (as made by HashSecret or mosquitto_passwd).
func VerifySecret(hash, secret string) bool {
	parts := strings.Split(hash, "$")
	// "", "7", iterations, salt, key
	if len(parts) != 5 || parts[0] != "" || parts[1] != "7" {
		return false
	}
	iter, err := strconv.Atoi(parts[2])
	if err != nil || iter < 1 || iter > 1_000_000 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[3])
	want, err2 := base64.StdEncoding.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha512.New, secret, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}
