package config

import (
	"encoding/json"
	"io"
	"net/url"
	"regexp"
)

// Print writes the effective configuration as JSON with secrets hidden.
func Print(w io.Writer, cfg *Config) error {
	c := *cfg
	if c.Broker.Password != "" {
		c.Broker.Password = "(set)"
	}
	if c.Influx.Token != "" {
		c.Influx.Token = "(set)"
	}
	c.Store.DSN = redactDSN(c.Store.DSN)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// redactDSN hides the password of a postgres:// URL (as xxxxx) or of a key=value DSN.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsnPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// dsnPassword is the password of a key=value DSN, quoted or not.
var dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
