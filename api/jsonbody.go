package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxJSONBody bounds a JSON request body.
const maxJSONBody = 1 << 20

// decodeBody reads the request's JSON object into dst, a pointer to a struct with json tags,
// strictly: a body not sent as application/json is a 415 (see jsonContentType); anything but one
// JSON object, an unknown field, a field given twice, a field of the wrong type, or a field named
// in fixed (with the reason it cannot be set here) is a 400 that names what is wrong. Only the
// fields present are written, so dst may hold the current values for a PATCH; a field given as
// null is set to its zero value. An empty body is an empty object. It returns the names of the
// fields present.
func decodeBody(r *http.Request, dst any, fixed map[string]string) (map[string]bool, error) {
	ct := r.Header.Get("Content-Type")
	if err := jsonContentType(ct, r.ContentLength != 0); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, invalid(fmt.Sprintf("body: larger than %d bytes", maxJSONBody))
		}
		return nil, invalid("body: " + err.Error())
	}
	if ct == "" && len(body) > 0 { // a body of unknown length (chunked) that was not empty after all
		return nil, jsonContentType(ct, true)
	}
	has := map[string]bool{}
	if len(bytes.TrimSpace(body)) == 0 {
		return has, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, invalid(fmt.Sprintf("body: malformed JSON at byte %d: %v", syntax.Offset, syntax))
		}
		return nil, invalid("body: must be a JSON object")
	}
	if k, ok := duplicateKey(body); ok {
		return nil, invalidField(k, fmt.Sprintf("%s: given twice", strconv.Quote(k)))
	}
	v := reflect.ValueOf(dst).Elem()
	fields := map[string]jsonField{}
	var names []string
	for _, f := range jsonFields(v.Type()) {
		fields[f.name] = f
		if _, ok := fixed[f.name]; !ok {
			names = append(names, f.name)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if why, ok := fixed[k]; ok {
			return nil, invalidField(k, k+": "+why)
		}
		f, ok := fields[k]
		if !ok && len(names) == 0 {
			return nil, invalidField(k, fmt.Sprintf("unknown field %q; this request takes no body", k))
		}
		if !ok {
			return nil, invalidField(k, fmt.Sprintf("unknown field %q; the fields are %s", k, strings.Join(names, ", ")))
		}
		dst := v.FieldByIndex(f.index)
		if raw := bytes.TrimSpace(obj[k]); string(raw) == "null" {
			dst.SetZero()
		} else if err := json.Unmarshal(raw, dst.Addr().Interface()); err != nil {
			return nil, invalidField(k, k+": want "+describeType(f.typ))
		}
		has[k] = true
	}
	return has, nil
}

// jsonContentType checks the Content-Type ct of a request that may have a body (hasBody: its
// length is not known to be 0). A body is JSON only when the client says so: a body without a
// Content-Type is refused as one with another type is, since both are what a web page can make a
// signed-in browser send cross-site without asking first (a CORS "simple" request), which
// application/json is not. JSON is UTF-8 (RFC 8259), so another charset is refused too. A request
// without a body needs no Content-Type. The refusal is a 415 that names what is wrong.
func jsonContentType(ct string, hasBody bool) error {
	if ct == "" {
		if !hasBody {
			return nil
		}
		return apiError(CodeUnsupportedMediaType, "Content-Type: send the body as application/json; the request has no Content-Type")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return apiError(CodeUnsupportedMediaType, "Content-Type: send the body as application/json, not "+strconv.Quote(ct))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return apiError(CodeUnsupportedMediaType, "Content-Type: JSON is UTF-8, not "+strconv.Quote(cs))
	}
	return nil
}

// duplicateKey returns a key that the JSON object body (valid) has twice. encoding/json keeps
// the last value of a repeated key, where a proxy, a log or an audit may read the first: the
// request would not say one thing.
func duplicateKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		k, isKey := t.(string)
		if err != nil || !isKey {
			return "", false
		}
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return "", false
		}
	}
	return "", false
}

// required returns a 400 naming the first of names that is not in has.
func required(has map[string]bool, names ...string) error {
	for _, n := range names {
		if !has[n] {
			return invalidField(n, n+": required")
		}
	}
	return nil
}

// jsonField is a struct field as encoding/json sees it.
type jsonField struct {
	name     string
	index    []int
	typ      reflect.Type
	optional bool // omitempty or omitzero: absent from output when empty
}

// jsonFields lists the JSON fields of struct type t, with those of embedded structs inlined.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || !sf.IsExported() && !sf.Anonymous {
			continue
		}
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			for _, f := range jsonFields(sf.Type) {
				f.index = append([]int{i}, f.index...)
				out = append(out, f)
			}
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, jsonField{name: name, index: []int{i}, typ: sf.Type,
			optional: strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")})
	}
	return out
}

// describeType says in words what JSON a field of type t takes.
func describeType(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time such as 2026-11-22T07:30:00+08:00"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return "an object"
}
