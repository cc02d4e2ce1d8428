package fhir

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Resource ids. A FHIR id is 1-64 characters of A-Z a-z 0-9 - . (R4 "id" datatype), while a
// registry id is 1-64 characters of A-Z a-z 0-9 . _ : - (reading.ValidID). Each registry id maps
// to one FHIR id, the same on every request and every instance, so that a receiver that fetches
// a resource again updates it rather than adding a copy:
//
//   - letters, digits and "-" stay as they are; any other byte becomes "." and its two lower-case
//     hex digits (so "_" is ".5f", ":" is ".3a" and "." itself is ".2e"), which can be undone;
//   - an id that would then pass 64 characters (with its prefix) becomes ".h" and the first 24 hex
//     digits of the SHA-256 of the registry id; ".h" is no escape, so the two never meet. Such an
//     id is found again by comparing it with the hashed ids of the registry's rows.
//
// A reading's Observation id is its type, its time and its device (readingID), and a CGM summary's
// is the report's part, its last day, its days and its patient (summaryID).

// maxID is the longest FHIR id.
const maxID = 64

// hashMark starts an id that is a hash of the registry id.
const hashMark = ".h"

// escapeID escapes raw as the top of this file says, without the length rule.
func escapeID(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, ".%02x", c)
	}
	return b.String()
}

// hashID is the hashed form of raw.
func hashID(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hashMark + hex.EncodeToString(sum[:12])
}

// idPart is raw as the part of an id that has room for budget characters: escaped, or hashed
// when the escaped form is longer.
func idPart(raw string, budget int) string {
	if e := escapeID(raw); len(e) <= budget {
		return e
	}
	return hashID(raw)
}

// parsedPart is a registry id read back from an id: Raw when it was escaped, Hash when it was
// hashed (then Raw is empty and the caller looks the hash up).
type parsedPart struct {
	Raw  string
	Hash string
}

// Matches reports whether the registry id raw is the one p names.
func (p parsedPart) Matches(raw string) bool {
	if p.Hash != "" {
		return hashID(raw) == p.Hash
	}
	return p.Raw == raw
}

// parsePart undoes idPart; false when s is neither form.
func parsePart(s string) (parsedPart, bool) {
	if s == "" {
		return parsedPart{}, false
	}
	if h, ok := strings.CutPrefix(s, hashMark); ok {
		if len(h) != 24 || strings.Trim(h, "0123456789abcdef") != "" {
			return parsedPart{}, false
		}
		return parsedPart{Hash: s}, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if i+2 >= len(s) {
				return parsedPart{}, false
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil || s[i+1:i+3] != strings.ToLower(s[i+1:i+3]) {
				return parsedPart{}, false
			}
			b.WriteByte(byte(v))
			i += 2
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-':
			b.WriteByte(c)
		default:
			return parsedPart{}, false
		}
	}
	// An escape of a byte that needs none would give a second id for one registry id.
	if raw := b.String(); escapeID(raw) == s {
		return parsedPart{Raw: raw}, true
	}
	return parsedPart{}, false
}

// registryID is the FHIR id of a registry row, with the prefix that keeps kinds apart where one
// resource type holds several (Organization: "team-" and "site-").
func registryID(prefix, raw string) string { return prefix + idPart(raw, maxID-len(prefix)) }

// parseRegistryID undoes registryID.
func parseRegistryID(prefix, id string) (parsedPart, bool) {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok {
		return parsedPart{}, false
	}
	return parsePart(rest)
}

// Organization id prefixes: a team and a site are both an Organization.
const (
	teamPrefix = "team-"
	sitePrefix = "site-"
)

// idTime writes a measurement time, UTC to the millisecond as InfluxDB holds it, in the basic
// ISO 8601 form: 20261119T080000Z, or 20261119T080000250Z with milliseconds.
func idTime(t time.Time) string {
	t = t.UTC()
	s := t.Format("20060102T150405")
	if ms := t.Nanosecond() / int(time.Millisecond); ms != 0 {
		s += fmt.Sprintf("%03d", ms)
	}
	return s + "Z"
}

// parseIDTime undoes idTime.
func parseIDTime(s string) (time.Time, bool) {
	body, ok := strings.CutSuffix(s, "Z")
	if !ok || (len(body) != 15 && len(body) != 18) {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T150405", body[:15])
	if err != nil {
		return time.Time{}, false
	}
	if len(body) == 18 {
		ms, err := strconv.Atoi(body[15:])
		if err != nil || ms == 0 || strings.Trim(body[15:], "0123456789") != "" {
			return time.Time{}, false
		}
		t = t.Add(time.Duration(ms) * time.Millisecond)
	}
	return t, true
}

// readingID is the Observation id of the reading of typeCode (see readingKinds) measured by
// device at t: "bp-20261119T080000Z-cuff-0042".
func readingID(typeCode string, t time.Time, device string) string {
	head := typeCode + "-" + idTime(t) + "-"
	return head + idPart(device, maxID-len(head))
}

// readingKey is a reading's id read back.
type readingKey struct {
	TypeCode string
	Time     time.Time
	Device   parsedPart
}

// parseReadingID undoes readingID.
func parseReadingID(id string) (readingKey, bool) {
	parts := strings.SplitN(id, "-", 3)
	if len(parts) != 3 {
		return readingKey{}, false
	}
	t, ok := parseIDTime(parts[1])
	if !ok {
		return readingKey{}, false
	}
	dev, ok := parsePart(parts[2])
	if !ok {
		return readingKey{}, false
	}
	return readingKey{TypeCode: parts[0], Time: t, Device: dev}, true
}

// summaryPrefix starts the id of an Observation of a CGM summary.
const summaryPrefix = "cgm"

// summaryID is the id of the part of the CGM summary of patient over the days local days that end
// with the local day last: "cgm-gmi-20261118-14-P-000123".
func summaryID(part string, last time.Time, days int, patient string) string {
	head := fmt.Sprintf("%s-%s-%s-%d-", summaryPrefix, part, last.Format("20060102"), days)
	return head + idPart(patient, maxID-len(head))
}

// summaryKey is a CGM summary Observation's id read back.
type summaryKey struct {
	Part    string
	Last    time.Time // a date, at midnight UTC
	Days    int
	Patient parsedPart
}

// parseSummaryID undoes summaryID.
func parseSummaryID(id string) (summaryKey, bool) {
	parts := strings.SplitN(id, "-", 5)
	if len(parts) != 5 || parts[0] != summaryPrefix {
		return summaryKey{}, false
	}
	last, err := time.Parse("20060102", parts[2])
	if err != nil {
		return summaryKey{}, false
	}
	days, err := strconv.Atoi(parts[3])
	if err != nil || strconv.Itoa(days) != parts[3] {
		return summaryKey{}, false
	}
	p, ok := parsePart(parts[4])
	if !ok {
		return summaryKey{}, false
	}
	return summaryKey{Part: parts[1], Last: last, Days: days, Patient: p}, true
}
