package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/errcode"
)

// Codes the API adds to errcode's, for conditions that only HTTP has.
const (
	CodeTooManyRequests = "too_many_requests" // too many failed sign-ins: wait as Retry-After says
	// CodeUnsupportedMediaType: a body that is not sent as application/json (or has no
	// Content-Type) where the API takes JSON.
	CodeUnsupportedMediaType = "unsupported_media_type"
)

// codeStatus maps each error code to its HTTP status. It is the only place where a code meets
// HTTP: handlers and the packages below them return *errcode.Error and never choose a status.
var codeStatus = map[string]int{
	errcode.Invalid:          http.StatusBadRequest,
	errcode.Unauthorized:     http.StatusUnauthorized,
	errcode.Forbidden:        http.StatusForbidden,
	errcode.NotFound:         http.StatusNotFound,
	errcode.Conflict:         http.StatusConflict,
	CodeTooManyRequests:      http.StatusTooManyRequests,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	errcode.Unavailable:      http.StatusServiceUnavailable,
	errcode.Internal:         http.StatusInternalServerError,
}

// errorJSON is an error as the API answers it: {"error": {"code", "message", "field"}}, where
// field, when present, names the input field that is wrong.
type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// apiError returns an *errcode.Error with code and msg.
func apiError(code, msg string) *errcode.Error { return &errcode.Error{Code: code, Message: msg} }

// invalid returns an *errcode.Error for a bad request.
func invalid(msg string) *errcode.Error { return apiError(errcode.Invalid, msg) }

// invalidField returns an *errcode.Error for a bad request whose field names the input at fault.
func invalidField(field, msg string) *errcode.Error {
	return &errcode.Error{Code: errcode.Invalid, Message: msg, Field: field}
}

// writeError writes err as {"error": {"code", "message", "field"}}. An *errcode.Error with a code in
// codeStatus keeps its message under its code. Other errors are internal: their text stays in
// the log, not in the response.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *errcode.Error
	status, ok := 0, false
	if errors.As(err, &e) {
		status, ok = codeStatus[e.Code]
	}
	if !ok {
		// The route's pattern, not its path: a path can hold a patient's id, which stays out
		// of logs above debug.
		// Likewise the error's root cause, not its wrapping, which names what was asked for.
		a.log.Error("request failed", "method", r.Method, "route", routePattern(r), "err", errcode.Root(err))
		a.log.Debug("request failed", "path", r.URL.Path, "err", err)
		e, status = apiError(errcode.Internal, "internal error"), http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]errorJSON{"error": {Code: e.Code, Message: e.Message, Field: e.Field}})
}

// writeJSON writes v as compact JSON: indenting a large answer (a year of the burden by
// group) costs a fifth of its time, for a reader that is nearly always a program.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
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
