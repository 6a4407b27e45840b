package httpserve

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func compressServer(t *testing.T, body []byte, contentType string) *Server {
	t.Helper()
	s, _, _ := testServer(t, func(c *Config) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /doc", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Write(body)
		})
		mux.HandleFunc("GET /small", func(w http.ResponseWriter, r *http.Request) {
			WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
		})
		mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			for i := range 3 {
				fmt.Fprintf(w, "event: n\ndata: %d\n\n", i)
				w.(http.Flusher).Flush()
				<-r.Context().Done() // the test reads each event while the handler waits
				return
			}
		})
		c.Handler = mux
		c.Compress = true
		c.NoCompress = func(r *http.Request) bool { return r.URL.Path == "/nothing" }
	})
	return s
}

func TestCompression(t *testing.T) {
	body := []byte(strings.Repeat(`{"station_id":"BKK_1_0042","ballot":"partylist","status":"corroborated"},`, 200))
	s := compressServer(t, body, "application/json")

	w := serve(t, s, "GET", "/doc", http.Header{"Accept-Encoding": {"gzip"}})
	if w.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
		t.Fatalf("headers %v, want gzip and Vary: Accept-Encoding", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || string(got) != string(body) {
		t.Fatalf("decompressed %d bytes (%v), want the %d sent", len(got), err, len(body))
	}
	if w.Body.Len() >= len(body)/5 {
		t.Errorf("compressed to %d of %d bytes", w.Body.Len(), len(body))
	}

	if w := serve(t, s, "GET", "/doc", nil); w.Header().Get("Content-Encoding") != "" || w.Body.String() != string(body) {
		t.Errorf("without Accept-Encoding: %v, %d bytes", w.Header(), w.Body.Len())
	}
	if w := serve(t, s, "GET", "/small", http.Header{"Accept-Encoding": {"gzip"}}); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("a %d-byte answer was compressed", w.Body.Len())
	}
	png := compressServer(t, body, "image/png")
	if w := serve(t, png, "GET", "/doc", http.Header{"Accept-Encoding": {"gzip"}}); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("an image was compressed")
	}
	off, _, _ := testServer(t, nil)
	if w := serve(t, off, "GET", "/hello/x", http.Header{"Accept-Encoding": {"gzip"}}); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("compressed with Compress off")
	}
}

// An event stream reaches the client event by event, uncompressed, even from a client
// that accepts gzip and does not say Accept: text/event-stream.
func TestCompressionLeavesStreams(t *testing.T) {
	s := compressServer(t, nil, "")
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/stream", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Fatalf("stream sent with Content-Encoding %q", ce)
	}
	// The handler holds the stream open after its first event: reading it proves the
	// flush went through.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "event: n\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
}

// TestCompressedSizes measures what compression saves on the console's files and the
// OpenAPI documents (docs/benchmarks.md quotes it).
func TestCompressedSizes(t *testing.T) {
	for _, f := range []string{"console/web/app.js", "console/web/app.css", "console/web/index.html", "console/openapi.json", "ingest/openapi.json"} {
		body, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Skipf("%s: %v (run from the repository)", f, err)
		}
		ct := map[string]string{".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".json": "application/json"}[filepath.Ext(f)]
		s := compressServer(t, body, ct)
		for _, enc := range []string{"gzip", "zstd"} {
			w := serve(t, s, "GET", "/doc", http.Header{"Accept-Encoding": {enc}})
			if w.Header().Get("Content-Encoding") != enc {
				t.Fatalf("%s: %s not applied: %v", f, enc, w.Header())
			}
			t.Logf("BENCH name=compressed_size/%s/%s value=%d unit=bytes (of %d, %.1fx)", f, enc, w.Body.Len(), len(body), float64(len(body))/float64(w.Body.Len()))
		}
	}
}
