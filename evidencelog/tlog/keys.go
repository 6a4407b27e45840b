package tlog

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"votestream/internal/fileparse"
)

// ErrKeys: a key file or key is unusable.
var ErrKeys = errors.New("tlog: bad key")

// GenerateKey makes a fresh Ed25519 key pair named name (the log's origin, or a witness's
// name): skey is the private key line, vkey the public one, both in the note format
// ("PRIVATE+KEY+<name>+<hash>+<base64>" and "<name>+<hash>+<base64>").
func GenerateKey(name string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("%w: name %q: %v", ErrKeys, name, err)
	}
	return skey, vkey, nil
}

// keyLines reads the non-blank, non-comment lines of a key file.
func keyLines(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tlog: read keys: %w", err)
	}
	return out, nil
}

// ParseSigners reads a log's signing key file: one private key a line, blank lines and
// '#' comments ignored. The LAST key is the primary; every key signs each checkpoint, which
// is how a key rotates: append the new key (checkpoints then carry both signatures), give
// verifiers the new public key, and remove the old line once they have it. All keys must
// have the same name, the log's origin.
func ParseSigners(r io.Reader) (*Signers, error) {
	lines, err := keyLines(r)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%w: no key in the file", ErrKeys)
	}
	out := &Signers{}
	var all []note.Signer
	for i, l := range lines {
		s, err := note.NewSigner(l)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: not a note private key (PRIVATE+KEY+<name>+<hash>+<base64>)", ErrKeys, i+1)
		}
		if len(all) > 0 && s.Name() != all[0].Name() {
			return nil, fmt.Errorf("%w: key %d is named %q, key 1 %q: every key of a log has its origin as name", ErrKeys, i+1, s.Name(), all[0].Name())
		}
		vkey, err := publicKeyOf(l)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrKeys, i+1, err)
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrKeys, i+1, err)
		}
		all = append(all, s)
		out.PublicKeys = append(out.PublicKeys, vkey)
		out.Verifiers = append(out.Verifiers, v)
	}
	out.Primary, out.Others = all[len(all)-1], all[:len(all)-1]
	return out, nil
}

// Signers are a log's signing keys.
type Signers struct {
	Primary    note.Signer
	Others     []note.Signer
	PublicKeys []string        // of every key, in the file's order
	Verifiers  []note.Verifier // of every key, in the file's order
}

// publicKeyOf derives the verifier key of an Ed25519 note private key.
func publicKeyOf(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5) // the base64 key may hold "+"
	if len(parts) != 5 {
		return "", errors.New("malformed private key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("not an Ed25519 private key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// LoadSigners reads a signing key file (see ParseSigners).
func LoadSigners(path string) (*Signers, error) {
	return fileparse.Load(path, "tlog: signing keys", ParseSigners)
}

// ParseVerifiers reads public keys, one a line ("<name>+<hash>+<base64>"), blank lines and
// '#' comments ignored: a log's keys (old and new during a rotation) or a list of witnesses.
func ParseVerifiers(r io.Reader) ([]string, error) {
	lines, err := keyLines(r)
	if err != nil {
		return nil, err
	}
	for i, l := range lines {
		if _, err := note.NewVerifier(l); err != nil {
			return nil, fmt.Errorf("%w: public key %d: not a note verifier key (<name>+<hash>+<base64>)", ErrKeys, i+1)
		}
	}
	return lines, nil
}

// LoadVerifiers reads a public key file (see ParseVerifiers).
func LoadVerifiers(path string) ([]string, error) {
	return fileparse.Load(path, "tlog: public keys", ParseVerifiers)
}

// LogVerifiers turns a log's public keys into verifiers of its checkpoint signatures.
func LogVerifiers(vkeys []string) ([]note.Verifier, error) {
	out := make([]note.Verifier, 0, len(vkeys))
	for _, k := range vkeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrKeys, k, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// WitnessVerifiers turns witnesses' public keys (plain Ed25519 note keys, as GenerateKey
// writes them) into verifiers of their C2SP tlog-cosignature/v1 cosignatures.
func WitnessVerifiers(vkeys []string) ([]note.Verifier, error) {
	out := make([]note.Verifier, 0, len(vkeys))
	for _, k := range vkeys {
		v, err := fnote.NewVerifierForCosignatureV1(k)
		if err != nil {
			return nil, fmt.Errorf("%w: witness key %q: %v", ErrKeys, k, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// CosignatureSigner turns a witness's private key into a C2SP tlog-cosignature/v1 signer.
func CosignatureSigner(skey string) (note.Signer, error) {
	s, err := fnote.NewSignerForCosignatureV1(strings.TrimSpace(skey))
	if err != nil {
		return nil, fmt.Errorf("%w: witness private key: %v", ErrKeys, err)
	}
	return s, nil
}
