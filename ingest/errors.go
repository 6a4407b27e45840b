package ingest

import (
	"errors"
	"fmt"
	"net/http"

	"votestream/internal/httpserve"
)

// Error codes. They are part of the API (volunteers' apps switch on them): never rename
// one; add new ones. Each maps to one HTTP status.
const (
	CodeMalformedJSON    = "MALFORMED_JSON"    // 400: not JSON, or trailing data after it
	CodeUnknownField     = "UNKNOWN_FIELD"     // 400: a field the schema does not have
	CodeWrongType        = "WRONG_TYPE"        // 400: a field of the wrong JSON type, or a fraction or huge number for a count
	CodeMissingField     = "MISSING_FIELD"     // 400: a required field absent or null
	CodeInvalidValue     = "INVALID_VALUE"     // 400: a value of the right type but the wrong form (id, enum, time, hash)
	CodeNegativeNumber   = "NEGATIVE_NUMBER"   // 400: a count below zero
	CodeUnknownStation   = "UNKNOWN_STATION"   // 422: station_id not in the reference data
	CodeNotOnBallot      = "NOT_ON_BALLOT"     // 422: a votes key that is no candidate (party) number on that station's ballot
	CodeAboveEligible    = "ABOVE_ELIGIBLE"    // 422: a count above the station's eligible voters
	CodeCountedAtFuture  = "COUNTED_AT_FUTURE" // 422: counted_at later than now plus the allowed clock skew
	CodeBatchTooLarge    = "BATCH_TOO_LARGE"   // 400: more items than the batch limit, or none
	CodeBodyTooLarge     = "BODY_TOO_LARGE"    // 413
	CodeIncompleteBody   = "INCOMPLETE_BODY"   // 400: the body could not be read whole (connection cut)
	CodeUnsupportedMedia = "UNSUPPORTED_MEDIA" // 415: not JSON (or, for evidence, not JPEG or PNG)
	CodeHashMismatch     = "HASH_MISMATCH"     // 400: evidence content does not hash to its name
	CodeUnauthenticated  = "UNAUTHENTICATED"   // 401: no token, or a forged or malformed one
	CodeTokenExpired     = "TOKEN_EXPIRED"     // 401
	CodeTokenRevoked     = "TOKEN_REVOKED"     // 401
	CodeForbiddenRole    = "FORBIDDEN_ROLE"    // 403: the token's role may not use this endpoint
	CodeOutOfScope       = "OUT_OF_SCOPE"      // 403: a station outside the token's scope
	CodeConsoleOnly      = "CONSOLE_ONLY"      // 403: a lead's or the war room's decision not signed by the review console
	CodeIDConflict       = "ID_CONFLICT"       // 409: the id was already accepted with a different body
	CodeRateLimited      = "RATE_LIMITED"      // 429, with Retry-After
	CodeKafkaUnavailable = "KAFKA_UNAVAILABLE" // 503, with Retry-After: not acknowledged in time; retry with the same id
	CodeStoreUnavailable = "STORE_UNAVAILABLE" // 503, with Retry-After: the evidence store failed
	CodeStarting         = "STARTING"          // 503, with Retry-After: ingest is reloading the ids it accepted before a restart
	CodeNotActivated     = "NOT_ACTIVATED"     // 403: a personal link's token not yet opened on its phone
	CodeDeviceProof      = "DEVICE_PROOF"      // 401: a personal link's token without its phone's proof (the link is in use elsewhere)
	CodeLinkUsed         = "LINK_USED"         // 409: the personal link was already opened on another phone
	CodeStationFull      = "STATION_FULL"      // 409: the station already has its cap of volunteers who claimed it
	CodeNotFound         = "NOT_FOUND"         // 404
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
)

var codeStatus = httpserve.Codes{
	CodeMalformedJSON:    http.StatusBadRequest,
	CodeUnknownField:     http.StatusBadRequest,
	CodeWrongType:        http.StatusBadRequest,
	CodeMissingField:     http.StatusBadRequest,
	CodeInvalidValue:     http.StatusBadRequest,
	CodeNegativeNumber:   http.StatusBadRequest,
	CodeUnknownStation:   http.StatusUnprocessableEntity,
	CodeNotOnBallot:      http.StatusUnprocessableEntity,
	CodeAboveEligible:    http.StatusUnprocessableEntity,
	CodeCountedAtFuture:  http.StatusUnprocessableEntity,
	CodeBatchTooLarge:    http.StatusBadRequest,
	CodeBodyTooLarge:     http.StatusRequestEntityTooLarge,
	CodeIncompleteBody:   http.StatusBadRequest,
	CodeUnsupportedMedia: http.StatusUnsupportedMediaType,
	CodeHashMismatch:     http.StatusBadRequest,
	CodeUnauthenticated:  http.StatusUnauthorized,
	CodeTokenExpired:     http.StatusUnauthorized,
	CodeTokenRevoked:     http.StatusUnauthorized,
	CodeForbiddenRole:    http.StatusForbidden,
	CodeOutOfScope:       http.StatusForbidden,
	CodeConsoleOnly:      http.StatusForbidden,
	CodeIDConflict:       http.StatusConflict,
	CodeRateLimited:      http.StatusTooManyRequests,
	CodeKafkaUnavailable: http.StatusServiceUnavailable,
	CodeStoreUnavailable: http.StatusServiceUnavailable,
	CodeStarting:         http.StatusServiceUnavailable,
	CodeNotActivated:     http.StatusForbidden,
	CodeDeviceProof:      http.StatusUnauthorized,
	CodeLinkUsed:         http.StatusConflict,
	CodeStationFull:      http.StatusConflict,
	CodeNotFound:         http.StatusNotFound,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
}

// Sentinel errors of the package.
var (
	ErrNoStations   = errors.New("ingest: reference data lists no polling stations")
	ErrNotIndexed   = errors.New("ingest: country is not indexed")
	ErrHashMismatch = errors.New("ingest: evidence content does not match its hash")
)

// APIError is one refusal: a stable code, a message for a person, and the field at fault
// when there is one (a JSON path such as "votes.7").
type APIError httpserve.Error

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Status is the HTTP status of the error's code.
func (e *APIError) Status() int { return codeStatus.Status(e.Code) }

func apiErr(code, field, format string, args ...any) *APIError {
	return &APIError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON of a refused request: {"error": {...}}.
type errorBody struct {
	Error *APIError `json:"error"`
}
