package feed

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"votestream/internal/testenv"
)

// rawStream opens the event stream over a bare TCP connection with the given protocol line.
func rawStream(t *testing.T, srvURL, proto string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srvURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(testTimeout))
	if _, err := conn.Write([]byte("GET /v1/feed/events " + proto + "\r\nHost: feed\r\nAuthorization: Bearer " + keyNation + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// TestStreamTakenOverConn: an HTTP/1.1 stream, which the feed writes itself once the header is
// out, is well-formed chunked encoding (each flush one chunk) with the headers net/http
// wrote; an HTTP/1.0 stream, which stays with net/http, is plain; a client that hangs up
// frees its stream slot.
func TestStreamTakenOverConn(t *testing.T) {
	f := newTestFeed(t, func(c *Config) { c.MaxStreamsPerNewsroom = 1 })
	f.markReady()
	srv := serve(t, f)

	conn, br := rawStream(t, srv.URL, "HTTP/1.1")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" ||
		len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("HTTP/1.1 stream: %d %v %v", resp.StatusCode, resp.Header, resp.TransferEncoding)
	}
	sc := bufio.NewScanner(resp.Body) // http decodes the chunks: a malformed one is an error
	readUntil := func(want string) {
		t.Helper()
		for sc.Scan() {
			if sc.Text() == want {
				return
			}
		}
		t.Fatalf("stream ended before %q: %v", want, sc.Err())
	}
	readUntil(": votestream feed")
	f.applyResult(results(1)[0])
	readUntil("event: result")

	// Its slot is taken: a second stream of the newsroom is refused until this one hangs up.
	if r, _ := get(t, srv.URL+"/v1/feed/events", keyNation); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second stream while the first is open: %d", r.StatusCode)
	}
	conn.Close()
	testenv.WaitFor(t, "the stream slot freed after the client hung up", 10*time.Second, func() bool {
		f.streamsMu.Lock()
		defer f.streamsMu.Unlock()
		return f.streams["Nation TV"] == 0
	})

	_, br10 := rawStream(t, srv.URL, "HTTP/1.0")
	resp10, err := http.ReadResponse(br10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp10.StatusCode != http.StatusOK || len(resp10.TransferEncoding) != 0 {
		t.Fatalf("HTTP/1.0 stream: %d %v", resp10.StatusCode, resp10.TransferEncoding)
	}
	line, err := bufio.NewReader(resp10.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "retry: ") {
		t.Errorf("HTTP/1.0 stream's first line %q: %v", line, err)
	}
}
