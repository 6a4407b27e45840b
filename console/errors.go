package console

import (
	"fmt"
	"net/http"

	"votestream/internal/httpserve"
)

// Error codes of the console's API, stable like ingest's (and the same names where the
// meaning is the same). Each maps to one HTTP status.
const (
	CodeUnauthenticated  = "UNAUTHENTICATED"   // 401: no token, or a forged or malformed one
	CodeTokenExpired     = "TOKEN_EXPIRED"     // 401
	CodeTokenRevoked     = "TOKEN_REVOKED"     // 401
	CodeBadCode          = "BAD_CODE"          // 401: a wrong or already used authenticator code
	CodeSessionExpired   = "SESSION_EXPIRED"   // 401: idle or absolute session limit reached
	CodeNotEnrolled      = "NOT_ENROLLED"      // 403: a privileged token whose holder has no second factor
	CodeSamePerson       = "SAME_PERSON"       // 403: the second approver of an override is its requester
	CodeConflict         = "CONFLICT"          // 409: an override already decided or expired
	CodeForbiddenRole    = "FORBIDDEN_ROLE"    // 403: a station volunteer, or a lead where only the war room may go
	CodeOutOfScope       = "OUT_OF_SCOPE"      // 403: a station or photo outside the lead's constituency
	CodeNotFound         = "NOT_FOUND"         // 404
	CodeInvalidValue     = "INVALID_VALUE"     // 400: a parameter of the wrong form
	CodeMissingField     = "MISSING_FIELD"     // 400
	CodeMalformedJSON    = "MALFORMED_JSON"    // 400
	CodeBodyTooLarge     = "BODY_TOO_LARGE"    // 413
	CodeUnsupportedMedia = "UNSUPPORTED_MEDIA" // 415
	CodeBadCSV           = "BAD_CSV"           // 422: a CSV of official figures with errors; nothing was applied
	CodeNotReady         = "NOT_READY"         // 503: the queue was not read from ClickHouse yet
	CodeUpstream         = "UPSTREAM"          // 502/503: ingest, ClickHouse or the evidence store failed
)

var codeStatus = httpserve.Codes{
	CodeUnauthenticated:  http.StatusUnauthorized,
	CodeTokenExpired:     http.StatusUnauthorized,
	CodeTokenRevoked:     http.StatusUnauthorized,
	CodeBadCode:          http.StatusUnauthorized,
	CodeSessionExpired:   http.StatusUnauthorized,
	CodeNotEnrolled:      http.StatusForbidden,
	CodeSamePerson:       http.StatusForbidden,
	CodeConflict:         http.StatusConflict,
	CodeForbiddenRole:    http.StatusForbidden,
	CodeOutOfScope:       http.StatusForbidden,
	CodeNotFound:         http.StatusNotFound,
	CodeInvalidValue:     http.StatusBadRequest,
	CodeMissingField:     http.StatusBadRequest,
	CodeMalformedJSON:    http.StatusBadRequest,
	CodeBodyTooLarge:     http.StatusRequestEntityTooLarge,
	CodeUnsupportedMedia: http.StatusUnsupportedMediaType,
	CodeBadCSV:           http.StatusUnprocessableEntity,
	CodeNotReady:         http.StatusServiceUnavailable,
	CodeUpstream:         http.StatusBadGateway,
}

// APIError is one refusal: a stable code, a message for a person, the field at fault.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Lines are the CSV errors, "file:line: message", of a refused upload.
	Lines []string `json:"lines,omitempty"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Status is the HTTP status of the error's code.
func (e *APIError) Status() int { return codeStatus.Status(e.Code) }

func apiErr(code, field, format string, args ...any) *APIError {
	return &APIError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpserve.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, e *APIError) {
	httpserve.WriteRefusal(w, e.Status(), e, "votestream console")
}
