package reading

// maxIDLen is the longest device or patient id.
const maxIDLen = 64

// ValidID reports whether s can be an id: 1-64 characters of [A-Za-z0-9._:-]. It is the one rule
// for ids, of the device contract (devices and patients in topics and payloads) and of the
// registry (sites, teams, users too). Ids appear in MQTT topics, InfluxDB tags and logs, so the
// set excludes separators, wildcards, spaces and anything that needs escaping.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '.' || c == '_' || c == ':' || c == '-'
}
