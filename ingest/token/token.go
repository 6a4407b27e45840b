// Package token issues and verifies volunteers' bearer tokens: signed, scoped, expiring
// credentials that ingest checks without a database lookup. A token says who the holder is
// (volunteer id, organisation, and the person behind them when the roster knows it), what
// they may do (role) and where (stations or a constituency), until when, and which key
// signed it.
//
// Tokens are HMAC-SHA256, not Ed25519. Ingest verifies a token on every request, up to tens
// of thousands per second on two shared cores: HMAC costs about a microsecond, an Ed25519
// verification some fifty, which at 20,000 requests/s would take a whole core. The asymmetry
// Ed25519 buys (a verifier that cannot mint tokens) matters little here, since the war room
// runs both the issuing (`votestream volunteers`) and ingest; the secret is kept off the
// volunteers' devices either way. The key id in every token lets a new key be added, tokens
// re-issued and the old key retired without a flag day.
//
// There are two key files, two classes of keyring: the volunteers' signs station volunteers'
// tokens only, the staff's those of district leads, the war room and the desk only (see
// Keyring). Both sign and verify with the same HMAC; what separates them is that a verifier
// refuses a role signed with the other class's keys, so the volunteers' key, which sits on
// more machines and in more hands, mints no privileged token.
//
// Wire form, four dot-separated fields, all URL-safe:
//
//	vt1.<key id>.<base64url(JSON claims)>.<base64url(HMAC-SHA256 over "vt1.<key id>.<claims>")>
//
// The signature is checked before the claims are decoded, so unauthenticated bytes never
// reach the JSON decoder. This package does no I/O except reading key and revocation files.
package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"votestream/schemas"
)

// Sentinel errors; every error of Verify wraps exactly one of them.
var (
	ErrMalformed    = errors.New("token: malformed")
	ErrUnknownKey   = errors.New("token: unknown key id")
	ErrBadSignature = errors.New("token: bad signature")
	ErrExpired      = errors.New("token: expired")
	ErrNotYetValid  = errors.New("token: not yet valid")
	ErrBadClaims    = errors.New("token: invalid claims")
	ErrRevoked      = errors.New("token: revoked")
)

// ErrWrongClass (keyring.go) is also a sentinel of Verify.

// version is the first field of every token; a new format gets a new prefix.
const version = "vt1"

// MaxLen bounds a token's length, checked before any decoding. A station volunteer's scope
// is a handful of station ids; 4 KiB leaves room for a few dozen.
const MaxLen = 4096

// MinKeyLen is the shortest HMAC secret a Keyring accepts, in bytes.
const MinKeyLen = 32

// Claims is what a token asserts.
type Claims struct {
	TokenID      string    // random, unique per issued token; revocable on its own
	VolunteerID  string    // stable across re-issues; revoking it revokes every token of the person
	Org          string    // the organisation that recruited the volunteer
	Role         string    // schemas.RoleStation, RoleDistrictLead or RoleWarRoom
	Stations     []string  // scope of a station volunteer: the station ids they may report
	Constituency string    // scope of a district lead: one constituency id
	IssuedAt     time.Time // second precision
	ExpiresAt    time.Time // second precision

	// Person is the roster's salted phone hash (lower-case hex SHA-256), "" when unknown. It
	// ties together the tokens one person holds from several organisations, so their reports
	// are not taken for independent sources. Optional: tokens issued before it existed verify
	// without it.
	Person string

	// Bind marks a personal link's token: it works only after it was activated on one
	// device, and then only with that device's proof (ingest's devices.go). Tokens for
	// apps and scripts leave it false.
	Bind bool
}

// wireClaims is the JSON of Claims, with short names to keep tokens small in headers.
type wireClaims struct {
	TokenID      string   `json:"jti"`
	VolunteerID  string   `json:"sub"`
	Org          string   `json:"org"`
	Person       string   `json:"per,omitempty"`
	Bind         bool     `json:"bnd,omitempty"`
	Role         string   `json:"role"`
	Stations     []string `json:"stn,omitempty"`
	Constituency string   `json:"con,omitempty"`
	IssuedAt     int64    `json:"iat"`
	ExpiresAt    int64    `json:"exp"`
}

