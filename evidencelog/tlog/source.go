package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
)

// Log reads the public files of a C2SP tlog-tiles log: its checkpoint, hash tiles and entry
// bundles. ErrNotExist (wrapped) means a file is missing.
type Log interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

// OpenLog reads a log at a URL (http:// or https://, the folder holding "checkpoint") or
// in a local folder, such as a copy of the URL's files.
func OpenLog(loc string) (Log, error) {
	if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
		u, err := url.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("tlog: log URL %q: %w", loc, err)
		}
		return client.NewHTTPFetcher(u, &http.Client{Timeout: 30 * time.Second})
	}
	st, err := os.Stat(loc)
	if err != nil {
		return nil, fmt.Errorf("tlog: log folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("tlog: log folder %s is not a folder", loc)
	}
	return client.FileFetcher{Root: loc}, nil
}

// InclusionProof builds the audit path of the leaf at index in the tree of size from the
// log's tiles.
func InclusionProof(ctx context.Context, l Log, index, size uint64) ([][]byte, error) {
	pb, err := client.NewProofBuilder(ctx, size, l.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("tlog: tiles of a tree of %d: %w", size, err)
	}
	p, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("tlog: inclusion proof of %d in %d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof builds the proof that the tree of size older is a prefix of the tree of
// size newer from the log's tiles (at newer).
func ConsistencyProof(ctx context.Context, l Log, older, newer uint64) ([][]byte, error) {
	pb, err := client.NewProofBuilder(ctx, newer, l.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("tlog: tiles of a tree of %d: %w", newer, err)
	}
	p, err := pb.ConsistencyProof(ctx, older, newer)
	if err != nil {
		return nil, fmt.Errorf("tlog: consistency proof %d -> %d: %w", older, newer, err)
	}
	return p, nil
}

// ErrAudit: the log's files do not add up to its checkpoint.
var ErrAudit = errors.New("tlog: audit failed")

// AuditResult is what Audit read.
type AuditResult struct {
	Leaves  uint64
	Bundles int
	Tiles   int
	// Found is the index of the leaf hash Audit was asked to look for, or -1.
	Found int64
}

// Audit reads every entry of the tree of cp and checks that the entries hash to the
// checkpoint's root, and that every hash tile holds what the entries imply: an altered
// entry, tile or checkpoint fails it with ErrAudit. When find is not nil it also reports
// where that leaf hash is (AuditResult.Found). progress, when not nil, is called after each
// bundle with the leaves read so far.
func Audit(ctx context.Context, l Log, cp *Checkpoint, find *[32]byte, progress func(done uint64)) (AuditResult, error) {
	res := AuditResult{Found: -1}
	// tiles[level][index] gathers the node hashes a tile at that level must hold.
	want := map[[2]uint64][]byte{}
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	rng := rf.NewEmptyRange(0)
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level%layout.TileHeight != 0 {
			return
		}
		key := [2]uint64{uint64(id.Level / layout.TileHeight), id.Index / layout.TileWidth}
		want[key] = append(want[key], hash...)
	}
	for ri := range layout.Range(0, cp.Size, cp.Size) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		raw, err := l.ReadEntryBundle(ctx, ri.Index, ri.Partial)
		if err != nil {
			return res, fmt.Errorf("%w: entry bundle %d: %v", ErrAudit, ri.Index, err)
		}
		var eb api.EntryBundle
		if err := eb.UnmarshalText(raw); err != nil {
			return res, fmt.Errorf("%w: entry bundle %d: %v", ErrAudit, ri.Index, err)
		}
		// A full bundle may stand in for a partial one the log has since grown past.
		if len(eb.Entries) < int(ri.N) || (ri.Partial == 0 && len(eb.Entries) != layout.EntryBundleWidth) {
			return res, fmt.Errorf("%w: entry bundle %d holds %d entries, want %d", ErrAudit, ri.Index, len(eb.Entries), ri.N)
		}
		res.Bundles++
		for _, e := range eb.Entries[:ri.N] {
			h := rfc6962.DefaultHasher.HashLeaf(e)
			if find != nil && res.Found < 0 && bytes.Equal(h, find[:]) {
				res.Found = int64(res.Leaves)
			}
			if err := rng.Append(h, visit); err != nil {
				return res, fmt.Errorf("%w: %v", ErrAudit, err)
			}
			res.Leaves++
		}
		if progress != nil {
			progress(res.Leaves)
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrAudit, err)
	}
	if cp.Size == 0 {
		root = rfc6962.DefaultHasher.EmptyRoot()
	}
	if !bytes.Equal(root, cp.Root[:]) {
		return res, fmt.Errorf("%w: the %d entries hash to root %x, the checkpoint says %x: an entry was altered, or the checkpoint does not belong to these files", ErrAudit, cp.Size, root, cp.Root)
	}
	for key, nodes := range want {
		level, index := key[0], key[1]
		raw, err := l.ReadTile(ctx, level, index, layout.PartialTileSize(level, index, cp.Size))
		if err != nil {
			return res, fmt.Errorf("%w: tile %d/%d: %v", ErrAudit, level, index, err)
		}
		// A full tile may stand in for a partial one the log has since grown past: compare
		// the nodes this tree has.
		if len(raw) < len(nodes) || !bytes.Equal(raw[:len(nodes)], nodes) {
			return res, fmt.Errorf("%w: tile %s does not hold the hashes of its entries: it was altered", ErrAudit, layout.TilePath(level, index, layout.PartialTileSize(level, index, cp.Size)))
		}
		res.Tiles++
	}
	return res, nil
}
