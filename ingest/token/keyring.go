package token

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"votestream/internal/fileparse"
	"votestream/schemas"
)

// ErrBadKeyring: a key file or key set is unusable.
var ErrBadKeyring = errors.New("token: bad keyring")

// Keyring holds the HMAC secrets by key id. Issue signs with the active key; Verify accepts
// any key of the ring, which is how keys rotate: add a new key (it becomes active), re-issue
// tokens, and drop the old key once no valid token uses it. Immutable once built, so safe for
// concurrent use.
//
// A keyring has a class: a volunteers' ring signs and verifies station volunteers' tokens
// only, a staff ring (NewStaffKeyring, LoadStaffKeyring) those of district leads, the war
// room and every other privileged role only. Issue and Verify refuse a token of the other
// class, so a leaked volunteers' key mints no lead or desk token, whatever its key id.
type Keyring struct {
	keys   map[string][]byte
	active string
	staff  bool
}

// ErrWrongClass: a token's role does not belong to the keyring that signed it (a lead's
// token signed with the volunteers' key, or a volunteer's with the staff key).
var ErrWrongClass = errors.New("token: role not signed by this keyring")

// Privileged reports whether role is a staff role: anything but a station volunteer. New
// roles (the decision desk) are privileged without a change here.
func Privileged(role string) bool { return role != schemas.RoleStation }

// Staff reports whether k is a staff ring.
func (k *Keyring) Staff() bool { return k.staff }

// checkClass refuses claims whose role is not of k's class.
func (k *Keyring) checkClass(role string) error {
	if Privileged(role) != k.staff {
		if k.staff {
			return fmt.Errorf("%w: a %s token belongs to the volunteers' keyring, this is the staff keyring", ErrWrongClass, role)
		}
		return fmt.Errorf("%w: a %s token belongs to the staff keyring, this is the volunteers' keyring", ErrWrongClass, role)
	}
	return nil
}

// NewStaffKeyring is NewKeyring for a staff ring.
func NewStaffKeyring(active string, keys map[string][]byte) (*Keyring, error) {
	k, err := NewKeyring(active, keys)
	if err != nil {
		return nil, err
	}
	k.staff = true
	return k, nil
}

// LoadStaffKeyring reads a staff key file (see ParseKeyring). It must not share a secret
// with the volunteers' key file: CheckDisjoint tells.
func LoadStaffKeyring(path string) (*Keyring, error) {
	k, err := LoadKeyring(path)
	if err != nil {
		return nil, err
	}
	k.staff = true
	return k, nil
}

// CheckDisjoint refuses a staff ring and a volunteers' ring that share a secret: then the
// volunteers' key could sign staff tokens after all.
func CheckDisjoint(volunteers, staff *Keyring) error {
	for vid, v := range volunteers.keys {
		for sid, s := range staff.keys {
			if hmac.Equal(v, s) {
				return fmt.Errorf("%w: staff key %q is the volunteers' key %q: generate a separate staff key file", ErrBadKeyring, sid, vid)
			}
		}
	}
	return nil
}

// NewKeyring builds a keyring. active must be one of keys; every key must be at least
// MinKeyLen bytes and every key id 1-32 characters of [A-Za-z0-9_-].
func NewKeyring(active string, keys map[string][]byte) (*Keyring, error) {
	k := &Keyring{keys: make(map[string][]byte, len(keys)), active: active}
	for id, secret := range keys {
		if !validKeyID(id) {
			return nil, fmt.Errorf("%w: key id %q: want 1-32 characters of A-Z a-z 0-9 _ -", ErrBadKeyring, id)
		}
		if len(secret) < MinKeyLen {
			return nil, fmt.Errorf("%w: key %q is %d bytes, want at least %d", ErrBadKeyring, id, len(secret), MinKeyLen)
		}
		k.keys[id] = append([]byte(nil), secret...)
	}
	if _, ok := k.keys[active]; !ok {
		return nil, fmt.Errorf("%w: active key %q not in the ring", ErrBadKeyring, active)
	}
	return k, nil
}

// Active returns the id of the key Issue signs with.
func (k *Keyring) Active() string { return k.active }

func validKeyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// ParseKeyring reads a key file: one key per line as "<key id> <secret in base64>", blank
// lines and lines starting with '#' ignored. The LAST key listed is the active one, so a
// rotation appends a line. Standard and URL-safe base64, padded or not, are accepted.
func ParseKeyring(r io.Reader) (*Keyring, error) {
	keys := map[string][]byte{}
	var active string
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%w: line %d: want \"<key id> <base64 secret>\"", ErrBadKeyring, line)
		}
		secret, err := decodeSecret(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: secret is not base64", ErrBadKeyring, line)
		}
		if _, dup := keys[fields[0]]; dup {
			return nil, fmt.Errorf("%w: line %d: key id %q listed twice", ErrBadKeyring, line, fields[0])
		}
		keys[fields[0]] = secret
		active = fields[0]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token: read keyring: %w", err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrBadKeyring)
	}
	return NewKeyring(active, keys)
}

func decodeSecret(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// LoadKeyring reads a key file (see ParseKeyring).
func LoadKeyring(path string) (*Keyring, error) {
	return fileparse.Load(path, "token: open keyring", ParseKeyring)
}

// NewKeyLine returns a fresh random 32-byte key as a key file line for id, ready to append
// to a key file.
func NewKeyLine(id string) (string, error) {
	if !validKeyID(id) {
		return "", fmt.Errorf("%w: key id %q", ErrBadKeyring, id)
	}
	var b [MinKeyLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("token: random key: %w", err)
	}
	return id + " " + base64.StdEncoding.EncodeToString(b[:]) + "\n", nil
}
