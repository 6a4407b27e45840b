package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"votestream/console/staff"
	"votestream/ingest/token"
	"votestream/schemas"
)

// sessionCookie carries the session id for the browser, so that <img> and EventSource,
// which cannot set headers, are authenticated too. HttpOnly and SameSite=Strict: scripts
// cannot read it and other sites cannot send it; Secure when the console is on TLS.
const sessionCookie = "votestream_console"

// who is an authenticated lead, war room or desk member, in a session.
type who struct {
	token.Claims
	raw     string // the token itself, forwarded to ingest with decisions
	name    string // the enrolled name
	session string // the session id
	from    string // the client's address, for the audit
}

func (w who) warRoom() bool { return w.Role == schemas.RoleWarRoom }

// sessionOf reads the session id: the cookie, or "Authorization: Bearer <session id>" for
// scripts that signed in with POST /v1/session.
func sessionID(r *http.Request) string {
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

// clientAddr is the peer's IP address (the console is not behind a proxy it trusts).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// checkToken verifies a privileged token: the staff keyring's signature, validity,
// revocation and role. A token signed with the volunteers' key fails here: the console
// holds no volunteers' key at all.
func (s *Server) checkToken(tok string, now time.Time) (token.Claims, *APIError) {
	if tok == "" {
		return token.Claims{}, apiErr(CodeUnauthenticated, "", "sign in with your district lead, war room or desk token and the code of your authenticator app")
	}
	if len(tok) > token.MaxLen {
		return token.Claims{}, apiErr(CodeUnauthenticated, "", "the token is not valid: check it was copied whole")
	}
	c, err := s.keys.Verify(tok, now)
	if err == nil {
		err = s.revoked.Check(c)
	}
	switch {
	case errors.Is(err, token.ErrExpired):
		return c, apiErr(CodeTokenExpired, "", "the token has expired: ask the war room for a new one")
	case errors.Is(err, token.ErrRevoked):
		return c, apiErr(CodeTokenRevoked, "", "the token has been revoked: ask the war room")
	case err != nil:
		return token.Claims{}, apiErr(CodeUnauthenticated, "", "the token is not valid: check it was copied whole (a volunteer's token does not open the console)")
	}
	return c, nil
}

// sessions are the signed-in people, by random id; in memory, so a console restart signs
// everyone out (they sign in again with token and code).
type sessions struct {
	mu sync.Mutex
	m  map[string]*sessionState
}

type sessionState struct {
	who
	created, last time.Time
}

func newSessionID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("console: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (ss *sessions) create(u who, now time.Time) string {
	id := newSessionID()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*sessionState{}
	}
	for k, v := range ss.m { // sweep: a few hundred staff at most
		if now.Sub(v.created) > 48*time.Hour {
			delete(ss.m, k)
		}
	}
	u.session = id
	ss.m[id] = &sessionState{who: u, created: now, last: now}
	return id
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// expiry is when a session ends unless used again: the idle limit from its last use, the
// absolute limit from its start, and the token's own expiry, whichever comes first.
func (s *Server) expiry(st *sessionState) time.Time {
	end := st.last.Add(s.cfg.SessionIdle)
	if abs := st.created.Add(s.cfg.SessionMax); abs.Before(end) {
		end = abs
	}
	if st.ExpiresAt.Before(end) {
		end = st.ExpiresAt
	}
	return end
}

// authenticate finds the session, checks its limits and the token behind it (expiry,
// revocation, which may have changed since sign-in), and marks it used.
func (s *Server) authenticate(id string, now time.Time) (who, *APIError) {
	if id == "" {
		return who{}, apiErr(CodeUnauthenticated, "", "sign in with your token and the code of your authenticator app (POST /v1/session)")
	}
	s.sessions.mu.Lock()
	st, ok := s.sessions.m[id]
	if ok && !now.Before(s.expiry(st)) {
		delete(s.sessions.m, id)
		s.sessions.mu.Unlock()
		return st.who, apiErr(CodeSessionExpired, "", "your session has ended (idle for %s, or open for %s): sign in again", s.cfg.SessionIdle, s.cfg.SessionMax)
	}
	if ok {
		st.last = now
	}
	s.sessions.mu.Unlock()
	if !ok {
		if strings.HasPrefix(id, "vt1.") {
			return who{}, apiErr(CodeUnauthenticated, "", "a token alone no longer opens the console: sign in with the token and your authenticator code (POST /v1/session)")
		}
		return who{}, apiErr(CodeUnauthenticated, "", "not signed in, or signed out: sign in again")
	}
	if err := s.revoked.Check(st.Claims); err != nil {
		s.sessions.drop(id)
		return st.who, apiErr(CodeTokenRevoked, "", "the token has been revoked: ask the war room")
	}
	return st.who, nil
}

// admit authenticates a request or writes the refusal.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (who, bool) {
	u, e := s.authenticate(sessionID(r), s.now())
	u.from = clientAddr(r)
	if e == nil && u.Role == schemas.RoleDesk && !strings.HasPrefix(r.URL.Path, "/v1/desk") && r.URL.Path != "/v1/session" {
		e = apiErr(CodeForbiddenRole, "", "the decision desk's sign-in opens the desk only (/desk.html)")
	}
	if e != nil {
		s.refuse(w, r, u, "", e)
		return u, false
	}
	return u, true
}

