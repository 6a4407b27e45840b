package httpserve

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// compressMinSize: answers shorter than this go out as they are; below about a kilobyte
// the gzip header and the CPU cost more than the bytes saved.
const compressMinSize = 1024

// withCompression compresses answers (gzip, or zstd when the client prefers it) for clients
// that send Accept-Encoding, with klauspost/compress's gzhttp: the content types that are
// worth it (JSON, HTML, JavaScript, CSS, SVG; not images, which are compressed already),
// from compressMinSize bytes. It sets Vary: Accept-Encoding and drops Content-Length
// when it compresses. Streams are never compressed: a request that accepts
// text/event-stream, one skip reports (a role's stream routes), and any answer of that type
// go out as written, so each Flush reaches the client at once.
func withCompression(next http.Handler, skip func(*http.Request) bool) (http.Handler, error) {
	wrap, err := gzhttp.NewWrapper(
		gzhttp.MinSize(compressMinSize),
		gzhttp.ContentTypeFilter(compressible),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: compression: %v", ErrConfig, err)
	}
	compressed := wrap(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "text/event-stream") || (skip != nil && skip(r)) {
			next.ServeHTTP(w, r)
			return
		}
		compressed.ServeHTTP(w, r)
	}), nil
}

// compressible: text (but streams), JSON, JavaScript, XML and SVG. Photos, archives and
// anything unknown go out as they are.
func compressible(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	if mt, _, ok := strings.Cut(ct, ";"); ok {
		ct = strings.TrimSpace(mt)
	}
	switch {
	case ct == "text/event-stream":
		return false
	case strings.HasPrefix(ct, "text/"), ct == "application/json", strings.HasSuffix(ct, "+json"),
		ct == "application/javascript", ct == "application/xml", strings.HasSuffix(ct, "+xml"):
		return true
	}
	return false
}
