package testenv

import (
	"io"
	"net"
	"net/http"
	"testing"
)

// Get GETs url and returns the status and the whole body; a request that gets no answer
// fails t.
func Get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, b
}

// MustGet is Get for an answer that must be 200 OK: anything else fails t with the body.
func MustGet(t testing.TB, url string) []byte {
	t.Helper()
	code, b := Get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, b)
	}
	return b
}

// FreeAddr returns a loopback address ("127.0.0.1:<port>") that was free a moment ago, for
// a process the test starts that must be told where to listen.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
