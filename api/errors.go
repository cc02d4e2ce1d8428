package api

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Error codes of the API. Each maps to one HTTP status, in codeStatus and nowhere else.
const (
	CodeInvalid      = "invalid"      // the request is malformed or a parameter is out of range
	CodeUnauthorized = "unauthorized" // no or wrong credentials
	CodeForbidden    = "forbidden"    // credentials fine, access not allowed
	CodeNotFound     = "not_found"
	CodeUnavailable  = "unavailable" // a dependency is down
	CodeInternal     = "internal"
)

var codeStatus = map[string]int{
	CodeInvalid:      http.StatusBadRequest,
	CodeUnauthorized: http.StatusUnauthorized,
	CodeForbidden:    http.StatusForbidden,
	CodeNotFound:     http.StatusNotFound,
	CodeUnavailable:  http.StatusServiceUnavailable,
	CodeInternal:     http.StatusInternalServerError,
}

// Error is an API error: a code from the list above and a message for the caller.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// invalid returns an *Error for a bad request.
func invalid(msg string) *Error { return &Error{Code: CodeInvalid, Message: msg} }

// writeError writes err as {"error": {"code", "message"}}. Errors that are not *Error are
// internal: their text stays in the log, not in the response.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
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
