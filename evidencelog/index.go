package evidencelog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// leafIndex maps every leaf hash of the log to its index: the writer's dedupe (a leaf is
// appended at most once, also after a crash between integration and the Kafka commit) and
// the proof lookup by leaf hash.
//
// On disk it is one file of 32-byte leaf hashes in log order (leaf i at offset 32*i),
// appended and synced after each integrated batch; the log is the truth and the file is
// rebuilt from its entry bundles where it falls short (Open). In memory it holds the hashes
// and an open-addressing table of indices keyed by the hashes' first bytes: about 32 bytes
// per leaf plus 4 to 8 for the table (3 million leaves, a national night, take some 120 MB).
// Not safe for concurrent use: the writer's loop owns appends; readers take the mutex of
// the Log that holds it.
type leafIndex struct {
	f      *os.File
	hashes []byte   // 32 bytes per leaf, in log order
	table  []uint32 // index+1, 0 empty; len a power of two
}

func hashKey(h []byte) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// openLeafIndex opens (creating) the index file at path and brings it up to the log's
// integrated size, reading what it lacks from the log's entry bundles. It checks the last
// leaves it already had against the log, so a file from another log, or one that an
// operating-system crash left torn, is rebuilt rather than trusted.
func openLeafIndex(ctx context.Context, path string, size uint64, readBundle func(ctx context.Context, index uint64, p uint8) ([]byte, error)) (*leafIndex, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("leaf index: %w", err)
	}
	x := &leafIndex{f: f}
	raw, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("leaf index: read %s: %w", path, err)
	}
	have := uint64(len(raw) / 32)
	if have > size {
		have = 0 // longer than the log: not this log's index
	}
	// Check the tail against the log; on a mismatch start over.
	if have > 0 {
		from := have - min(have, layout.EntryBundleWidth)
		check, err := leafHashesFromLog(ctx, readBundle, from, have, size)
		if err != nil || !bytes.Equal(check, raw[from*32:have*32]) {
			have = 0
		}
	}
	x.hashes = make([]byte, 0, max(size, 1024)*32+32*1024)
	x.hashes = append(x.hashes, raw[:have*32]...)
	if have < size {
		rest, err := leafHashesFromLog(ctx, readBundle, have, size, size)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("leaf index: rebuild from the log: %w", err)
		}
		x.hashes = append(x.hashes, rest...)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("leaf index: %w", err)
	}
	if _, err := f.WriteAt(x.hashes, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("leaf index: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("leaf index: %w", err)
	}
	x.rehash(uint64(len(x.hashes) / 32))
	return x, nil
}

// leafHashesFromLog reads leaves [from, to) of a tree of size and returns their hashes.
func leafHashesFromLog(ctx context.Context, readBundle func(ctx context.Context, index uint64, p uint8) ([]byte, error), from, to, size uint64) ([]byte, error) {
	out := make([]byte, 0, (to-from)*32)
	for ri := range layout.Range(from, to-from, size) {
		raw, err := readBundle(ctx, ri.Index, ri.Partial)
		if err != nil {
			return nil, fmt.Errorf("entry bundle %d: %w", ri.Index, err)
		}
		var eb api.EntryBundle
		if err := eb.UnmarshalText(raw); err != nil {
			return nil, fmt.Errorf("entry bundle %d: %w", ri.Index, err)
		}
		if int(ri.First)+int(ri.N) > len(eb.Entries) {
			return nil, fmt.Errorf("entry bundle %d: %d entries, want at least %d", ri.Index, len(eb.Entries), int(ri.First)+int(ri.N))
		}
		for _, e := range eb.Entries[ri.First : ri.First+ri.N] {
			out = append(out, rfc6962.DefaultHasher.HashLeaf(e)...)
		}
	}
	return out, nil
}

// size is the number of leaves indexed.
func (x *leafIndex) size() uint64 { return uint64(len(x.hashes) / 32) }

// lookup returns the index of a leaf hash, or -1.
func (x *leafIndex) lookup(h [32]byte) int64 {
	mask := uint64(len(x.table) - 1)
	for i := hashKey(h[:]) & mask; ; i = (i + 1) & mask {
		v := x.table[i]
		if v == 0 {
			return -1
		}
		idx := uint64(v - 1)
		if bytes.Equal(x.hashes[idx*32:idx*32+32], h[:]) {
			return int64(idx)
		}
	}
}

// errIndexGap: the log grew by leaves this index did not see appended (another writer).
var errIndexGap = errors.New("leaf index: the log holds leaves this writer did not append")

// append adds the leaves of one integrated batch, which the log put at first, first+1, ...
// and syncs the file. The table may then point at leaves the file does not hold yet if the
// sync fails; the caller stops on that error and the next start rebuilds from the log.
func (x *leafIndex) append(first uint64, hs [][32]byte) error {
	if first != x.size() {
		return fmt.Errorf("%w: batch at %d, index at %d", errIndexGap, first, x.size())
	}
	start := len(x.hashes)
	for _, h := range hs {
		x.hashes = append(x.hashes, h[:]...)
	}
	if _, err := x.f.WriteAt(x.hashes[start:], int64(start)); err != nil {
		return fmt.Errorf("leaf index: write: %w", err)
	}
	if err := x.f.Sync(); err != nil {
		return fmt.Errorf("leaf index: sync: %w", err)
	}
	n := x.size()
	if n*10 > uint64(len(x.table))*7 {
		x.rehash(n)
		return nil
	}
	for i := first; i < n; i++ {
		x.insert(i)
	}
	return nil
}

func (x *leafIndex) insert(i uint64) {
	mask := uint64(len(x.table) - 1)
	for s := hashKey(x.hashes[i*32:]) & mask; ; s = (s + 1) & mask {
		if x.table[s] == 0 {
			x.table[s] = uint32(i + 1)
			return
		}
	}
}

// rehash rebuilds the table for n leaves at a load of at most 0.35.
func (x *leafIndex) rehash(n uint64) {
	c := uint64(1024)
	for c*35 < n*100 {
		c *= 2
	}
	x.table = make([]uint32, c)
	for i := range n {
		x.insert(i)
	}
}

func (x *leafIndex) close() error { return x.f.Close() }
