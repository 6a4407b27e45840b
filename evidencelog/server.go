package evidencelog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"

	"votestream/evidencelog/tlog"
	"votestream/internal/httpserve"
	"votestream/schemas"
)

// Handler returns the log's public HTTP API (see docs/evidence-log.md):
//
//	GET  /checkpoint                 the newest signed checkpoint (C2SP tlog-tiles)
//	GET  /tile/...                   hash tiles and entry bundles (C2SP tlog-tiles), immutable
//	GET  /checkpoints/<size>         a past checkpoint with the cosignatures gathered for it
//	GET  /cosigned-checkpoint        the newest checkpoint a witness cosigned
//	GET  /proof/<leaf hash>[?size=N] an inclusion proof bundle (tlog.Bundle)
//	GET  /photo/sha256:<hex>         the proof bundle of a photo's leaf
//	GET  /report/<submission id>     the proof bundle of a report's leaf [?hash=<its hash>]
//	GET  /log.pub                    the log's public keys
//	POST /cosignature                a witness posts its cosigned checkpoint
//	GET  /station/<id>               the public station page, after polls close
//
// Serve it only once Ready is closed.
func (l *Log) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", l.handleIndex)
	mux.HandleFunc("GET /checkpoint", public(l.handleCheckpoint))
	mux.HandleFunc("GET /tile/", public(l.handleTile))
	mux.HandleFunc("GET /checkpoints/{size}", public(l.handleArchived))
	mux.HandleFunc("GET /cosigned-checkpoint", public(l.handleCosigned))
	mux.HandleFunc("GET /proof/{leaf}", public(l.handleProof))
	mux.HandleFunc("GET /photo/{digest}", public(l.handlePhotoProof))
	mux.HandleFunc("GET /report/{id}", public(l.handleReportProof))
	mux.HandleFunc("GET /log.pub", public(l.handleKeys))
	mux.HandleFunc("POST /cosignature", l.handleCosignature)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	if l.pages != nil {
		mux.HandleFunc("GET /station/{id}", l.pages.handlePage)
		mux.HandleFunc("GET /station/{id}/photo/{digest}", l.pages.handlePhoto)
	}
	return mux
}

// public lets any web page read an answer: the log's files and proofs are public by design,
// and the volunteers' form (another origin) fetches the proof of each report it sent.
// No credentials are involved, so "*" is safe.
func public(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h(w, r)
	}
}

func (l *Log) serve(ctx context.Context) error {
	hc := httpserve.DefaultConfig()
	hc.Name, hc.Handler, hc.Logger = "evidencelog", l.Handler(), l.log
	hc.WriteTimeout, hc.ShutdownGrace = 60*time.Second, 5*time.Second
	srv, err := httpserve.New(hc)
	if err != nil {
		return fmt.Errorf("evidencelog: %w", err)
	}
	ln, err := net.Listen("tcp", l.cfg.Listen)
	if err != nil {
		return fmt.Errorf("evidencelog: listen: %w", err)
	}
	l.log.Info("evidencelog: serving", "addr", ln.Addr().String())
	return srv.Serve(ctx, ln)
}

// writeError answers with the JSON error shape every server shares (httpserve.Error).
func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	httpserve.WriteError(w, status, httpserve.Error{Code: code, Message: fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, cache string, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", cache)
	_ = json.NewEncoder(w).Encode(v)
}

const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheShort     = "public, max-age=1"
)

func (l *Log) handleIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "votestream transparency log %s\n\n", l.Origin())
	fmt.Fprintf(w, "A C2SP tlog-tiles log of every accepted report, stored photo, review decision, official figure and published estimate.\n")
	fmt.Fprintf(w, "Public keys: /log.pub. Checkpoint: /checkpoint. Cosigned: /cosigned-checkpoint. Proofs: /proof/<leaf hash>.\n")
	fmt.Fprintf(w, "Check anything offline with `votestream verify` (docs/evidence-log.md).\n")
}

func (l *Log) handleKeys(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	for _, k := range l.pubKeys {
		fmt.Fprintln(w, k)
	}
}

func (l *Log) handleCheckpoint(w http.ResponseWriter, r *http.Request) {
	raw, err := l.reader.ReadCheckpoint(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "NO_CHECKPOINT", "no checkpoint yet")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", cacheShort)
	_, _ = w.Write(raw)
}

// tilePath matches the C2SP tlog-tiles paths: tile/<L>/<N>[.p/<W>] and
// tile/entries/<N>[.p/<W>], N in groups of x<3 digits>/ then 3 digits.
var tilePath = regexp.MustCompile(`^tile/(entries|[0-9]{1,2})/((x[0-9]{3}/)*[0-9]{3})(\.p/[0-9]{1,3})?$`)

func (l *Log) handleTile(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if !tilePath.MatchString(p) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such tile path (C2SP tlog-tiles)")
		return
	}
	b, err := os.ReadFile(filepath.Join(l.cfg.Dir, filepath.FromSlash(p)))
	if err != nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such tile yet")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", cacheImmutable)
	_, _ = w.Write(b)
}

func (l *Log) handleArchived(w http.ResponseWriter, r *http.Request) {
	size, err := strconv.ParseUint(r.PathValue("size"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_VALUE", "size: a decimal number of leaves")
		return
	}
	cp := l.cps.archived(size)
	if cp == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no checkpoint of size %d was published", size)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=10")
	_, _ = w.Write(cp.Raw)
}