// Validate checks that the claims are complete and that the scope fits the role: a station
// volunteer has stations and no constituency, a district lead a constituency and no
// stations, the war room neither (it may act everywhere).
func (c Claims) Validate() error {
	switch {
	case c.TokenID == "":
		return fmt.Errorf("%w: empty token id", ErrBadClaims)
	case c.VolunteerID == "":
		return fmt.Errorf("%w: empty volunteer id", ErrBadClaims)
	case c.Org == "":
		return fmt.Errorf("%w: empty organisation", ErrBadClaims)
	case c.Person != "" && !validPerson(c.Person):
		return fmt.Errorf("%w: person is not 64 lower-case hex digits", ErrBadClaims)
	case !c.ExpiresAt.After(c.IssuedAt):
		return fmt.Errorf("%w: expiry %s not after issue %s", ErrBadClaims, c.ExpiresAt, c.IssuedAt)
	}
	switch c.Role {
	case schemas.RoleStation:
		if len(c.Stations) == 0 || c.Constituency != "" {
			return fmt.Errorf("%w: a station volunteer's scope is one or more stations", ErrBadClaims)
		}
		if slices.Contains(c.Stations, "") {
			return fmt.Errorf("%w: empty station id in scope", ErrBadClaims)
		}
	case schemas.RoleDistrictLead:
		if c.Constituency == "" || len(c.Stations) != 0 {
			return fmt.Errorf("%w: a district lead's scope is one constituency", ErrBadClaims)
		}
	case schemas.RoleWarRoom, schemas.RoleDesk:
		if c.Constituency != "" || len(c.Stations) != 0 {
			return fmt.Errorf("%w: the war room and the desk have no scope restriction", ErrBadClaims)
		}
	default:
		return fmt.Errorf("%w: unknown role %q", ErrBadClaims, c.Role)
	}
	return nil
}

// validPerson reports whether p has the form of a roster phone hash. report.v1 holds the
// same pattern; a token that could not pass it would have its every report refused later.
func validPerson(p string) bool {
	if len(p) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// NewTokenID returns a random 128-bit token id in hex.
func NewTokenID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("token: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return hex.EncodeToString(b[:])
}

var b64 = base64.RawURLEncoding.Strict()

// Issue signs c with the keyring's active key. TokenID is filled in when empty; times are
// truncated to whole seconds. Safe for concurrent use.
func (k *Keyring) Issue(c Claims) (string, error) {
	if c.TokenID == "" {
		c.TokenID = NewTokenID()
	}
	c.IssuedAt = c.IssuedAt.Truncate(time.Second)
	c.ExpiresAt = c.ExpiresAt.Truncate(time.Second)
	if err := c.Validate(); err != nil {
		return "", err
	}
	if err := k.checkClass(c.Role); err != nil {
		return "", err
	}
	payload, err := json.Marshal(wireClaims{
		TokenID: c.TokenID, VolunteerID: c.VolunteerID, Org: c.Org, Person: c.Person, Bind: c.Bind, Role: c.Role,
		Stations: c.Stations, Constituency: c.Constituency,
		IssuedAt: c.IssuedAt.Unix(), ExpiresAt: c.ExpiresAt.Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("token: encode claims: %w", err)
	}
	signed := version + "." + k.active + "." + b64.EncodeToString(payload)
	mac := hmac.New(sha256.New, k.keys[k.active])
	mac.Write([]byte(signed))
	return signed + "." + b64.EncodeToString(mac.Sum(nil)), nil
}

// Verify checks tok's form, key, signature and validity period at now, and returns its
// claims. It does not consult a revocation list (see Revocations). Safe for concurrent use;
// it never panics, whatever tok holds.
func (k *Keyring) Verify(tok string, now time.Time) (Claims, error) {
	if len(tok) > MaxLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxLen)
	}
	ver, rest, ok1 := strings.Cut(tok, ".")
	kid, rest, ok2 := strings.Cut(rest, ".")
	payloadB64, sigB64, ok3 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !ok3 || ver != version || strings.Contains(sigB64, ".") {
		return Claims{}, fmt.Errorf("%w: want vt1.<key>.<claims>.<signature>", ErrMalformed)
	}
	key, ok := k.keys[kid]
	if !ok {
		return Claims{}, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	sig, err := b64.DecodeString(sigB64)
	if err != nil || len(sig) != sha256.Size {
		return Claims{}, fmt.Errorf("%w: signature is not 32 bytes of base64url", ErrMalformed)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(tok[:len(tok)-len(sigB64)-1]))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return Claims{}, ErrBadSignature
	}
	payload, err := b64.DecodeString(payloadB64)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	var w wireClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	c := Claims{
		TokenID: w.TokenID, VolunteerID: w.VolunteerID, Org: w.Org, Person: w.Person, Bind: w.Bind, Role: w.Role,
		Stations: w.Stations, Constituency: w.Constituency,
		IssuedAt: time.Unix(w.IssuedAt, 0).UTC(), ExpiresAt: time.Unix(w.ExpiresAt, 0).UTC(),
	}
	if err := c.Validate(); err != nil {
		return Claims{}, err
	}
	if err := k.checkClass(c.Role); err != nil {
		return Claims{}, err
	}
	if !now.Before(c.ExpiresAt) {
		return Claims{}, fmt.Errorf("%w: at %s", ErrExpired, c.ExpiresAt.Format(time.RFC3339))
	}
	// A minute of grace for the issuing machine's clock running ahead of ingest's.
	if now.Add(time.Minute).Before(c.IssuedAt) {
		return Claims{}, fmt.Errorf("%w: issued at %s", ErrNotYetValid, c.IssuedAt.Format(time.RFC3339))
	}
	return c, nil
}
