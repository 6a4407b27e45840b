package evidencelog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"

	"votestream/schemas"
)

// leafIndex maps every leaf hash of the log to its index: the writer's dedupe (a leaf is
// appended at most once, also after a crash between integration and the Kafka commit) and
// the proof lookup by leaf hash. It also maps each report leaf's submission id to its index
// (by reportKey), so a station page can link every report to its own proof although
// ClickHouse keeps the report's receipt time only to the second.
//
// On disk it is one file of 40-byte records in log order (leaf i at offset 40*i: the
// 32-byte leaf hash, then the 8-byte report key, zero for other leaves), appended and synced
// after each integrated batch; the log is the truth and the file is rebuilt from its entry
// bundles where it falls short (Open). In memory it holds the hashes, the keys and two
// open-addressing tables of indices: about 50 bytes per leaf (3 million leaves, a national
// night, take some 150 MB). Not safe for concurrent use: the writer owns appends; readers
// take the mutex of the Log that holds it.
type leafIndex struct {
	f       *os.File
	hashes  []byte   // 32 bytes per leaf, in log order
	keys    []uint64 // report key per leaf, 0 when not a report
	table   []uint32 // by leaf hash: index+1, 0 empty; len a power of two
	reports []uint32 // by report key: index+1, 0 empty; len a power of two
	nrep    uint64   // leaves with a report key
}

// indexRecord is the size of one leaf's record in the index file.
const indexRecord = 40

// indexFile is the index's name in the state folder; the older "leaves" file (hashes only)
// is removed and rebuilt from the log.
const (
	indexFile    = "index"
	oldIndexFile = "leaves"
)

// reportKey is the lookup key of a report by its submission id: the first 8 bytes of its
// SHA-256, never 0. Two ids may share a key; lookups check the entry itself.
func reportKey(submissionID string) uint64 {
	sum := sha256.Sum256([]byte(submissionID))
	return binary.LittleEndian.Uint64(sum[:8]) | 1
}

// leafReportKey is the report key of a leaf, 0 when it is not a report leaf.
func leafReportKey(leaf []byte) uint64 {
	if id, ok := reportLeafID(leaf); ok {
		return reportKey(id)
	}
	return 0
}

// reportLeafID reads the submission id of a report.v1 leaf.
func reportLeafID(leaf []byte) (string, bool) {
	id, _, ok := reportLeafFields(leaf)
	return id, ok
}

// reportLeafFields reads the submission id and the report's canonical hash of a report.v1
// leaf.
func reportLeafFields(leaf []byte) (id, hash string, ok bool) {
	if !bytes.HasPrefix(leaf, []byte(`{"kind":"`+schemas.LeafReport+`"`)) {
		return "", "", false
	}
	var r struct {
		SubmissionID string `json:"submission_id"`
		Hash         string `json:"hash"`
	}
	if err := json.Unmarshal(leaf, &r); err != nil || r.SubmissionID == "" {
		return "", "", false
	}
	return r.SubmissionID, r.Hash, true
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
	have := uint64(len(raw) / indexRecord)
	if have > size {
		have = 0 // longer than the log: not this log's index
	}
	// Check the tail against the log; on a mismatch start over.
	if have > 0 {
		from := have - min(have, layout.EntryBundleWidth)
		check, err := leafRecordsFromLog(ctx, readBundle, from, have, size)
		if err != nil || !bytes.Equal(check, raw[from*indexRecord:have*indexRecord]) {
			have = 0
		}
	}
	recs := raw[:have*indexRecord]
	if have < size {
		rest, err := leafRecordsFromLog(ctx, readBundle, have, size, size)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("leaf index: rebuild from the log: %w", err)
		}
		recs = append(slices.Clip(recs), rest...)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("leaf index: %w", err)
	}
	if _, err := f.WriteAt(recs, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("leaf index: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("leaf index: %w", err)
	}
	x.hashes = make([]byte, 0, max(size, 1024)*32+32*1024)
	x.keys = make([]uint64, 0, max(size, 1024)+1024)
	for r := range size {
		rec := recs[r*indexRecord : (r+1)*indexRecord]
		x.hashes = append(x.hashes, rec[:32]...)
		x.keys = append(x.keys, binary.LittleEndian.Uint64(rec[32:]))
	}
	x.rehash(size)
	return x, nil
}

