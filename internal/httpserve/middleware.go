package httpserve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/internal/promreg"
)

// HeaderRequestID carries the request id: taken from the request when it holds a sane one
// (a proxy's), otherwise made here; always echoed in the response.
const HeaderRequestID = "X-Request-Id"

type ctxKey struct{}

// RequestID returns the request id of a request's context ("" outside a Server).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// idPrefix makes ids unique across restarts; the counter, within a process, without the
// cost of a random read per request.
var (
	idPrefix  = newIDPrefix()
	idCounter atomic.Uint64
)

func newIDPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newRequestID() string {
	return idPrefix + "-" + strconv.FormatUint(idCounter.Add(1), 36)
}

// saneRequestID accepts 1 to 64 characters of letters, digits and ._:- (what proxies send),
// so that a client cannot put log-breaking text into every line about its request.
func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

// Recorder is a ResponseWriter that remembers the status and the bytes written. It passes
// Flush on, and the rest (deadlines, hijacking) through Unwrap, which
// http.ResponseController follows.
type Recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// NewRecorder wraps w; a Recorder handed in is returned as it is.
func NewRecorder(w http.ResponseWriter) *Recorder {
	if rec, ok := w.(*Recorder); ok {
		return rec
	}
	return &Recorder{ResponseWriter: w}
}

// WriteHeader records the first status written.
func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush sends what is buffered (a stream needs it).
func (r *Recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if fl, ok := r.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Unwrap returns the wrapped writer.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Status returns the status written, 0 before anything was.
func (r *Recorder) Status() int { return r.status }

// Bytes returns the body bytes written.
func (r *Recorder) Bytes() int64 { return r.bytes }

// observe records, logs and counts each request once the handlers are done.
func (s *Server) observe(next http.Handler) http.Handler {
	if s.m == nil && !s.cfg.AccessLog {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := NewRecorder(w)
		next.ServeHTTP(rec, r)
		status := rec.Status()
		if status == 0 {
			status = http.StatusOK // a handler that wrote nothing answered 200
		}
		took := time.Since(start)
		// The mux has set r.Pattern in place: a bounded label, unlike the path.
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if s.m != nil {
			s.m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			s.m.seconds.WithLabelValues(route).Observe(took.Seconds())
		}
		if s.cfg.AccessLog {
			path := r.URL.Path
			if len(path) > 200 {
				path = path[:200] + "…"
			}
			s.log.Info("request", "server", s.cfg.Name, "method", r.Method, "path", path, "route", route,
				"status", status, "bytes", rec.Bytes(), "duration_ms", float64(took.Microseconds())/1000,
				"request_id", RequestID(r.Context()), "remote", r.RemoteAddr)
		}
	})
}

// recover answers a handler's panic with 500 INTERNAL (when nothing was written yet) and
// logs it with its stack, instead of net/http's dropped connection. http.ErrAbortHandler
// is passed on: it is how a handler asks for exactly that.
func (s *Server) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := NewRecorder(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			if s.m != nil {
				s.m.panics.Inc()
			}
			id := RequestID(r.Context())
			s.log.Error("handler panicked", "server", s.cfg.Name, "method", r.Method, "path", r.URL.Path,
				"request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec.Status() == 0 {
				WriteError(rec, http.StatusInternalServerError, Error{Code: CodeInternal,
					Message: "the server failed on this request; report it with the request id " + id})
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

type metrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	panics   prometheus.Counter
}

func newMetrics(server string, reg prometheus.Registerer) (*metrics, error) {
	labels := prometheus.Labels{"server": server}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "votestream", Subsystem: "http", Name: "requests_total",
			Help:        "HTTP requests by route (the pattern that matched) and status code.",
			ConstLabels: labels,
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "votestream", Subsystem: "http", Name: "request_seconds",
			Help:        "Time to serve an HTTP request, by route.",
			ConstLabels: labels,
			Buckets:     []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "votestream", Subsystem: "http", Name: "panics_total",
			Help:        "Handler panics answered 500 INTERNAL.",
			ConstLabels: labels,
		}),
	}
	if err := promreg.Register(reg, "httpserve "+server, m.requests, m.seconds, m.panics); err != nil {
		return nil, err
	}
	return m, nil
}
