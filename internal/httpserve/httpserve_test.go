package httpserve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// syncBuffer is a log sink the server's goroutines may write to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testServer(t *testing.T, mut func(*Config)) (*Server, *prometheus.Registry, *syncBuffer) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"hello": r.PathValue("name"), "id": RequestID(r.Context())})
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("GET /refuse", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusBadRequest, Error{Code: "BAD_THING", Message: "no", Field: "x.y"})
	})
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	cfg := DefaultConfig()
	cfg.Name = "test"
	cfg.Handler = mux
	cfg.Registerer = reg
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg, logs
}

func serve(t *testing.T, s *Server, method, path string, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	return w
}

func decodeError(t *testing.T, body []byte) Error {
	t.Helper()
	var b struct {
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Error == nil {
		t.Fatalf("not an error body: %q (%v)", body, err)
	}
	return *b.Error
}

func TestValidate(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"no name":        func(c *Config) { c.Name = "" },
		"no handler":     func(c *Config) { c.Handler = nil },
		"no header time": func(c *Config) { c.ReadHeaderTimeout = 0 },
		"negative write": func(c *Config) { c.WriteTimeout = -time.Second },
		"no grace":       func(c *Config) { c.ShutdownGrace = 0 },
		"no header size": func(c *Config) { c.MaxHeaderBytes = 0 },
	} {
		cfg := DefaultConfig()
		cfg.Name, cfg.Handler = "x", http.NotFoundHandler()
		mut(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}

func TestRequestID(t *testing.T) {
	s, _, _ := testServer(t, nil)
	a := serve(t, s, "GET", "/hello/x", nil)
	b := serve(t, s, "GET", "/hello/x", nil)
	ida, idb := a.Header().Get(HeaderRequestID), b.Header().Get(HeaderRequestID)
	if ida == "" || ida == idb {
		t.Fatalf("request ids %q and %q: want two different, non-empty", ida, idb)
	}
	var body map[string]string
	_ = json.Unmarshal(a.Body.Bytes(), &body)
	if body["id"] != ida {
		t.Fatalf("handler saw id %q, response says %q", body["id"], ida)
	}
	kept := serve(t, s, "GET", "/hello/x", http.Header{HeaderRequestID: {"proxy-42.a:b_c"}})
	if got := kept.Header().Get(HeaderRequestID); got != "proxy-42.a:b_c" {
		t.Fatalf("a proxy's sane id was replaced by %q", got)
	}
	for _, bad := range []string{"has space", "new\nline", strings.Repeat("a", 65)} {
		r := serve(t, s, "GET", "/hello/x", http.Header{HeaderRequestID: {bad}})
		if got := r.Header().Get(HeaderRequestID); got == bad || got == "" {
			t.Fatalf("id %q: kept or dropped (%q), want a fresh one", bad, got)
		}
	}
}

func TestPanicAnswers500AndIsCounted(t *testing.T) {
	s, _, logs := testServer(t, nil)
	w := serve(t, s, "GET", "/panic", nil)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", w.Code)
	}
	e := decodeError(t, w.Body.Bytes())
	id := w.Header().Get(HeaderRequestID)
	if e.Code != CodeInternal || !strings.Contains(e.Message, id) {
		t.Fatalf("error %+v: want INTERNAL naming request id %q", e, id)
	}
	if !strings.Contains(logs.String(), `"panic":"boom"`) || !strings.Contains(logs.String(), id) {
		t.Fatalf("panic not logged with its request id: %s", logs.String())
	}
	if n := counterValue(t, s.m.panics); n != 1 {
		t.Fatalf("panics_total %v, want 1", n)
	}
	if n := counterValue(t, s.m.requests.WithLabelValues("GET /panic", "500")); n != 1 {
		t.Fatalf("requests_total{GET /panic,500} %v, want 1", n)
	}
}

func TestAbortHandlerIsPassedOn(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	cfg := DefaultConfig()
	cfg.Name, cfg.Handler = "abort", mux
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler passed on", v)
		}
	}()
	serve(t, s, "GET", "/", nil)
}

func TestErrorShape(t *testing.T) {
	s, _, _ := testServer(t, nil)
	w := serve(t, s, "GET", "/refuse", nil)
	if w.Code != 400 || w.Header().Get("Content-Type") != "application/json; charset=utf-8" ||
		w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("status %d headers %v", w.Code, w.Header())
	}
	if got := decodeError(t, w.Body.Bytes()); got != (Error{Code: "BAD_THING", Message: "no", Field: "x.y"}) {
		t.Fatalf("error %+v", got)
	}
	// No field: the key is left out, as clients of ingest and the feed expect.
	w = httptest.NewRecorder()
	WriteError(w, 404, Error{Code: CodeNotFound, Message: "gone"})
	if want := `{"error":{"code":"NOT_FOUND","message":"gone"}}` + "\n"; w.Body.String() != want {
		t.Fatalf("body %q, want %q", w.Body.String(), want)
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, 200, map[string]any{"f": func() {}})
	if w.Code != 500 || decodeError(t, w.Body.Bytes()).Code != CodeInternal {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
}

