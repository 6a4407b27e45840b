package tlog

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Proof errors.
var (
	// ErrBundle: a proof bundle that is not what the format says.
	ErrBundle = errors.New("tlog: malformed proof bundle")
	// ErrNotIncluded: the proof does not lead from the leaf to the checkpoint's root.
	ErrNotIncluded = errors.New("tlog: inclusion proof does not verify")
	// ErrInconsistent: two checkpoints that no append-only log can both have signed.
	ErrInconsistent = errors.New("tlog: checkpoints are not consistent")
	// ErrQuorum: fewer trusted witnesses cosigned the checkpoint than required.
	ErrQuorum = errors.New("tlog: too few witness cosignatures")
)

// MaxBundleBytes bounds a proof bundle: a checkpoint, an entry and 64 hashes.
const MaxBundleBytes = 128 << 10

// Bundle is an inclusion proof with everything needed to check it offline: the answer of
// the log's GET /proof/<leaf hash>, and what `votestream verify --proof` reads.
type Bundle struct {
	LeafIndex uint64 `json:"leaf_index"`
	LeafHash  string `json:"leaf_hash"` // lower-case hex, RFC 6962 leaf hash
	// Entry is the leaf itself (the JSON that schemas' leaf functions write).
	Entry    string `json:"entry,omitempty"`
	TreeSize uint64 `json:"tree_size"`
	// Inclusion is the RFC 6962 audit path, hex, from the leaf upwards.
	Inclusion []string `json:"inclusion"`
	// Checkpoint is the signed note of TreeSize, with any witness cosignatures.
	Checkpoint string `json:"checkpoint"`
}

// ParseBundle decodes a bundle and checks its shape (not its proof: see Verify).
func ParseBundle(b []byte) (*Bundle, error) {
	if len(b) > MaxBundleBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBundle, len(b), MaxBundleBytes)
	}
	var pb Bundle
	if err := json.Unmarshal(b, &pb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if _, err := pb.leafHash(); err != nil {
		return nil, err
	}
	if pb.TreeSize == 0 || pb.LeafIndex >= pb.TreeSize {
		return nil, fmt.Errorf("%w: leaf %d is not in a tree of %d", ErrBundle, pb.LeafIndex, pb.TreeSize)
	}
	if len(pb.Inclusion) > 64 {
		return nil, fmt.Errorf("%w: %d proof hashes", ErrBundle, len(pb.Inclusion))
	}
	if _, err := decodeHashes(pb.Inclusion); err != nil {
		return nil, err
	}
	return &pb, nil
}

func (b *Bundle) leafHash() ([32]byte, error) {
	var h [32]byte
	if len(b.LeafHash) != 64 {
		return h, fmt.Errorf("%w: leaf_hash is not 64 hex digits", ErrBundle)
	}
	if _, err := hex.Decode(h[:], []byte(b.LeafHash)); err != nil {
		return h, fmt.Errorf("%w: leaf_hash is not hex", ErrBundle)
	}
	return h, nil
}

func decodeHashes(in []string) ([][]byte, error) {
	out := make([][]byte, len(in))
	for i, s := range in {
		h, err := hex.DecodeString(s)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("%w: proof hash %d is not 64 hex digits", ErrBundle, i)
		}
		out[i] = h
	}
	return out, nil
}

// EncodeHashes writes proof hashes as a Bundle holds them.
func EncodeHashes(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h)
	}
	return out
}

// Verify checks the bundle on its own: the checkpoint's signature by one of logKeys, the
// entry (when present) hashing to the leaf hash, and the audit path from the leaf to the
// checkpoint's root. It returns the opened checkpoint (with its verified cosigners among
// witnessKeys) so the caller can apply a quorum.
func (b *Bundle) Verify(logKeys, witnessKeys []note.Verifier) (*Checkpoint, error) {
	cp, err := Open([]byte(b.Checkpoint), logKeys, witnessKeys)
	if err != nil {
		return nil, err
	}
	if cp.Size != b.TreeSize {
		return nil, fmt.Errorf("%w: the proof is for a tree of %d, the checkpoint of %d", ErrBundle, b.TreeSize, cp.Size)
	}
	leaf, err := b.leafHash()
	if err != nil {
		return nil, err
	}
	if b.Entry != "" {
		if got := rfc6962.DefaultHasher.HashLeaf([]byte(b.Entry)); string(got) != string(leaf[:]) {
			return nil, fmt.Errorf("%w: the entry does not hash to leaf_hash", ErrNotIncluded)
		}
	}
	hs, err := decodeHashes(b.Inclusion)
	if err != nil {
		return nil, err
	}
	if err := VerifyInclusion(leaf, b.LeafIndex, cp, hs); err != nil {
		return nil, err
	}
	return cp, nil
}

// VerifyInclusion checks an audit path from a leaf hash at index to the checkpoint's root.
func VerifyInclusion(leaf [32]byte, index uint64, cp *Checkpoint, path [][]byte) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leaf[:], path, cp.Root[:]); err != nil {
		return fmt.Errorf("%w: leaf %d in a tree of %d: %v", ErrNotIncluded, index, cp.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of newer extends the tree of older (a proof
// between equal sizes is empty and the roots must be equal).
func VerifyConsistency(older, newer *Checkpoint, path [][]byte) error {
	if older.Size > newer.Size {
		return fmt.Errorf("%w: the newer checkpoint (%d) is smaller than the older (%d)", ErrInconsistent, newer.Size, older.Size)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, path, older.Root[:], newer.Root[:]); err != nil {
		return fmt.Errorf("%w: %d -> %d: %v", ErrInconsistent, older.Size, newer.Size, err)
	}
	return nil
}

// RequireQuorum fails with ErrQuorum when fewer than quorum witnesses cosigned cp.
func RequireQuorum(cp *Checkpoint, quorum int) error {
	if len(cp.Cosigners) < quorum {
		return fmt.Errorf("%w: %d of the %d required (cosigned by: %v)", ErrQuorum, len(cp.Cosigners), quorum, cp.Cosigners)
	}
	return nil
}
