package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	routed := map[string]bool{}
	for _, rt := range routes {
		key := strings.ToLower(rt.method) + " " + rt.path
		routed[key] = true
		if _, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]; !ok {
			t.Errorf("route %s %s is not documented", rt.method, rt.path)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !routed[method+" "+path] {
				t.Errorf("documented %s %s is not routed", method, path)
			}
		}
	}
	var codes []string
	for c := range codeStatus {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	documented := slices.Sorted(slices.Values(doc.Components.Schemas.Error.Properties.Code.Enum))
	if !slices.Equal(codes, documented) {
		t.Errorf("error codes in code %v\ndocumented %v", codes, documented)
	}
	// Every response status a code can produce is documented somewhere.
	raw := string(openAPI)
	for code, status := range codeStatus {
		if code == CodeNotFound || code == CodeMethodNotAllowed {
			continue
		}
		if !strings.Contains(raw, fmt.Sprintf(`"%d"`, status)) {
			t.Errorf("status %d of %s appears in no response", status, code)
		}
	}
}

func TestServesOpenAPIAndProbes(t *testing.T) {
	h := newHarness(t, nil)
	if r := h.do(http.MethodGet, "/openapi.json", "", "", nil); r.status != 200 || !json.Valid(r.body) {
		t.Fatalf("openapi: %d", r.status)
	}
	if r := h.do(http.MethodGet, "/healthz", "", "", nil); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	if r := h.do(http.MethodGet, "/readyz", "", "", nil); r.status != 200 {
		t.Fatalf("readyz: %d", r.status)
	}
	h.prod.pingErr = errors.New("no broker")
	if r := h.do(http.MethodGet, "/readyz", "", "", nil); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("readyz without Kafka: %d", r.status)
	}
	h.post("/v1/submissions", h.volunteer, validSub().json())
	r := h.do(http.MethodGet, "/metrics", "", "", nil)
	for _, want := range []string{
		`votestream_ingest_requests_total{code="202",route="/v1/submissions"} 1`,
		`votestream_ingest_items_total{kind="submission",outcome="accepted"} 1`,
		`votestream_ingest_produce_seconds_count{kind="submission"} 1`,
		`votestream_ingest_kafka_buffered_records 0`,
		`votestream_ingest_dedupe_entries 1`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestUnknownRoutes(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodGet, "/v1/submissions", 405, CodeMethodNotAllowed, "POST"},
		{http.MethodDelete, "/v1/evidence/sha256:00", 405, CodeMethodNotAllowed, "PUT"},
		{http.MethodGet, "/v2/submissions", 404, CodeNotFound, ""},
		{http.MethodPost, "/", 404, CodeNotFound, ""},
	}
	for _, tc := range cases {
		r := h.do(tc.method, tc.path, h.volunteer, "", nil)
		code, _ := r.errorCode()
		if r.status != tc.status || code != tc.code || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d %s Allow %q", tc.method, tc.path, r.status, code, r.header.Get("Allow"))
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"no listen":        func(c *Config) { c.Listen = "" },
		"no seeds":         func(c *Config) { c.Seeds = nil },
		"tiny body":        func(c *Config) { c.MaxBodyBytes = 10 },
		"zero batch":       func(c *Config) { c.MaxBatch = 0 },
		"negative rate":    func(c *Config) { c.RatePerVolunteer = -1 },
		"rate, no burst":   func(c *Config) { c.RateBurst = 0 },
		"zero timeout":     func(c *Config) { c.ProduceTimeout = 0 },
		"sub-second retry": func(c *Config) { c.RetryAfter = 500 * time.Millisecond },
		"no buffer":        func(c *Config) { c.MaxBufferedRecords = 0 },
		"long linger":      func(c *Config) { c.Linger = 2 * time.Second },
		"spread policy":    func(c *Config) { c.SpreadPolicy = "ignore" },
		"dedupe ttl":       func(c *Config) { c.DedupeTTL = 0 },
		"dedupe size":      func(c *Config) { c.DedupeMaxEntries = 0 },
		"reload interval":  func(c *Config) { c.RevocationFile = "r.txt"; c.RevocationReload = 0 },
	} {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	c := DefaultConfig()
	c.RatePerVolunteer, c.RateBurst = 0, 0
	if err := c.Validate(); err != nil {
		t.Errorf("rate limit off needs no burst: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.EvidenceDir = t.TempDir()
	cfg.Country = testCountry(t)
	if _, err := New(cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("no token keys: %v", err)
	}
	cfg.Country = rawCountry()
	if _, err := New(cfg, WithKeyring(testKeyring(t))); !errors.Is(err, ErrNotIndexed) {
		t.Fatalf("unindexed country: %v", err)
	}
}

// TestRunShutsDown serves on a real listener and checks that cancelling the context stops
// Run cleanly while a client is connected.
func TestRunShutsDown(t *testing.T) {
	h := newHarness(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.s.Serve(ctx, ln) }()
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/v1/submissions", strings.NewReader(validSub().json()))
	req.Header.Set("Authorization", "Bearer "+h.volunteer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestRevocationReloadedWhileRunning(t *testing.T) {
	path := t.TempDir() + "/revoked.txt"
	if err := writeFile(path, "# none yet\n"); err != nil {
		t.Fatal(err)
	}
	cfg := func(c *Config) { c.RevocationFile = path; c.RevocationReload = time.Millisecond }
	reloaded := make(chan struct{})
	logs := &signalHandler{match: "revocation list reloaded", ch: reloaded}
	h2 := newHarness(t, func(c *Config) { cfg(c); c.Logger = slog.New(logs) })
	if r := h2.post("/v1/submissions", h2.volunteer, validSub().json()); r.status != 202 {
		t.Fatalf("before revocation: %d %s", r.status, r.body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- h2.s.Serve(ctx, ln) }()
	if err := writeFile(path, "ilaw-0001\n"); err != nil {
		t.Fatal(err)
	}
	<-reloaded
	r := h2.post("/v1/submissions", h2.volunteer, validSub().json())
	if code, _ := r.errorCode(); code != CodeTokenRevoked {
		t.Fatalf("after revocation: %d %s", r.status, r.body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// signalHandler is a slog handler that closes ch on the first record whose message
// contains match.
type signalHandler struct {
	match string
	ch    chan struct{}
	once  sync.Once
}

func (s *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (s *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, s.match) {
		s.once.Do(func() { close(s.ch) })
	}
	return nil
}
func (s *signalHandler) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *signalHandler) WithGroup(string) slog.Handler      { return s }