func TestHealthEndpoints(t *testing.T) {
	var readyErr error
	s, _, _ := testServer(t, func(c *Config) {
		c.Ready = func(context.Context) error { return readyErr }
	})
	s2, _, _ := testServer(t, func(c *Config) { c.Gatherer = prometheus.NewRegistry() })
	if w := serve(t, s, "GET", "/healthz", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Fatalf("healthz %d %s", w.Code, w.Body)
	}
	if w := serve(t, s, "GET", "/readyz", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"ready"`) {
		t.Fatalf("readyz %d %s", w.Code, w.Body)
	}
	readyErr = errors.New("kafka down")
	w := serve(t, s, "GET", "/readyz", nil)
	if w.Code != 503 || w.Header().Get("Retry-After") != "2" ||
		w.Body.String() != `{"error":"kafka down","status":"not ready"}`+"\n" {
		t.Fatalf("readyz when not ready: %d %v %s", w.Code, w.Header(), w.Body)
	}
	readyErr = fmt.Errorf("wrapped: %w", &NotReady{Status: "catching up", RetryAfter: 1500 * time.Millisecond})
	w = serve(t, s, "GET", "/readyz", nil)
	if w.Code != 503 || w.Header().Get("Retry-After") != "2" || w.Body.String() != `{"status":"catching up"}`+"\n" {
		t.Fatalf("readyz catching up: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// Without Ready the role's handler keeps the paths (here: none, so the mux's 404).
	if w := serve(t, s2, "GET", "/healthz", nil); w.Code != 404 {
		t.Fatalf("healthz without Ready: %d, want the role's 404", w.Code)
	}
	if w := serve(t, s2, "GET", "/metrics", nil); w.Code != 200 {
		t.Fatalf("metrics %d", w.Code)
	}
	// Routes of the role still reach it behind the health mux.
	if w := serve(t, s, "GET", "/hello/ok", nil); w.Code != 200 {
		t.Fatalf("role route behind health: %d", w.Code)
	}
}

func TestRequestMetricsUseThePattern(t *testing.T) {
	s, _, _ := testServer(t, nil)
	serve(t, s, "GET", "/hello/a", nil)
	serve(t, s, "GET", "/hello/b", nil)
	serve(t, s, "GET", "/nowhere", nil)
	if n := counterValue(t, s.m.requests.WithLabelValues("GET /hello/{name}", "200")); n != 2 {
		t.Fatalf("requests{GET /hello/{name},200} = %v, want 2", n)
	}
	if n := counterValue(t, s.m.requests.WithLabelValues("unmatched", "404")); n != 1 {
		t.Fatalf("requests{unmatched,404} = %v, want 1", n)
	}
}

func TestAccessLog(t *testing.T) {
	s, _, logs := testServer(t, func(c *Config) { c.AccessLog = true })
	w := serve(t, s, "GET", "/hello/ก", nil)
	line := logs.String()
	for _, want := range []string{`"msg":"request"`, `"route":"GET /hello/{name}"`, `"status":200`,
		`"request_id":"` + w.Header().Get(HeaderRequestID) + `"`} {
		if !strings.Contains(line, want) {
			t.Fatalf("access log lacks %s: %s", want, line)
		}
	}
	s2, _, quiet := testServer(t, nil)
	serve(t, s2, "GET", "/hello/x", nil)
	if strings.Contains(quiet.String(), `"msg":"request"`) {
		t.Fatalf("access log without AccessLog: %s", quiet.String())
	}
}

// TestGracefulShutdown: a request in flight when ctx ends is finished, OnShutdown runs,
// and Serve returns nil; a new connection is then refused.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	onShutdown := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		WriteJSON(w, 200, map[string]string{"done": "yes"})
	})
	cfg := DefaultConfig()
	cfg.Name, cfg.Handler = "graceful", mux
	cfg.OnShutdown = func() { close(onShutdown) }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered
	cancel()
	<-onShutdown
	close(release)
	if body := <-got; !strings.Contains(body, `"done":"yes"`) {
		t.Fatalf("request in flight at shutdown got %q", body)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/slow"); err == nil {
		t.Fatal("a request after shutdown was served")
	}
}

// TestShutdownGraceBounded: a request that never ends does not hold Serve past the grace.
func TestShutdownGraceBounded(t *testing.T) {
	entered := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // ends only when the connection is closed
	})
	cfg := DefaultConfig()
	cfg.Name, cfg.Handler = "hang", mux
	cfg.ShutdownGrace = 50 * time.Millisecond
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/hang"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if !strings.Contains(logs.String(), "still in flight") {
		t.Fatalf("the cut-off request was not logged: %s", logs.String())
	}
}

func TestServeFailsOnClosedListener(t *testing.T) {
	s, _, _ := testServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := s.Serve(context.Background(), ln); err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}

func TestRunNeedsAddr(t *testing.T) {
	s, _, _ := testServer(t, nil)
	if err := s.Run(context.Background()); !errors.Is(err, ErrConfig) {
		t.Fatalf("Run without Addr: %v", err)
	}
}

func TestReload(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 10)
	logs := &syncBuffer{}
	done := make(chan struct{})
	n := 0
	go func() {
		defer close(done)
		Reload(ctx, time.Millisecond, slog.New(slog.NewJSONHandler(logs, nil)), "key file", func() (bool, error) {
			n++
			defer func() {
				select {
				case calls <- struct{}{}:
				default: // the test has seen enough
				}
			}()
			switch n {
			case 1:
				return false, errors.New("unreadable")
			case 2:
				return true, nil
			}
			return false, nil
		}, func() int { return 7 })
	}()
	for range 3 {
		<-calls
	}
	cancel()
	<-done
	out := logs.String()
	if !strings.Contains(out, "key file not reloaded; the previous one stays in force") || !strings.Contains(out, "unreadable") {
		t.Fatalf("failed reload not logged: %s", out)
	}
	if strings.Count(out, `"msg":"key file reloaded","entries":7`) != 1 {
		t.Fatalf("want exactly one reloaded line (only the changing reload): %s", out)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