// refuse answers a refused attempt and records it: counted by code, logged, audited
// (staff_actions) when the refused person is known, and a sample on refusals.v1.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, u who, station string, e *APIError) {
	s.metrics.refused.WithLabelValues(e.Code).Inc()
	s.log.Warn("console: refused", "who", u.VolunteerID, "role", u.Role, "org", u.Org, "station", station,
		"what", r.Method+" "+r.URL.Path, "code", e.Code, "why", e.Message, "at", s.now().UTC().Format(time.RFC3339), "from", clientAddr(r))
	if u.VolunteerID != "" {
		s.audit(r.Context(), u, Audit{Action: "refused", What: r.Method + " " + r.URL.Path, StationID: station, Outcome: e.Code, Detail: e.Message})
	}
	s.publishRefusal(r, u, station, e)
	writeError(w, e)
}

// mayOpen reports whether u may see the stations of a constituency.
func (u who) mayOpen(constituency string) bool {
	return u.warRoom() || u.Constituency == constituency
}

// signIn checks token and code: the token's signature and claims, its holder's enrolment
// (same role and constituency) and the TOTP code, used once.
func (s *Server) signIn(tok, code string, now time.Time) (who, *APIError) {
	c, e := s.checkToken(tok, now)
	if e != nil {
		return who{Claims: c}, e
	}
	members, err := staff.Load(s.cfg.StaffFile)
	if err != nil {
		s.log.Error("console: staff file", "err", err)
		return who{Claims: c}, &APIError{Code: CodeUpstream, Message: "the staff enrolment file cannot be read; tell the war room's operator"}
	}
	m, ok := staff.Find(members, c.VolunteerID)
	if !ok || m.Role != c.Role || m.Constituency != c.Constituency {
		return who{Claims: c}, apiErr(CodeNotEnrolled, "", "%s is not enrolled for a second factor with this role: ask the war room to run `votestream staff add`", c.VolunteerID)
	}
	u := who{Claims: c, raw: tok, name: m.Name}
	switch err := s.guard.Check(m, strings.TrimSpace(code), now); {
	case errors.Is(err, staff.ErrLocked):
		return u, apiErr(CodeBadCode, "code", "too many wrong codes: sign-in for %s is locked for %s; ask the war room if it was not you", c.VolunteerID, staff.LockFor)
	case errors.Is(err, staff.ErrReplayed):
		return u, apiErr(CodeBadCode, "code", "this code was already used: wait for the next one in your authenticator app")
	case err != nil:
		return u, apiErr(CodeBadCode, "code", "the code is not right: type the 6 digits your authenticator app shows now")
	}
	return u, nil
}
