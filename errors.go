package relais

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes. HTTPStatus maps them to HTTP statuses.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "too_large"
)

// httpStatuses maps error codes to HTTP statuses: the one table, for the JSON API and the web pages.
var httpStatuses = map[string]int{
	ECONFLICT:     http.StatusConflict,
	EINVALID:      http.StatusBadRequest,
	ENOTFOUND:     http.StatusNotFound,
	EUNAUTHORIZED: http.StatusUnauthorized,
	EFORBIDDEN:    http.StatusForbidden,
	ETOOLARGE:     http.StatusRequestEntityTooLarge,
	EINTERNAL:     http.StatusInternalServerError,
}

// HTTPStatus returns the HTTP status of an error code; an unknown code is an internal error (500).
func HTTPStatus(code string) int {
	if st, ok := httpStatuses[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// Error is an application error: a code and a message fit for the user, in English. The format and
// arguments it was made from are kept, so that the message can be written in another language.
type Error struct {
	Code    string
	Message string

	format string
	args   []any
}

func (e *Error) Error() string {
	return fmt.Sprintf("relais error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message. An argument that is an *Error
// stands for its message, so that one error can give the reason of another.
func Errorf(code, format string, args ...any) *Error {
	shown := make([]any, len(args))
	for i, a := range args {
		if e, ok := a.(*Error); ok {
			a = e.Message
		}
		shown[i] = a
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, shown...), format: format, args: args}
}

// Template returns the format and arguments Errorf made the message from; format is "" for an Error
// built as a literal.
func (e *Error) Template() (format string, args []any) {
	return e.format, e.args
}

// ErrorCode returns the code of err's *Error, EINTERNAL for any other error, "" for nil.
func ErrorCode(err error) string { return classify(err).Code }

// ErrorMessage returns the user-facing message of err, "Internal error." for unclassified errors.
func ErrorMessage(err error) string { return classify(err).Message }

// classify returns err's *Error, an internal one for any other error, and an empty Error for nil.
func classify(err error) Error {
	var e *Error
	if err == nil {
		return Error{}
	} else if errors.As(err, &e) {
		return *e
	}
	return Error{Code: EINTERNAL, Message: "Internal error."}
}
