package feed

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the hand-written OpenAPI 3.1 description of the feed. TestOpenAPI keeps it
// true: every route is documented and nothing else, every error code is listed, and the
// real answers of every endpoint match their documented schemas.
//
//go:embed openapi.json
var openAPI []byte

func (f *Feed) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "max-age=300")
	h.Set("Content-Length", strconv.Itoa(len(openAPI)))
	f.setWriteDeadline(w)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(openAPI)
	}
}
