package tlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	flog "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint errors; Open's errors wrap one of them.
var (
	// ErrCheckpoint: not a well-formed signed checkpoint.
	ErrCheckpoint = errors.New("tlog: malformed checkpoint")
	// ErrSignature: no signature by the log's keys verifies, or a signature by a known key
	// does not (the note was altered).
	ErrSignature = errors.New("tlog: checkpoint not signed by the log")
)

// MaxNoteBytes bounds a signed checkpoint: a few lines and a signature per witness.
const MaxNoteBytes = 64 << 10

// Checkpoint is a verified signed checkpoint.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   [32]byte
	// Raw is the signed note as given: body, blank line, signature lines.
	Raw []byte
	// Cosigners names the witnesses (among those Open was given) whose cosignatures verify.
	Cosigners []string
}

// Open parses a signed checkpoint and checks it: the log's signature by one of logKeys
// (whose name is the origin), and any cosignatures by witnessKeys (which may be nil).
// Signatures by keys it was not given are ignored; one by a given key that does not
// verify fails the whole note, since it means the note was altered.
func Open(raw []byte, logKeys, witnessKeys []note.Verifier) (*Checkpoint, error) {
	if len(raw) > MaxNoteBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrCheckpoint, len(raw), MaxNoteBytes)
	}
	if len(logKeys) == 0 {
		return nil, fmt.Errorf("%w: no log key to check it with", ErrSignature)
	}
	n, err := note.Open(raw, note.VerifierList(append(slices.Clone(logKeys), witnessKeys...)...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &unverified):
			return nil, fmt.Errorf("%w: no signature by the log's key %s", ErrSignature, keyNames(logKeys))
		case strings.Contains(err.Error(), "invalid signature"):
			return nil, fmt.Errorf("%w: a signature does not verify: the checkpoint was altered", ErrSignature)
		}
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	cp := &Checkpoint{Raw: raw}
	var logSigned bool
	for _, s := range n.Sigs {
		if isKey(logKeys, s.Name, s.Hash) {
			logSigned = true
		} else if isKey(witnessKeys, s.Name, s.Hash) && !slices.Contains(cp.Cosigners, s.Name) {
			cp.Cosigners = append(cp.Cosigners, s.Name)
		}
	}
	if !logSigned {
		return nil, fmt.Errorf("%w: only cosignatures, no signature by the log's key %s", ErrSignature, keyNames(logKeys))
	}
	var c flog.Checkpoint
	if _, err := c.Unmarshal([]byte(n.Text)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if len(c.Hash) != 32 {
		return nil, fmt.Errorf("%w: root hash of %d bytes", ErrCheckpoint, len(c.Hash))
	}
	for _, k := range logKeys {
		if k.Name() != c.Origin {
			continue
		}
		cp.Origin, cp.Size = c.Origin, c.Size
		copy(cp.Root[:], c.Hash)
		slices.Sort(cp.Cosigners)
		return cp, nil
	}
	return nil, fmt.Errorf("%w: origin %q is not the name of the log's key %s", ErrSignature, c.Origin, keyNames(logKeys))
}

// Body is the signed text of the checkpoint (origin, size, root and any extension lines).
func (c *Checkpoint) Body() []byte {
	body, _, _ := bytes.Cut(c.Raw, []byte("\n\n"))
	return append(body, '\n')
}

func isKey(vs []note.Verifier, name string, hash uint32) bool {
	for _, v := range vs {
		if v.Name() == name && v.KeyHash() == hash {
			return true
		}
	}
	return false
}

func keyNames(vs []note.Verifier) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())
	}
	return strings.Join(names, ", ")
}

// SignatureLines returns the signature lines of a signed note ("— name base64\n" each).
func SignatureLines(raw []byte) [][]byte {
	_, sigs, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return nil
	}
	var out [][]byte
	for _, l := range bytes.SplitAfter(sigs, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// MergeSignatures appends to the signed note base every signature line of the others that
// base does not already have. The notes must have the same body; the result is a note whose
// signatures are the union, as C2SP tlog-witness merges cosignatures.
func MergeSignatures(base []byte, others ...[]byte) ([]byte, error) {
	body, _, ok := bytes.Cut(base, []byte("\n\n"))
	if !ok {
		return nil, fmt.Errorf("%w: no blank line before the signatures", ErrCheckpoint)
	}
	out := slices.Clone(base)
	have := map[string]bool{}
	for _, l := range SignatureLines(base) {
		have[string(l)] = true
	}
	for _, o := range others {
		ob, _, ok := bytes.Cut(o, []byte("\n\n"))
		if !ok || !bytes.Equal(ob, body) {
			return nil, fmt.Errorf("%w: the notes sign different checkpoints", ErrCheckpoint)
		}
		for _, l := range SignatureLines(o) {
			if !have[string(l)] {
				have[string(l)] = true
				out = append(out, l...)
			}
		}
	}
	return out, nil
}

// Cosign adds the witness's cosignature (C2SP tlog-cosignature/v1, timestamped now) to a
// signed checkpoint and returns the note with all its signatures.
func Cosign(raw []byte, witness note.Signer) ([]byte, error) {
	n := &note.Note{}
	body, _, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return nil, fmt.Errorf("%w: no blank line before the signatures", ErrCheckpoint)
	}
	n.Text = string(body) + "\n"
	signed, err := note.Sign(n, witness)
	if err != nil {
		return nil, fmt.Errorf("tlog: cosign: %w", err)
	}
	return MergeSignatures(raw, signed)
}

// SaveNote writes a signed note (a checkpoint with its cosignatures) to path atomically: a
// temporary file beside it, synced, renamed over. The folder is created when missing.
func SaveNote(path string, raw []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(raw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
