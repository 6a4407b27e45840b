package httpserve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Codes every server may answer with. A role adds its own; clients switch on them, so
// never rename one.
const (
	CodeNotFound         = "NOT_FOUND"          // 404: no such endpoint or thing
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED" // 405, with Allow
	CodeNotReady         = "NOT_READY"          // 503, with Retry-After
	CodeInternal         = "INTERNAL"           // 500: a fault of the server's; report it with the request id
)

// Error is the body of every refusal, inside {"error": ...}: a stable code, a message for a
// person, and the field at fault when there is one (a JSON path such as "votes.7").
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Codes maps a role's error codes to their HTTP status; a role declares one table and its
// own error type (type APIError httpserve.Error) answers from it.
type Codes map[string]int

// Status is the HTTP status of code; 400 for a code the table does not name.
func (c Codes) Status(code string) int {
	if s, ok := c[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// WriteRefusal answers status with {"error": e}, like WriteError, for a role's own error
// type of Error's shape (the console's adds the lines of a refused CSV); a 401 also asks
// for a bearer token of realm.
func WriteRefusal(w http.ResponseWriter, status int, e any, realm string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	WriteJSON(w, status, struct {
		Error any `json:"error"`
	}{e})
}

type errorBody struct {
	Error *Error `json:"error"`
}

// WriteError answers status with {"error": e}, not to be cached or sniffed.
func WriteError(w http.ResponseWriter, status int, e Error) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	WriteJSON(w, status, errorBody{&e})
}

// WriteJSON answers status with v as JSON and a final newline, not to be cached. v must
// encode (the server's own answer types); one that does not is answered 500 INTERNAL.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(errorBody{&Error{Code: CodeInternal, Message: "the answer could not be encoded"}})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// SetRetryAfter sets Retry-After to d in whole seconds, at least one.
func SetRetryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
}

// Healthz answers 200 {"status":"ok"}: the process serves. It checks nothing else, so an
// orchestrator restarts only a process that no longer answers at all.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// NotReady is an error a Ready function returns to say how it is not ready.
type NotReady struct {
	// Status is the short state shown as "status" ("starting", "catching up"). Default
	// "not ready".
	Status string
	// Err, when set, is shown as "error".
	Err error
	// RetryAfter is the Retry-After hint. Default 2 s.
	RetryAfter time.Duration
}

func (e *NotReady) Error() string {
	s := e.Status
	if s == "" {
		s = "not ready"
	}
	if e.Err != nil {
		return s + ": " + e.Err.Error()
	}
	return s
}

func (e *NotReady) Unwrap() error { return e.Err }

// readyCheckTimeout bounds one readiness check: a probe must not hang on a dead dependency.
const readyCheckTimeout = 2 * time.Second

// Readyz answers 200 {"status":"ready"} when ready returns nil (within 2 s); otherwise 503
// {"status": ..., "error": ...} with Retry-After, taking both from a *NotReady when ready
// returns one.
func Readyz(ready func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyCheckTimeout)
		defer cancel()
		err := ready(ctx)
		if err == nil {
			WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		nr := &NotReady{Err: err}
		_ = errors.As(err, &nr)
		status, retry := nr.Status, nr.RetryAfter
		if status == "" {
			status = "not ready"
		}
		if retry <= 0 {
			retry = 2 * time.Second
		}
		body := map[string]string{"status": status}
		if nr.Err != nil {
			body["error"] = nr.Err.Error()
		}
		SetRetryAfter(w, retry)
		WriteJSON(w, http.StatusServiceUnavailable, body)
	}
}

// Metrics serves g in the Prometheus text format.
func Metrics(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// withHealth serves /healthz and /readyz (ready set) and /metrics (g set) before next.
func withHealth(next http.Handler, ready func(context.Context) error, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	if ready != nil {
		mux.HandleFunc("GET /healthz", Healthz)
		mux.Handle("GET /readyz", Readyz(ready))
	}
	if g != nil {
		mux.Handle("GET /metrics", Metrics(g))
	}
	mux.Handle("/", next)
	return mux
}
