package reading

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// The field types below decode one optional JSON value each. A value of the wrong JSON type is
// remembered (in bad) instead of failing the whole json.Unmarshal, so that one bad reading does not
// cost the good ones beside it. JSON null counts as absent. They parse inside UnmarshalJSON and keep
// no reference to the payload, as json.Unmarshaler requires.

// kind is the JSON type of a value that its field did not expect; kindOK when it was fine.
type kind uint8

const (
	kindOK kind = iota
	kindString
	kindNumber
	kindBool
	kindObject
	kindArray
)

func kindOf(c byte) kind {
	switch c {
	case '"':
		return kindString
	case '{':
		return kindObject
	case '[':
		return kindArray
	case 't', 'f':
		return kindBool
	}
	return kindNumber
}

func (k kind) String() string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	}
	return "fine"
}

// number is an optional JSON number. A literal too large for float64 decodes as ±Inf, which the
// checks reject as not finite.
type number struct {
	f   float64
	set bool
	bad kind
}

func (n *number) UnmarshalJSON(b []byte) error {
	*n = number{}
	switch k := kindOf(b[0]); {
	case b[0] == 'n':
		return nil
	case k != kindNumber:
		n.bad = k
		return nil
	}
	n.f, _ = strconv.ParseFloat(string(b), 64) // JSON's number grammar is a subset of ParseFloat's
	n.set = true
	return nil
}

// integer is an optional JSON number that must be a whole number (seq). Integral values written
// with a fraction or exponent (1e3) are accepted up to 2^53, where float64 is still exact.
type integer struct {
	i       int64
	set     bool
	invalid bool // a fraction, or outside int64
	bad     kind
}

func (n *integer) UnmarshalJSON(b []byte) error {
	*n = integer{}
	switch k := kindOf(b[0]); {
	case b[0] == 'n':
		return nil
	case k != kindNumber:
		n.bad = k
		return nil
	}
	n.set = true
	if bytes.IndexAny(b, ".eE") < 0 {
		i, err := strconv.ParseInt(string(b), 10, 64)
		n.i, n.invalid = i, err != nil
		return nil
	}
	f, _ := strconv.ParseFloat(string(b), 64)
	if f > 1<<53 || f < -(1<<53) || f != math.Trunc(f) {
		n.invalid = true
		return nil
	}
	n.i = int64(f)
	return nil
}

// boolean is an optional JSON true or false.
type boolean struct {
	v   bool
	set bool
	bad kind
}

func (v *boolean) UnmarshalJSON(b []byte) error {
	*v = boolean{}
	switch k := kindOf(b[0]); {
	case b[0] == 'n':
		return nil
	case k != kindBool:
		v.bad = k
		return nil
	}
	v.v, v.set = b[0] == 't', true
	return nil
}

// text is an optional JSON string.
type text struct {
	s   string
	set bool
	bad kind
}

func (t *text) UnmarshalJSON(b []byte) error {
	*t = text{}
	switch k := kindOf(b[0]); {
	case b[0] == 'n':
		return nil
	case k != kindString:
		t.bad = k
		return nil
	}
	t.s, t.set = unquote(b), true
	return nil
}

// unquote returns the string of the JSON string literal b. The words of the device contract
// (types, units, qualifiers) come back as constants, without an allocation.
func unquote(b []byte) string {
	inner := b[1 : len(b)-1]
	if s, ok := vocabulary[string(inner)]; ok {
		return s
	}
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil { // escapes or invalid UTF-8: rare
		return string(inner)
	}
	return s
}

// vocabulary holds the strings devices send over and over, so that decoding them does not
// allocate. It is read-only after package initialisation.
var vocabulary = func() map[string]string {
	m := make(map[string]string)
	add := func(words ...string) {
		for _, w := range words {
			m[w] = w
		}
	}
	for _, t := range Types {
		add(string(t))
	}
	add(glucoseContexts...)
	add(glucoseSources...)
	add(bpPositions...)
	add(senmlBPNames...)
	for _, t := range Types {
		add(acceptedUnits(t)...)
	}
	return m
}()

// stamp is an optional time: an RFC 3339 string or a number of Unix milliseconds, kept as Unix
// milliseconds (truncated).
type stamp struct {
	ms       int64
	set      bool
	bad      kind
	invalid  bool   // a string that is not RFC 3339
	unparsed string // that string, shortened for the rejection detail
	number   bool   // it was given as a number
}

// maxStampMs bounds numeric times so that they fit a time.Time; anything near it is rejected as
// far in the future anyway.
const maxStampMs = 1e15 // year 33658

func (s *stamp) UnmarshalJSON(b []byte) error {
	*s = stamp{}
	switch b[0] {
	case 'n':
		return nil
	case '"':
		s.set = true
		inner := b[1 : len(b)-1]
		if bytes.IndexByte(inner, '\\') >= 0 {
			inner = []byte(unquote(b))
		}
		ms, ok := parseRFC3339(inner)
		if !ok {
			s.invalid, s.unparsed = true, shorten(string(inner))
		}
		s.ms = ms
		return nil
	}
	if k := kindOf(b[0]); k != kindNumber {
		s.bad = k
		return nil
	}
	f, _ := strconv.ParseFloat(string(b), 64)
	s.ms, s.set, s.number = msFromFloat(f), true, true
	return nil
}

// msFromFloat truncates a number of milliseconds to an int64 within ±maxStampMs.
func msFromFloat(f float64) int64 {
	switch {
	case f > maxStampMs:
		return maxStampMs
	case f < -maxStampMs:
		return -maxStampMs
	case f != f: // NaN, which JSON cannot carry but arithmetic on SenML times could
		return 0
	}
	return int64(f)
}

// shorten bounds a string from a payload before it goes into a rejection detail.
func shorten(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// A payload of many tiny array elements is cheap to send and dear to decode: 64 KiB of "{}," make
// 21,000 readings, megabytes of structs and tens of milliseconds, thousands of times a typical
// message. So a payload with more commas than any array may have elements is measured first,
// with a pass that counts array elements without decoding them (see checkArraySizes).
const manyCommas = maxReadings

// elementCount decodes from a JSON array as the number of its elements; other values count 0.
type elementCount int

func (n *elementCount) UnmarshalJSON(b []byte) error {
	*n = elementCount(countElements(b))
	return nil
}

// arraySizes measures the arrays of a telemetry or status payload.
type arraySizes struct {
	Readings elementCount `json:"readings"`
	Flags    elementCount `json:"flags"`
}

// countElements returns the number of elements of the valid JSON array b, or 0 if b is not one.
func countElements(b []byte) int {
	if len(b) == 0 || b[0] != '[' || firstByte(b[1:]) == ']' {
		return 0
	}
	n, depth, inString := 1, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 1:
			n++
		}
	}
	return n
}
