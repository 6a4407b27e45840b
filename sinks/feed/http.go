package feed

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"votestream/internal/httpserve"
)

// Error codes of the API. Newsroom code switches on them: never rename one; add new ones.
const (
	CodeUnauthenticated  = "UNAUTHENTICATED"    // 401: no key, or an unknown one
	CodeNotFound         = "NOT_FOUND"          // 404: no such endpoint, constituency or station
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED" // 405: the API is read-only (GET and HEAD)
	CodeInvalidParameter = "INVALID_PARAMETER"  // 400: a query parameter the feed cannot use
	CodeTooManyStreams   = "TOO_MANY_STREAMS"   // 429: the newsroom already holds its streams
	CodeNotReady         = "NOT_READY"          // 503, with Retry-After: still reading the night so far
	CodeInternal         = "INTERNAL"           // 500: a fault of the feed's; report it
)

var codeStatus = map[string]int{
	CodeUnauthenticated:  http.StatusUnauthorized,
	CodeNotFound:         http.StatusNotFound,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	CodeInvalidParameter: http.StatusBadRequest,
	CodeTooManyStreams:   http.StatusTooManyRequests,
	CodeRateLimited:      http.StatusTooManyRequests,
	CodeEmbargoed:        http.StatusForbidden,
	CodeBadCursor:        http.StatusBadRequest,
	CodeCursorExpired:    http.StatusGone,
	CodeNotReady:         http.StatusServiceUnavailable,
	CodeInternal:         http.StatusInternalServerError,
}

// APIError is the body of every refusal: {"error": {"code": ..., "message": ...}}.
type APIError = httpserve.Error

// errorBody is the whole body of a refusal.
type errorBody struct {
	Error APIError `json:"error"`
}

