package httpserve

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzRequestID: whatever a client sends as X-Request-Id, the answer carries a sane id
// (1-64 of letters, digits and ._:-), the client's own only when it was sane already.
func FuzzRequestID(f *testing.F) {
	for _, seed := range []string{"", "abc-123", "proxy-42.a:b_c", "has space", "new\nline", "ก", "\x00", "a\r\nSet-Cookie: x=1"} {
		f.Add(seed)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	cfg := DefaultConfig()
	cfg.Name, cfg.Handler = "fuzz", mux
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sent string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["X-Request-Id"] = []string{sent}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		got := w.Header().Get(HeaderRequestID)
		if !saneRequestID(got) {
			t.Fatalf("sent %q, answered with id %q", sent, got)
		}
		if saneRequestID(sent) != (got == sent) {
			t.Fatalf("sent %q (sane %v), answered %q", sent, saneRequestID(sent), got)
		}
	})
}
