package reading

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// encoding/json matches an object key to a struct field case-insensitively (by Unicode simple
// folding: "VALUE", "Value" and "ſystolic" all set the field of "value" or "systolic") and lets a
// later key override an earlier one. So {"value": 6.2, "VALUE": 31} would store 31, and a payload
// could carry two values of which a log, a gateway or another consumer reads one and the platform
// the other. The keys of the device contract are exact: checkKeys rejects a payload in which an
// object of the contract (the message, each reading, each SenML record, a status) has a key that
// is a case variant of one of its keys, or has any key twice.
//
// It runs after json.Unmarshal has accepted the payload, so it may assume valid JSON, and it is
// one pass over the bytes that allocates nothing unless a key is escaped or an object has many
// unknown keys: a small part of the cost of decoding.

// objectKeys are the keys of one kind of object of the contract, taken from the json tags of
// the struct it decodes into, so that the two cannot drift apart.
type objectKeys struct {
	names []string
	// where names an object in a rejection detail: "", "reading", "SenML record".
	where string
	// items, when set, is the key whose value is an array of objects of kind elem (readings).
	items string
	elem  *objectKeys
}

// The object kinds of the contract. They are read-only after package initialisation.
var (
	readingKeys   = &objectKeys{names: jsonKeys(telemetryReading{}), where: "reading"}
	telemetryKeys = &objectKeys{names: jsonKeys(telemetry{}), items: "readings", elem: readingKeys}
	senmlKeys     = &objectKeys{names: jsonKeys(senmlRecord{}), where: "SenML record"}
	senmlPackKeys = &objectKeys{elem: senmlKeys} // the pack is an array of records
	statusKeys    = &objectKeys{names: jsonKeys(status{})}
)

// jsonKeys returns the JSON keys of the fields of the struct v.
func jsonKeys(v any) []string {
	t := reflect.TypeOf(v)
	var keys []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	if len(keys) > 64 {
		panic("reading: more keys than a uint64 of seen bits holds")
	}
	return keys
}

// checkKeys checks the keys of payload, valid JSON whose top level is an object of kind top,
// or an array of objects of kind top.elem when top has no names (a SenML pack).
func checkKeys(payload []byte, top *objectKeys) fault {
	s := keyScanner{b: payload}
	s.space()
	if top.names == nil {
		return s.array(top.elem)
	}
	if s.peek() != '{' {
		return fault{} // null: reported by the decoder
	}
	return s.object(top, -1)
}

// keyScanner walks valid JSON.
type keyScanner struct {
	b []byte
	i int
}

func (s *keyScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *keyScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// array checks the objects of the array at s.i as objects of kind elem; other elements are
// skipped.
func (s *keyScanner) array(elem *objectKeys) fault {
	if s.peek() != '[' {
		s.skipValue()
		return fault{}
	}
	s.i++
	for n := 0; ; n++ {
		s.space()
		switch s.peek() {
		case ']':
			s.i++
			return fault{}
		case ',':
			s.i++
			s.space()
		}
		if s.peek() == ']' { // not after a ',' in valid JSON; kept for safety
			s.i++
			return fault{}
		}
		if s.peek() == '{' {
			if f := s.object(elem, n); f.reason != "" {
				return f
			}
			continue
		}
		if s.i >= len(s.b) {
			return fault{}
		}
		s.skipValue()
	}
}

// object checks the keys of the object at s.i, of kind k and at index (in its array, or -1).
func (s *keyScanner) object(k *objectKeys, index int) fault {
	s.i++ // '{'
	var (
		seen    uint64   // the keys of k seen so far, by their index in k.names
		unknown [][]byte // the other keys seen, while they are few
		many    map[string]struct{}
		buf     [8][]byte
	)
	unknown = buf[:0]
	for {
		s.space()
		switch s.peek() {
		case '}':
			s.i++
			return fault{}
		case ',':
			s.i++
			s.space()
		}
		if s.peek() != '"' {
			return fault{} // the end of the payload: not reached with valid JSON
		}
		key := s.key()
		s.space()
		s.i++ // ':'
		s.space()

		known := -1
		for j, name := range k.names {
			if string(key) == name {
				known = j
				break
			}
		}
		switch {
		case known >= 0 && seen&(1<<known) != 0:
			return k.fault(index, fmt.Sprintf("duplicate key %q", k.names[known]))
		case known >= 0:
			seen |= 1 << known
		default:
			for _, name := range k.names {
				if bytes.EqualFold(key, []byte(name)) {
					return k.fault(index, fmt.Sprintf("key %q is a case variant of %q; the keys of the device contract are case-sensitive", shorten(string(key)), name))
				}
			}
			// An unknown key is ignored, but not twice: which of two values a later version
			// of the platform would read is not for the payload to leave open.
			if many == nil && len(unknown) < cap(buf) {
				for _, u := range unknown {
					if bytes.Equal(u, key) {
						return k.fault(index, fmt.Sprintf("duplicate key %q", shorten(string(key))))
					}
				}
				unknown = append(unknown, key)
				break
			}
			if many == nil {
				many = make(map[string]struct{}, 2*len(unknown))
				for _, u := range unknown {
					many[string(u)] = struct{}{}
				}
			}
			if _, dup := many[string(key)]; dup {
				return k.fault(index, fmt.Sprintf("duplicate key %q", shorten(string(key))))
			}
			many[string(key)] = struct{}{}
		}

		if known >= 0 && k.elem != nil && k.names[known] == k.items {
			if f := s.array(k.elem); f.reason != "" {
				return f
			}
			continue
		}
		s.skipValue()
	}
}

// fault is the rejection of a key of an object of kind k at index.
func (k *objectKeys) fault(index int, detail string) fault {
	if k.where != "" {
		detail = fmt.Sprintf("%s %d: %s", k.where, index, detail)
	}
	return fault{ReasonInvalidField, detail}
}

// key reads the string at s.i and returns its value as encoding/json reads it: the bytes
// between the quotes, or, when the key has escapes (rare), the unescaped string.
func (s *keyScanner) key() []byte {
	start := s.i
	s.skipString()
	raw := s.b[start:s.i]
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	var k string
	if json.Unmarshal(raw, &k) != nil {
		return inner
	}
	return []byte(k)
}

// skipString moves past the string at s.i.
func (s *keyScanner) skipString() {
	s.i++ // '"'
	for {
		q := bytes.IndexByte(s.b[s.i:], '"')
		if q < 0 {
			s.i = len(s.b)
			return
		}
		s.i += q + 1
		// The quote ends the string unless an odd number of backslashes escape it.
		escapes := 0
		for j := s.i - 2; j >= 0 && s.b[j] == '\\'; j-- {
			escapes++
		}
		if escapes%2 == 0 {
			return
		}
	}
}

// skipValue moves past the value at s.i.
func (s *keyScanner) skipValue() {
	switch s.peek() {
	case '"':
		s.skipString()
		return
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				s.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return
				}
			}
			s.i++
		}
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return
		}
		s.i++
	}
}