func (f *Feed) writeError(w http.ResponseWriter, code, format string, a ...any) {
	status := codeStatus[code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	f.setWriteDeadline(w)
	if f.cfg.TestMode { // a refusal of the test feed says so too
		w.Header().Set("X-Content-Type-Options", "nosniff")
		httpserve.WriteJSON(w, status, struct {
			Error APIError `json:"error"`
			Notice
		}{APIError{Code: code, Message: fmt.Sprintf(format, a...)}, f.view.notice})
		return
	}
	httpserve.WriteError(w, status, APIError{Code: code, Message: fmt.Sprintf(format, a...)})
}

func (f *Feed) setWriteDeadline(w http.ResponseWriter) {
	// A server of the caller's may not support deadlines; the write then simply has none.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(f.cfg.WriteTimeout))
}

// endpoint is one route of the API.
type endpoint struct {
	pattern string // net/http pattern, without method
	name    string // metric label
	auth    bool
	embargo bool // a results endpoint: 403 EMBARGOED before polls close
	serve   func(f *Feed, w http.ResponseWriter, r *http.Request, newsroom string)
}

var endpoints = []endpoint{
	{"/v1/feed/summary", "summary", true, true, (*Feed).handleSummary},
	{"/v1/feed/parties", "parties", true, true, (*Feed).handleParties},
	{"/v1/feed/constituencies", "constituencies", true, true, (*Feed).handleConstituencies},
	{"/v1/feed/constituencies/{id}", "constituency", true, true, (*Feed).handleConstituency},
	{"/v1/feed/stations/{id}", "station", true, true, (*Feed).handleStation},
	{"/v1/feed/regions", "regions", true, true, (*Feed).handleRegions},
	{"/v1/feed/provinces", "provinces", true, true, (*Feed).handleProvinces},
	{"/v1/feed/provinces/{id}", "province", true, true, (*Feed).handleProvince},
	{"/v1/feed/changes", "changes", true, true, (*Feed).handleChanges},
	// The stream is embargoed by its handler: heartbeats and an `embargo` event until polls close.
	{"/v1/feed/events", "events", true, false, (*Feed).handleEvents},
	{"/healthz", "healthz", false, false, (*Feed).handleHealthz},
	{"/readyz", "readyz", false, false, (*Feed).handleReadyz},
	{"/openapi.json", "openapi", false, false, (*Feed).handleOpenAPI},
}

func (f *Feed) routes() http.Handler {
	mux := http.NewServeMux()
	for _, ep := range endpoints {
		mux.HandleFunc(ep.pattern, func(w http.ResponseWriter, r *http.Request) {
			sw := httpserve.NewRecorder(w)
			defer func() { f.m.requests.WithLabelValues(ep.name, strconv.Itoa(sw.Status())).Inc() }()
			newsroom := ""
			if ep.auth {
				var ok bool
				if newsroom, ok = f.authenticate(r); !ok {
					sw.Header().Set("WWW-Authenticate", `Bearer realm="votestream-feed"`)
					f.writeError(sw, CodeUnauthenticated, "send a newsroom key as `Authorization: Bearer <key>`")
					return
				}
				if test := IsTestKey(bearer(r)); test != f.cfg.TestMode {
					sw.Header().Set("WWW-Authenticate", `Bearer realm="votestream-feed"`)
					if test {
						f.writeError(sw, CodeUnauthenticated, "a test key on the live feed: test keys work only on the test feed")
					} else {
						f.writeError(sw, CodeUnauthenticated, "a live key on the test feed: the test feed takes test keys only (%s...)", TestKeyPrefix)
					}
					return
				}
				// The results endpoints are the ETag answers, where a 304 costs half.
				ok, settle := f.admit(sw, r, newsroom, ep.embargo)
				if !ok {
					return
				}
				defer func() { settle(sw.Status()) }()
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				sw.Header().Set("Allow", "GET, HEAD")
				f.writeError(sw, CodeMethodNotAllowed, "%s is not allowed: the feed is read-only", r.Method)
				return
			}
			if ep.embargo && f.embargoed() {
				f.writeEmbargoed(sw)
				return
			}
			if ep.auth && !f.ready.Load() {
				sw.Header().Set("Retry-After", "2")
				f.writeError(sw, CodeNotReady, "the feed is still reading the night so far; retry shortly")
				return
			}
			ep.serve(f, sw, r, newsroom)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		sw := httpserve.NewRecorder(w)
		defer func() { f.m.requests.WithLabelValues("unknown", strconv.Itoa(sw.Status())).Inc() }()
		f.writeError(sw, CodeNotFound, "no such endpoint; see /openapi.json and docs/feed.md")
	})
	return mux
}

// authenticate returns the newsroom of the request's bearer key.
func (f *Feed) authenticate(r *http.Request) (string, bool) {
	key := bearer(r)
	if key == "" {
		return "", false
	}
	return f.keys.Newsroom(key)
}

// bearer returns the request's bearer key, "" without one.
func bearer(r *http.Request) string {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(key)
}

func (f *Feed) handleHealthz(w http.ResponseWriter, r *http.Request, _ string) {
	httpserve.Healthz(w, r)
}

func (f *Feed) handleReadyz(w http.ResponseWriter, r *http.Request, _ string) {
	httpserve.Readyz(func(context.Context) error {
		if !f.ready.Load() {
			return &httpserve.NotReady{Status: "catching up"}
		}
		if err := f.health.Ready(); err != nil {
			return &httpserve.NotReady{Status: "waiting for kafka", Err: err}
		}
		return nil
	})(w, r)
}

// answer describes one JSON answer: how to find its version cheaply, and how to render it.
type answer struct {
	cacheKey string                       // non-empty: keep the encoded body per version
	version  func(v *View) (uint64, bool) // false: 404
	render   func(v *View) any            // called under the read lock
	notFound string                       // message for the 404
}

// serveAnswer writes an answer with its ETag (the event id of its version), or 304 when
// If-None-Match names it. Rendering happens under the read lock; encoding after it, since
// answers hold no reference to state the consumer changes in place.
func (f *Feed) serveAnswer(w http.ResponseWriter, r *http.Request, a answer) {
	f.mu.RLock()
	version, ok := a.version(f.view)
	if !ok {
		f.mu.RUnlock()
		f.writeError(w, CodeNotFound, "%s", a.notFound)
		return
	}
	eventID := formatEventID(f.view.Epoch(), version)
	h := w.Header()
	h.Set("ETag", etag(eventID))
	h.Set("Cache-Control", "private, no-cache")
	h.Set("Vary", "Accept-Encoding, Authorization")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, eventID) {
		f.mu.RUnlock()
		f.setWriteDeadline(w)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var c *cachedAnswer
	if a.cacheKey != "" {
		c = f.cache.get(a.cacheKey, version)
	}
	var v any
	if c == nil {
		v = a.render(f.view)
	}
	f.mu.RUnlock()
	if c == nil {
		body, err := json.Marshal(v)
		if err != nil {
			f.log.Error("feed: answer not encoded", "path", r.URL.Path, "err", err)
			f.writeError(w, CodeInternal, "the answer could not be encoded")
			return
		}
		c = &cachedAnswer{version: version, body: append(body, '\n')}
		if a.cacheKey != "" {
			f.cache.put(a.cacheKey, c)
		}
	}
	f.writeAnswer(w, r, c)
}

// writeAnswer sends c's JSON with 200, gzipped when it is large enough and the client takes
// gzip; a HEAD gets the headers only.
func (f *Feed) writeAnswer(w http.ResponseWriter, r *http.Request, c *cachedAnswer) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	body := c.body
	if len(body) >= gzipMin && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = c.gzipped()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	f.setWriteDeadline(w)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// gzipMin: smaller answers go out plain; compressing them saves less than it costs.
const gzipMin = 1024

// cachedAnswer is an encoded answer of one version, plain and (once asked for) gzipped.
type cachedAnswer struct {
	version uint64
	body    []byte
	gzOnce  sync.Once
	gz      []byte
}

func (c *cachedAnswer) gzipped() []byte {
	c.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(c.body)
		_ = zw.Close()
		c.gz = buf.Bytes()
	})
	return c.gz
}

