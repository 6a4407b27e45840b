package ingest

import (
	_ "embed"
	"net/http"
)

// openAPI is the hand-written OpenAPI 3.1 description of the endpoint. TestOpenAPIMatchesRoutes
// keeps it true: every route is documented, nothing undocumented is routed, and every error
// code is listed.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(openAPI)
}
