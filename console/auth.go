package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"votestream/ingest/token"
	"votestream/schemas"
)

// sessionCookie carries the lead's token for the browser, so that <img> and EventSource,
// which cannot set headers, are authenticated too. HttpOnly and SameSite=Strict: scripts
// cannot read it and other sites cannot send it.
const sessionCookie = "votestream_console"

// who is an authenticated lead or war room member.
type who struct {
	token.Claims
	raw string // the token itself, forwarded to ingest with decisions
}

func (w who) warRoom() bool { return w.Role == schemas.RoleWarRoom }

// tokenOf reads the bearer token, or the session cookie.
func tokenOf(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// authenticate checks a token: signature, validity, revocation, and a lead's or the war
// room's role.
func (s *Server) authenticate(tok string, now time.Time) (who, *APIError) {
	if tok == "" {
		return who{}, apiErr(CodeUnauthenticated, "", "sign in with your district lead or war room token (Authorization: Bearer <token>)")
	}
	if len(tok) > token.MaxLen {
		return who{}, apiErr(CodeUnauthenticated, "", "the token is not valid: check it was copied whole")
	}
	c, err := s.keys.Verify(tok, now)
	if err == nil {
		err = s.revoked.Check(c)
	}
	switch {
	case errors.Is(err, token.ErrExpired):
		return who{}, apiErr(CodeTokenExpired, "", "the token has expired: ask the war room for a new one")
	case errors.Is(err, token.ErrRevoked):
		return who{}, apiErr(CodeTokenRevoked, "", "the token has been revoked: ask the war room")
	case err != nil:
		return who{}, apiErr(CodeUnauthenticated, "", "the token is not valid: check it was copied whole")
	}
	if c.Role != schemas.RoleDistrictLead && c.Role != schemas.RoleWarRoom && c.Role != schemas.RoleDesk {
		return who{}, apiErr(CodeForbiddenRole, "", "the console is for district leads, the war room and the decision desk; your role is %s", c.Role)
	}
	return who{Claims: c, raw: tok}, nil
}

// admit authenticates a request or writes the refusal.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (who, bool) {
	u, e := s.authenticate(tokenOf(r), s.now())
	if e == nil && u.Role == schemas.RoleDesk && !strings.HasPrefix(r.URL.Path, "/v1/desk") && r.URL.Path != "/v1/session" {
		e = apiErr(CodeForbiddenRole, "", "the decision desk's token opens the desk only (/desk.html)")
	}
	if e != nil {
		s.refuse(w, r, u, "", e)
		return u, false
	}
	return u, true
}

// refuse answers a refused attempt and records it: counted by code, and logged with who
// (when the token told), their role, the station, what was asked, why and when, for the
// war room's log collector. (Not yet on a Kafka topic: see docs/console.md.)
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, u who, station string, e *APIError) {
	s.metrics.refused.WithLabelValues(e.Code).Inc()
	s.log.Warn("console: refused", "who", u.VolunteerID, "role", u.Role, "org", u.Org, "station", station,
		"what", r.Method+" "+r.URL.Path, "code", e.Code, "why", e.Message, "at", s.now().UTC().Format(time.RFC3339))
	writeError(w, e)
}

// mayOpen reports whether u may see the stations of a constituency.
func (u who) mayOpen(constituency string) bool {
	return u.warRoom() || u.Constituency == constituency
}