// answerCache keeps the newest encoded version of the answers everyone polls (summary,
// parties, constituency lists): one entry per key, and the keys are bounded by the
// reference data (one per province at most).
type answerCache struct {
	mu sync.Mutex
	m  map[string]*cachedAnswer
}

func (c *answerCache) get(key string, version uint64) *cachedAnswer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.m[key]; a != nil && a.version == version {
		return a
	}
	return nil
}

func (c *answerCache) put(key string, a *cachedAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[key]; old == nil || old.version < a.version {
		c.m[key] = a
	}
}

func (f *Feed) handleSummary(w http.ResponseWriter, r *http.Request, _ string) {
	f.serveAnswer(w, r, answer{
		cacheKey: "summary",
		version:  func(v *View) (uint64, bool) { return v.Version(), true },
		render:   func(v *View) any { return v.Summary() },
	})
}

func (f *Feed) handleParties(w http.ResponseWriter, r *http.Request, _ string) {
	f.serveAnswer(w, r, answer{
		cacheKey: "parties",
		version:  func(v *View) (uint64, bool) { return v.Version(), true },
		render:   func(v *View) any { return v.Parties() },
	})
}

func (f *Feed) handleConstituencies(w http.ResponseWriter, r *http.Request, _ string) {
	province, err := parseProvince(r.URL.Query(), f.cfg.Country)
	if err != nil {
		f.writeError(w, CodeInvalidParameter, "%v", err)
		return
	}
	f.serveAnswer(w, r, answer{
		cacheKey: "constituencies?province=" + province,
		version:  func(v *View) (uint64, bool) { return v.Version(), true },
		render:   func(v *View) any { return v.Constituencies(province) },
	})
}

func (f *Feed) handleConstituency(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("id")
	f.serveAnswer(w, r, answer{
		version:  func(v *View) (uint64, bool) { return v.ConstituencyVersion(id) },
		render:   func(v *View) any { a, _ := v.Constituency(id); return a },
		notFound: fmt.Sprintf("no constituency %q", truncate(id, 40)),
	})
}

func (f *Feed) handleRegions(w http.ResponseWriter, r *http.Request, _ string) {
	f.serveAnswer(w, r, answer{
		cacheKey: "regions",
		version:  func(v *View) (uint64, bool) { return v.Version(), true },
		render:   func(v *View) any { return v.Regions() },
	})
}

func (f *Feed) handleProvinces(w http.ResponseWriter, r *http.Request, _ string) {
	f.serveAnswer(w, r, answer{
		cacheKey: "provinces",
		version:  func(v *View) (uint64, bool) { return v.Version(), true },
		render:   func(v *View) any { return v.Provinces() },
	})
}

func (f *Feed) handleProvince(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("id")
	f.serveAnswer(w, r, answer{
		version:  func(v *View) (uint64, bool) { return v.ProvinceVersion(id) },
		render:   func(v *View) any { a, _ := v.Province(id); return a },
		notFound: fmt.Sprintf("no province %q", truncate(id, 40)),
	})
}

func (f *Feed) handleStation(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("id")
	f.serveAnswer(w, r, answer{
		version:  func(v *View) (uint64, bool) { return v.StationVersion(id) },
		render:   func(v *View) any { a, _ := v.Station(id); return a },
		notFound: fmt.Sprintf("no station %q", truncate(id, 40)),
	})
}

// errStreamLimit: the newsroom holds MaxStreamsPerNewsroom streams already.
var errStreamLimit = errors.New("feed: stream limit reached")

func (f *Feed) acquireStream(newsroom string) error {
	f.streamsMu.Lock()
	defer f.streamsMu.Unlock()
	if f.streams[newsroom] >= f.cfg.MaxStreamsPerNewsroom {
		return errStreamLimit
	}
	f.streams[newsroom]++
	f.m.clients.WithLabelValues(newsroom).Inc()
	return nil
}

func (f *Feed) releaseStream(newsroom string) {
	f.streamsMu.Lock()
	defer f.streamsMu.Unlock()
	f.streams[newsroom]--
	if f.streams[newsroom] <= 0 {
		delete(f.streams, newsroom)
	}
	f.m.clients.WithLabelValues(newsroom).Dec()
}
