package ingest

import "net/http"

// The form's API: routes of the volunteers' form and of coordinators on the night, added to
// the route table (and so to /openapi.json's test) here rather than in server.go.
func init() {
	routes = append(routes,
		route{http.MethodGet, "/v1/me", func(s *Server) http.HandlerFunc { return s.handleMe }},
		route{http.MethodPost, "/v1/activate", func(s *Server) http.HandlerFunc { return s.handleActivate }},
		route{http.MethodGet, "/v1/claims", func(s *Server) http.HandlerFunc { return s.handleClaimable }},
		route{http.MethodPost, "/v1/claims", func(s *Server) http.HandlerFunc { return s.handleClaim }},
		route{http.MethodPost, "/v1/checkins", func(s *Server) http.HandlerFunc { return s.handleCheckin }},
		route{http.MethodPost, "/v1/assignments", func(s *Server) http.HandlerFunc { return s.handleAssign }},
		route{http.MethodPost, "/v1/incidents", func(s *Server) http.HandlerFunc { return s.handleIncident }},
	)
}
