package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"votestream/internal/fileparse"
)

// Headers of a console-signed request (ConsoleKeys.Sign).
const (
	HeaderConsoleSignature = "X-Console-Signature" // "<key id>.<base64url HMAC-SHA256>"
	HeaderConsoleTime      = "X-Console-Time"      // Unix seconds the console signed at
)

// ErrConsoleSignature: a request lacks a valid console signature (missing, unknown key,
// wrong, or outside the clock skew).
var ErrConsoleSignature = errors.New("token: no valid console signature")

// ConsoleKeys is the secret the review console and ingest share, so ingest can tell a
// decision the console forwarded (after its second factor and, for overrides, its second
// approver) from the same staff token posted directly. Same file format as the token key
// files (ParseKeyring): the last key signs, every key verifies, so it rotates the same way.
// Immutable, safe for concurrent use.
type ConsoleKeys struct{ ring *Keyring }

// NewConsoleKeys builds console keys as NewKeyring builds a keyring.
func NewConsoleKeys(active string, keys map[string][]byte) (*ConsoleKeys, error) {
	k, err := NewKeyring(active, keys)
	if err != nil {
		return nil, err
	}
	return &ConsoleKeys{ring: k}, nil
}

// ParseConsoleKeys reads a console key file (the format of ParseKeyring).
func ParseConsoleKeys(r io.Reader) (*ConsoleKeys, error) {
	k, err := ParseKeyring(r)
	if err != nil {
		return nil, err
	}
	return &ConsoleKeys{ring: k}, nil
}

// LoadConsoleKeys reads a console key file.
func LoadConsoleKeys(path string) (*ConsoleKeys, error) {
	return fileparse.Load(path, "token: open console keys", ParseConsoleKeys)
}

// CheckConsoleDisjoint refuses console keys that share a secret with a token keyring: a
// key file copied to the wrong flag would otherwise let whoever holds it do both.
func CheckConsoleDisjoint(ring *Keyring, c *ConsoleKeys) error {
	for rid, r := range ring.keys {
		for cid, s := range c.ring.keys {
			if hmac.Equal(r, s) {
				return fmt.Errorf("%w: console key %q is token key %q: generate a separate console key file", ErrBadKeyring, cid, rid)
			}
		}
	}
	return nil
}

// consoleMAC is the HMAC of what a signature vouches for: the method, the API path, the
// token the request carries (so a captured signature does not lend itself to another
// token), the body and the time. The prefix keeps it apart from token signatures.
func consoleMAC(secret []byte, method, path, authorization string, body []byte, unix int64) []byte {
	auth := sha256.Sum256([]byte(authorization))
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "votestream-console-v1\n%s\n%s\n%s\n%s\n%d", method, path, hex.EncodeToString(auth[:]), hex.EncodeToString(sum[:]), unix)
	return m.Sum(nil)
}

// Sign sets the console signature headers on req, which must already carry its
// Authorization header. path is the API path ingest serves ("/v1/reviews"), whatever
// prefix a proxy in front adds.
func (k *ConsoleKeys) Sign(req *http.Request, path string, body []byte, at time.Time) {
	unix := at.Unix()
	mac := consoleMAC(k.ring.keys[k.ring.active], req.Method, path, req.Header.Get("Authorization"), body, unix)
	req.Header.Set(HeaderConsoleSignature, k.ring.active+"."+base64.RawURLEncoding.EncodeToString(mac))
	req.Header.Set(HeaderConsoleTime, strconv.FormatInt(unix, 10))
}

// Verify checks r's console signature over body against r's method, URL path and
// Authorization header, signed within skew of now. Errors wrap ErrConsoleSignature.
func (k *ConsoleKeys) Verify(r *http.Request, body []byte, now time.Time, skew time.Duration) error {
	sig, ts := r.Header.Get(HeaderConsoleSignature), r.Header.Get(HeaderConsoleTime)
	if sig == "" || ts == "" {
		return fmt.Errorf("%w: not signed by the console", ErrConsoleSignature)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrConsoleSignature, HeaderConsoleTime)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > skew || d < -skew {
		return fmt.Errorf("%w: signed %s away from this server's clock (allowed %s): check the clocks", ErrConsoleSignature, d.Round(time.Second), skew)
	}
	id, b64, ok := strings.Cut(sig, ".")
	secret, known := k.ring.keys[id]
	if !ok || !known {
		return fmt.Errorf("%w: unknown console key", ErrConsoleSignature)
	}
	got, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || !hmac.Equal(got, consoleMAC(secret, r.Method, r.URL.Path, r.Header.Get("Authorization"), body, unix)) {
		return fmt.Errorf("%w: the signature does not match", ErrConsoleSignature)
	}
	return nil
}
