package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Error codes of the API. Each maps to one HTTP status, in codeStatus and nowhere else.
const (
	CodeInvalid         = "invalid"      // the request is malformed or a parameter is out of range
	CodeUnauthorized    = "unauthorized" // no or wrong credentials
	CodeForbidden       = "forbidden"    // credentials fine, access not allowed
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"          // the change clashes with what exists, e.g. a duplicate id
	CodeTooManyRequests = "too_many_requests" // too many failed sign-ins: wait as Retry-After says
	// CodeUnsupportedMediaType: a body that is not sent as application/json (or has no
	// Content-Type) where the API takes JSON.
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeUnavailable          = "unavailable" // a dependency is down
	CodeInternal             = "internal"
)

var codeStatus = map[string]int{
	CodeInvalid:              http.StatusBadRequest,
	CodeUnauthorized:         http.StatusUnauthorized,
	CodeForbidden:            http.StatusForbidden,
	CodeNotFound:             http.StatusNotFound,
	CodeConflict:             http.StatusConflict,
	CodeTooManyRequests:      http.StatusTooManyRequests,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	CodeUnavailable:          http.StatusServiceUnavailable,
	CodeInternal:             http.StatusInternalServerError,
}

// Error is an API error: a code from the list above and a message for the caller.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// registryCodes maps the registry's error codes (*devices.Error, from the store) to the API's.
var registryCodes = map[string]string{
	devices.Invalid:      CodeInvalid,
	devices.NotFound:     CodeNotFound,
	devices.Conflict:     CodeConflict,
	devices.Forbidden:    CodeForbidden,
	devices.Unauthorized: CodeUnauthorized,
}

// invalid returns an *Error for a bad request.
func invalid(msg string) *Error { return &Error{Code: CodeInvalid, Message: msg} }

// writeError writes err as {"error": {"code", "message"}}. A *devices.Error from the registry
// keeps its message under the matching code. Other errors are internal: their text stays in the
// log, not in the response.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var de *devices.Error
	if !errors.As(err, &e) && errors.As(err, &de) {
		if code, ok := registryCodes[de.Code]; ok {
			e = &Error{Code: code, Message: de.Message}
		}
	}
	if e == nil {
		// The route's pattern, not its path: a path can hold a patient's id, which stays out
		// of logs above debug.
		// Likewise the error's root cause, not its wrapping, which names what was asked for.
		a.log.Error("request failed", "method", r.Method, "route", routePattern(r), "err", rootCause(err))
		a.log.Debug("request failed", "path", r.URL.Path, "err", err)
		e = &Error{Code: CodeInternal, Message: "internal error"}
	}
	status, ok := codeStatus[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]*Error{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// routePattern is the pattern of the route that r matched, such as /api/v1/patients/{id}, or
// "unmatched".
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// rootCause is the innermost error that err wraps through Unwrap() error.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
