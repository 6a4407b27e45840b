package ingest

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"votestream/election"
	"votestream/ingest/token"
	"votestream/schemas"
)

// authenticate is authenticateToken, then what fieldwork.v1 says of the token (checkDevice):
// a reissue that replaced it, and the device a personal link is bound to.
func (s *Server) authenticate(r *http.Request, now time.Time) (token.Claims, *APIError) {
	c, e := s.authenticateToken(r, now)
	if e == nil {
		e = s.checkDevice(r, c, now)
	}
	return c, e
}

// authenticateToken reads the bearer token and returns its claims, or a 401 error. It checks
// the signature, validity period and revocation list; it touches no database.
func (s *Server) authenticateToken(r *http.Request, now time.Time) (token.Claims, *APIError) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return token.Claims{}, apiErr(CodeUnauthenticated, "", "send the volunteer token as \"Authorization: Bearer <token>\"")
	}
	c, err := s.verified.verify(s.keys, s.staff, strings.TrimSpace(tok), now)
	if err == nil {
		err = s.revoked.Check(c)
	}
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, token.ErrExpired):
		return c, apiErr(CodeTokenExpired, "", "the token has expired: ask your organisation for a new one")
	case errors.Is(err, token.ErrRevoked):
		return c, apiErr(CodeTokenRevoked, "", "the token has been revoked: ask your organisation")
	}
	return c, apiErr(CodeUnauthenticated, "", "the token is not valid: check it was copied whole")
}

// inScope reports whether the token may report on station st.
func inScope(c token.Claims, st election.Station) bool {
	switch c.Role {
	case schemas.RoleWarRoom:
		return true
	case schemas.RoleDistrictLead:
		return st.ConstituencyID == c.Constituency
	case schemas.RoleStation:
		return slices.Contains(c.Stations, st.ID)
	}
	return false
}

// requireLead refuses station volunteers on endpoints for district leads and the war room.
func requireLead(c token.Claims) *APIError {
	if c.Role == schemas.RoleDistrictLead || c.Role == schemas.RoleWarRoom {
		return nil
	}
	return apiErr(CodeForbiddenRole, "", "only district leads and the war room may send this; your role is %s", c.Role)
}

// tokenCache remembers tokens that verified, so a volunteer's tenth request costs a map
// lookup instead of a signature check and a JSON decode (together several microseconds,
// most of authentication's cost). Expiry is checked on every hit, and revocation is checked
// by the caller every time, so a cached token is never more valid than a fresh one. Bounded:
// when full it starts over, which costs one verification per active volunteer. Safe for
// concurrent use.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]token.Claims
}

// tokenCacheMax bounds the cache: about 400 bytes an entry, so some 80 MB at most; more
// than the volunteers DESIGN.md plans for.
const tokenCacheMax = 200000

// verify tries the volunteers' ring, then the staff ring when the first did not know the
// key or the signature: key ids of the two files may coincide, and each ring refuses the
// other's roles (token.ErrWrongClass).
func (tc *tokenCache) verify(k, staff *token.Keyring, tok string, now time.Time) (token.Claims, error) {
	tc.mu.RLock()
	c, ok := tc.m[tok]
	tc.mu.RUnlock()
	if ok {
		if !now.Before(c.ExpiresAt) {
			return token.Claims{}, token.ErrExpired
		}
		return c, nil
	}
	c, err := k.Verify(tok, now)
	if staff != nil && (errors.Is(err, token.ErrUnknownKey) || errors.Is(err, token.ErrBadSignature)) {
		c, err = staff.Verify(tok, now)
	}
	if err != nil {
		return c, err
	}
	tc.mu.Lock()
	if tc.m == nil || len(tc.m) >= tokenCacheMax {
		tc.m = make(map[string]token.Claims)
	}
	tc.m[tok] = c
	tc.mu.Unlock()
	return c, nil
}
