// Package errcode is the error vocabulary shared by the domain packages, the store and the API:
// an Error carries a Code the caller can act on and a Message fit to show them. The API maps
// each code to one HTTP status (api/errors.go); anything that is not an *Error is internal.
package errcode

import (
	"errors"
	"fmt"
)

// Codes of an Error. The API answers each with one HTTP status.
const (
	Invalid      = "invalid"      // bad input, or a reference to something that does not exist
	NotFound     = "not_found"    // the thing the call is about does not exist
	Conflict     = "conflict"     // the change clashes with what exists, e.g. a duplicate id
	Unauthorized = "unauthorized" // no or wrong credentials
	Forbidden    = "forbidden"    // credentials fine, access not allowed
	Unavailable  = "unavailable"  // a dependency is down or not configured
	Internal     = "internal"     // anything else; its detail stays in the log
)

// Error is an error with a code from the list above and a message for the caller.
type Error struct {
	Code    string
	Message string
	// Field, when set, names the input field that is wrong (such as "note" or "for"), so that a
	// form can show the message next to it.
	Field string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error with code and a formatted message about the input field field.
func FieldErrorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Field: field}
}

// Of returns the code of the *Error that err is or wraps, or "" when there is none.
func Of(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Root returns the innermost error that err wraps through Unwrap() error: what a server logs
// above debug, since the wrapping may name what was asked for, such as a patient's id.
func Root(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