// leafRecordsFromLog reads leaves [from, to) of a tree of size and returns their index
// records.
func leafRecordsFromLog(ctx context.Context, readBundle func(ctx context.Context, index uint64, p uint8) ([]byte, error), from, to, size uint64) ([]byte, error) {
	out := make([]byte, 0, (to-from)*indexRecord)
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
			out = binary.LittleEndian.AppendUint64(out, leafReportKey(e))
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

// lookupReport returns the indices of the leaves whose report key is key (usually one).
func (x *leafIndex) lookupReport(key uint64) []int64 {
	var out []int64
	mask := uint64(len(x.reports) - 1)
	for i := key & mask; ; i = (i + 1) & mask {
		v := x.reports[i]
		if v == 0 {
			return out
		}
		if idx := uint64(v - 1); x.keys[idx] == key {
			out = append(out, int64(idx))
		}
	}
}

// errIndexGap: the log grew by leaves this index did not see appended (another writer).
var errIndexGap = errors.New("leaf index: the log holds leaves this writer did not append")

// indexed is one integrated leaf: its hash and report key.
type indexed struct {
	hash [32]byte
	key  uint64
}

// append adds the leaves of one integrated batch, which the log put at first, first+1, ...,
// in memory; persist writes them to the file.
func (x *leafIndex) append(first uint64, ls []indexed) error {
	if first != x.size() {
		return fmt.Errorf("%w: batch at %d, index at %d", errIndexGap, first, x.size())
	}
	for _, l := range ls {
		x.hashes = append(x.hashes, l.hash[:]...)
		x.keys = append(x.keys, l.key)
		if l.key != 0 {
			x.nrep++
		}
	}
	n := x.size()
	if n*10 > uint64(len(x.table))*7 || x.nrep*10 > uint64(len(x.reports))*7 {
		x.rehash(n)
		return nil
	}
	for i := first; i < n; i++ {
		x.insert(i)
	}
	return nil
}

// persist writes the records of leaves first, first+1, ... to the file and syncs it. It
// touches only the file, so it may run beside append and lookups (the writer calls it off
// the integration path, before committing the batch's offsets). If it fails the caller
// stops, and the next start rebuilds the file from the log.
func persistIndex(f *os.File, first uint64, ls []indexed) error {
	buf := make([]byte, 0, len(ls)*indexRecord)
	for _, l := range ls {
		buf = append(buf, l.hash[:]...)
		buf = binary.LittleEndian.AppendUint64(buf, l.key)
	}
	if _, err := f.WriteAt(buf, int64(first)*indexRecord); err != nil {
		return fmt.Errorf("leaf index: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("leaf index: sync: %w", err)
	}
	return nil
}

func (x *leafIndex) insert(i uint64) {
	mask := uint64(len(x.table) - 1)
	for s := hashKey(x.hashes[i*32:]) & mask; ; s = (s + 1) & mask {
		if x.table[s] == 0 {
			x.table[s] = uint32(i + 1)
			break
		}
	}
	if k := x.keys[i]; k != 0 {
		mask := uint64(len(x.reports) - 1)
		for s := k & mask; ; s = (s + 1) & mask {
			if x.reports[s] == 0 {
				x.reports[s] = uint32(i + 1)
				return
			}
		}
	}
}

// rehash rebuilds the tables for n leaves at a load of at most 0.35.
func (x *leafIndex) rehash(n uint64) {
	x.nrep = 0
	for _, k := range x.keys[:n] {
		if k != 0 {
			x.nrep++
		}
	}
	tableFor := func(n uint64) []uint32 {
		c := uint64(1024)
		for c*35 < n*100 {
			c *= 2
		}
		return make([]uint32, c)
	}
	x.table, x.reports = tableFor(n), tableFor(x.nrep)
	for i := range n {
		x.insert(i)
	}
}

func (x *leafIndex) close() error { return x.f.Close() }
