package ingest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"votestream/ingest/token"
	"votestream/schemas"
)

// Personal links. A token issued with Bind (`votestream volunteers import --links`) rides in
// the link's fragment (#t=...), which browsers never send to a server. The form makes an
// ECDSA P-256 key pair with WebCrypto, private key non-extractable, keeps it in IndexedDB
// and activates the link once (POST /v1/activate with the public key). From then on every
// request with that token must carry a proof signed by that key:
//
//	X-Device-Proof: <unix milliseconds>.<base64url of the 64-byte P1363 signature>
//
// over "vsp1\n<milliseconds>\n<METHOD>\n<path>". A forwarded link that was already opened
// has the token but not the key: its activation gets 409 LINK_USED and its reports 401
// DEVICE_PROOF. The first activation of a token in fieldwork.v1's order wins, whichever
// ingest process took it. An organisation reissues a link with `votestream volunteers
// reissue`: a new token, and a reissue event after which the volunteer's older tokens stop
// working (401 TOKEN_REVOKED).

// HeaderDeviceProof carries a bound token's proof of the device key.
const HeaderDeviceProof = "X-Device-Proof"

// proofSkew is how far a proof's time may be from ingest's: phones' clocks drift, and the
// form corrects its own by the Date of ingest's answers. A proof is no secret (TLS carries
// it); the time only keeps a copied header from working for ever.
const proofSkew = time.Hour

// parseDeviceKey decodes a public key as base64url of the 65-byte uncompressed P-256 point
// (WebCrypto's "raw" export). It refuses points not on the curve.
func parseDeviceKey(s string) (*ecdsa.PublicKey, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) != 65 || raw[0] != 4 {
		return nil, false
	}
	pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, false
	}
	return pk, true
}

// proofMessage is what the device signs.
func proofMessage(ms, method, path string) []byte {
	return []byte("vsp1\n" + ms + "\n" + method + "\n" + path)
}

// verifyProof checks a proof header against key at now.
func verifyProof(header string, key *ecdsa.PublicKey, method, path string, now time.Time) bool {
	ms, sigB64, ok := strings.Cut(header, ".")
	if !ok || len(ms) == 0 || len(ms) > 16 {
		return false
	}
	t, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.UnixMilli(t)); d > proofSkew || d < -proofSkew {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigB64)
	if err != nil || len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(proofMessage(ms, method, path))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(key, h[:], r, s)
}

// checkDevice applies what fieldwork.v1 says about a token that verified: a reissue that
// superseded it, and, for a personal link's token, the device it is bound to.
func (s *Server) checkDevice(r *http.Request, c token.Claims, now time.Time) *APIError {
	if s.field == nil {
		return nil
	}
	if !s.field.isReady() {
		if c.Bind {
			return apiErr(CodeStarting, "", "ingest is starting: it is reading which phones the links are bound to; retry after the Retry-After delay")
		}
		return nil
	}
	if s.field.superseded(c.VolunteerID, c.TokenID, c.IssuedAt) {
		return apiErr(CodeTokenRevoked, "", "this link was replaced by a newer one: ask your organisation")
	}
	if !c.Bind {
		return nil
	}
	keyText := s.field.boundKey(c.TokenID)
	if keyText == "" {
		return apiErr(CodeNotActivated, "", "this personal link has not been opened on a phone yet: open the link itself")
	}
	key, ok := parseDeviceKey(keyText)
	if !ok || !verifyProof(r.Header.Get(HeaderDeviceProof), key, r.Method, r.URL.Path, now) {
		return apiErr(CodeDeviceProof, "", "this link is in use on another phone: ask your organisation for a new link")
	}
	return nil
}

// activateWire is the body of POST /v1/activate.
type activateWire struct {
	EventID   *string `json:"event_id"`
	DeviceKey *string `json:"device_key"`
}

// handleActivate serves POST /v1/activate: bind a personal link's token to the device key in
// the body, proven by a proof made with that key. 201 when this call bound it, 200 when it
// was already bound to this key (a retry), 409 LINK_USED when another device has it.
func (s *Server) handleActivate(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	c, e := s.authenticateToken(r, now)
	if e == nil {
		if ok, wait := s.limiter.allow(c.VolunteerID, now); !ok {
			s.setRetryAfter(w, wait)
			e = apiErr(CodeRateLimited, "", "too many requests from this volunteer; wait %s", wait)
		}
	}
	if e == nil {
		e = s.fieldReady()
	}
	if e == nil && s.field.superseded(c.VolunteerID, c.TokenID, c.IssuedAt) {
		e = apiErr(CodeTokenRevoked, "", "this link was replaced by a newer one: ask your organisation")
	}
	if e == nil && !c.Bind {
		e = apiErr(CodeInvalidValue, "", "this token is not a personal link's: it needs no activation")
	}
	var body []byte
	if e == nil {
		body, e = s.readJSONBody(w, r)
	}
	var wire activateWire
	if e == nil {
		e = decodeStrict(body, &wire)
	}
	switch {
	case e != nil:
	case wire.EventID == nil:
		e = missing("event_id")
	case wire.DeviceKey == nil:
		e = missing("device_key")
	default:
		e = checkUUID("event_id", *wire.EventID)
	}
	var key *ecdsa.PublicKey
	if e == nil {
		var ok bool
		if key, ok = parseDeviceKey(*wire.DeviceKey); !ok {
			e = apiErr(CodeInvalidValue, "device_key", "device_key must be base64url of an uncompressed P-256 public key (65 bytes)")
		} else if !verifyProof(r.Header.Get(HeaderDeviceProof), key, r.Method, r.URL.Path, now) {
			e = apiErr(CodeDeviceProof, "", "the activation must carry a proof made with the device key it binds (X-Device-Proof)")
		}
	}
	if e != nil {
		s.writeFieldError(w, e)
		return
	}
	if prev := s.field.boundKey(c.TokenID); prev != "" {
		s.answerActivation(w, c, prev == *wire.DeviceKey, http.StatusOK)
		return
	}
	ev := &schemas.FieldEvent{
		EventID: strings.ToLower(*wire.EventID), Kind: schemas.FieldActivate, VolunteerID: c.VolunteerID, Org: c.Org,
		TokenID: c.TokenID, DeviceKey: *wire.DeviceKey, At: now.UTC(),
	}
	if e := s.logField(r.Context(), ev); e != nil {
		s.writeFieldError(w, e)
		return
	}
	s.answerActivation(w, c, s.field.boundKey(c.TokenID) == *wire.DeviceKey, http.StatusCreated)
}

func (s *Server) answerActivation(w http.ResponseWriter, c token.Claims, ours bool, status int) {
	if !ours {
		s.writeFieldError(w, apiErr(CodeLinkUsed, "", "this link was already opened on another phone; a personal link works on one phone only: ask your organisation for a new link"))
		return
	}
	writeJSON(w, status, map[string]any{"volunteer_id": c.VolunteerID, "org": c.Org, "server_time": s.now().UTC()})
}

// fieldReady answers 503 STARTING until the fieldwork state holds what was logged before
// ingest started.
func (s *Server) fieldReady() *APIError {
	if s.field == nil || !s.field.isReady() {
		return apiErr(CodeStarting, "", "ingest is starting: it is reading the volunteers' links and claims; retry after the Retry-After delay")
	}
	return nil
}

// writeFieldError writes e, with Retry-After on a 503.
func (s *Server) writeFieldError(w http.ResponseWriter, e *APIError) {
	if e.Status() == http.StatusServiceUnavailable {
		s.setRetryAfter(w, time.Second)
	}
	writeError(w, e)
}