func (l *Log) handleCosigned(w http.ResponseWriter, _ *http.Request) {
	_, cp := l.cps.newest()
	if cp == nil {
		writeError(w, http.StatusNotFound, "NOT_COSIGNED", "no witness has cosigned a checkpoint yet")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", cacheShort)
	_, _ = w.Write(cp.Raw)
}

func (l *Log) handleCosignature(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, tlog.MaxNoteBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "a cosigned checkpoint is at most %d bytes", tlog.MaxNoteBytes)
		return
	}
	merged, cp, err := l.cps.addCosignature(body)
	if err != nil {
		l.m.cosignatures.WithLabelValues("refused").Inc()
		if errors.Is(err, ErrCosignature) {
			writeError(w, http.StatusForbidden, "COSIGNATURE_REFUSED", "%v", err)
			return
		}
		writeError(w, http.StatusInternalServerError, "STORE_FAILED", "%v", err)
		return
	}
	l.m.cosignatures.WithLabelValues("accepted").Inc()
	l.log.Info("evidencelog: checkpoint cosigned", "size", cp.Size, "cosigners", cp.Cosigners)
	l.cps.publish(cp)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(merged)
}

func (l *Log) handlePhotoProof(w http.ResponseWriter, r *http.Request) {
	d := r.PathValue("digest")
	if !evidenceRef.MatchString(d) {
		writeError(w, http.StatusBadRequest, "INVALID_VALUE", "want sha256: and 64 lower-case hex digits, the SHA-256 of the photo")
		return
	}
	l.proof(w, r, schemas.LeafHash(schemas.PhotoLeaf(d)))
}

// submissionID is what a report's id may look like in a URL (ingest takes UUIDs).
var submissionID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// handleReportProof answers the proof bundle of a report's leaf found by its submission id
// (and, with ?hash=, the report's canonical hash, should the id have more than one leaf):
// what a station page links each report to.
func (l *Log) handleReportProof(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !submissionID.MatchString(id) {
		writeError(w, http.StatusBadRequest, "INVALID_VALUE", "a submission id is 1 to 128 letters, digits, '.', '_', ':' or '-'")
		return
	}
	want := r.URL.Query().Get("hash")
	if want != "" && !evidenceRef.MatchString(want) {
		writeError(w, http.StatusBadRequest, "INVALID_VALUE", "hash: sha256: and 64 lower-case hex digits, the report's canonical hash")
		return
	}
	l.mu.RLock()
	cands := l.idx.lookupReport(reportKey(id))
	size := l.idx.size()
	hashes := make([][32]byte, len(cands))
	for i, c := range cands {
		copy(hashes[i][:], l.idx.hashes[c*32:c*32+32])
	}
	l.mu.RUnlock()
	for i, c := range cands {
		entry, err := l.entry(r.Context(), uint64(c), size)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "PROOF_FAILED", "%v", err)
			return
		}
		if got, hash, ok := reportLeafFields(entry); ok && got == id && (want == "" || hash == want) {
			l.proof(w, r, hashes[i])
			return
		}
	}
	writeError(w, http.StatusNotFound, "NOT_IN_LOG", "no report with this submission id is in the log (a report just accepted is appended within seconds)")
}

func (l *Log) handleProof(w http.ResponseWriter, r *http.Request) {
	h, ok := schemas.ParseLeafHashHex(r.PathValue("leaf"))
	if !ok {
		writeError(w, http.StatusBadRequest, "INVALID_VALUE", "want the leaf hash: 64 hex digits")
		return
	}
	l.proof(w, r, h)
}

// proof answers the inclusion proof bundle of a leaf: against the newest checkpoint, or the
// archived one of ?size=N.
func (l *Log) proof(w http.ResponseWriter, r *http.Request, h [32]byte) {
	i := l.lookup(h)
	if i < 0 {
		writeError(w, http.StatusNotFound, "NOT_IN_LOG", "no leaf with this hash is in the log (a report just accepted is appended within seconds)")
		return
	}
	cp, _ := l.cps.newest()
	cache := cacheShort
	if s := r.URL.Query().Get("size"); s != "" {
		size, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "INVALID_VALUE", "size: a decimal number of leaves")
			return
		}
		if cp = l.cps.archived(size); cp == nil {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "no checkpoint of size %d was published", size)
			return
		}
		cache = "public, max-age=60"
	}
	if cp == nil || uint64(i) >= cp.Size {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "NOT_YET_PUBLISHED", "the leaf is at index %d; no signed checkpoint commits to it yet", i)
		return
	}
	path, err := tlog.InclusionProof(r.Context(), l.reader, uint64(i), cp.Size)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "PROOF_FAILED", "%v", err)
		return
	}
	entry, err := l.entry(r.Context(), uint64(i), cp.Size)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "PROOF_FAILED", "%v", err)
		return
	}
	writeJSON(w, cache, tlog.Bundle{
		LeafIndex: uint64(i), LeafHash: fmt.Sprintf("%x", h[:]), Entry: string(entry),
		TreeSize: cp.Size, Inclusion: tlog.EncodeHashes(path), Checkpoint: string(cp.Raw),
	})
}

// entry reads leaf i of a tree of size from its entry bundle.
func (l *Log) entry(ctx context.Context, i, size uint64) ([]byte, error) {
	b := i / layout.EntryBundleWidth
	raw, err := l.reader.ReadEntryBundle(ctx, b, layout.PartialTileSize(0, b, size))
	if err != nil {
		return nil, fmt.Errorf("entry bundle %d: %w", b, err)
	}
	var eb api.EntryBundle
	if err := eb.UnmarshalText(raw); err != nil {
		return nil, fmt.Errorf("entry bundle %d: %w", b, err)
	}
	k := int(i % layout.EntryBundleWidth)
	if k >= len(eb.Entries) {
		return nil, fmt.Errorf("entry bundle %d has no entry %d", b, k)
	}
	return eb.Entries[k], nil
}
