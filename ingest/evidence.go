package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// EvidenceStore keeps evidence photos by content: the SHA-256 of the bytes is the name, so
// a photo is stored once however many reports cite it, and nobody can replace one.
//
// The default is DirStore, a local folder. Config.EvidenceS3 selects an S3-compatible
// bucket instead (package ingest/s3store: objects "<prefix>sha256/<hex>", each Put spooled
// to a temporary file and sent as one PUT carrying x-amz-checksum-sha256, so the bucket
// also checks the content). Any other store is given to New with WithEvidenceStore.
type EvidenceStore interface {
	// Has reports whether the photo with this digest (64 lowercase hex) is stored.
	Has(ctx context.Context, digest string) (bool, error)
	// Put stores what r yields under digest. It must make the object visible only if r
	// reached io.EOF without error (ingest's reader fails at the end when the content does
	// not hash to digest), and atomically: no reader ever sees a partial photo.
	Put(ctx context.Context, digest string, r io.Reader) error
}

// DirStore is an EvidenceStore in a local folder: <dir>/<first two hex digits>/<hex>,
// written to a temporary file in the same folder, synced, then renamed into place. Safe for
// concurrent use; two uploads of the same photo both succeed with one file.
type DirStore struct {
	dir string
}

// NewDirStore creates the folder if needed.
func NewDirStore(dir string) (*DirStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty evidence folder", ErrConfig)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("ingest: evidence folder: %w", err)
	}
	return &DirStore{dir: dir}, nil
}

func (d *DirStore) path(digest string) string {
	return filepath.Join(d.dir, digest[:2], digest)
}

// Has reports whether the photo is stored.
func (d *DirStore) Has(_ context.Context, digest string) (bool, error) {
	_, err := os.Stat(d.path(digest))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Put writes the photo atomically; see EvidenceStore.
func (d *DirStore) Put(_ context.Context, digest string, r io.Reader) (err error) {
	final := d.path(digest)
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return fmt.Errorf("ingest: evidence folder: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(final), ".upload-*")
	if err != nil {
		return fmt.Errorf("ingest: evidence temp file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = io.Copy(f, r); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("ingest: evidence sync: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("ingest: evidence close: %w", err)
	}
	if err = os.Chmod(f.Name(), 0o440); err != nil {
		return fmt.Errorf("ingest: evidence chmod: %w", err)
	}
	if err = os.Rename(f.Name(), final); err != nil {
		return fmt.Errorf("ingest: evidence rename: %w", err)
	}
	return nil
}

// verifyingReader hashes what passes through it and, at the end, turns io.EOF into
// ErrHashMismatch when the content is not what its name says.
// It remembers the first error it returned, so the caller can tell the client's faults
// (mismatch, too large, cut off) from the store's.
type verifyingReader struct {
	r    io.Reader
	h    hash.Hash
	want []byte
	n    int64
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF && !bytes.Equal(v.h.Sum(nil), v.want) {
		err = ErrHashMismatch
	}
	if err != nil && err != io.EOF && v.err == nil {
		v.err = err
	}
	return n, err
}

var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}
)

// evidenceReadTimeout bounds one upload: 10 MiB over a poor mobile link.
const evidenceReadTimeout = 10 * time.Minute

// evidenceReceipt answers a stored photo.
type evidenceReceipt struct {
	Evidence string `json:"evidence"` // "sha256:<hex>", as submissions cite it
	Bytes    int64  `json:"bytes,omitempty"`
	Existed  bool   `json:"existed,omitempty"` // already stored; the upload was not needed
	// LeafHash names the photo's leaf in the transparency log (schemas.PhotoLeaf); ProofURL
	// is where its inclusion proof is served once appended (with Config.EvidenceLogURL).
	LeafHash string `json:"leaf_hash"`
	ProofURL string `json:"proof_url,omitempty"`
}

// recordEvidence produces the photo's evidence.v1 record, which the transparency log turns
// into its leaf, and waits for Kafka's acknowledgement (at most ProduceTimeout): the upload
// is answered as stored only once the record that puts it in the log is safe. A photo
// already stored is recorded again (the same leaf; the log keeps one), so a retry after a
// failed record repairs it.
func (s *Server) recordEvidence(ref string, n int64, volunteer string, now time.Time) error {
	rec, err := kgorecord.New(s.cfg.TopicPrefix+schemas.TopicEvidence, schemas.Evidence{
		Evidence: ref, Bytes: n, VolunteerID: volunteer, ReceivedAt: now.UTC(),
	})
	if err != nil {
		return err
	}
	rec.Timestamp = now
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ProduceTimeout)
	defer cancel()
	done := make(chan error, 1)
	s.prod.Produce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// evidenceStored answers a photo the store holds once its evidence.v1 record is in Kafka.
func (s *Server) evidenceStored(w http.ResponseWriter, status int, rc evidenceReceipt, volunteer string, now time.Time) {
	if err := s.recordEvidence(rc.Evidence, rc.Bytes, volunteer, now); err != nil {
		s.warnProduce(err)
		s.setRetryAfter(w, s.cfg.RetryAfter)
		writeError(w, apiErr(CodeKafkaUnavailable, "", "the photo is stored but not yet recorded in the public log: Kafka did not acknowledge; upload it again after the Retry-After delay"))
		return
	}
	rc.LeafHash = schemas.LeafHashHex(schemas.PhotoLeaf(rc.Evidence))
	rc.ProofURL = s.proofURL(rc.LeafHash)
	writeJSON(w, status, rc)
}

// handleEvidence serves PUT /v1/evidence/sha256:<hex>: a JPEG or PNG photo, at most
// MaxEvidenceBytes, whose SHA-256 must be the hex of its path. 201 when stored, 200 when it
// already was.
func (s *Server) handleEvidence(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	c, ok := s.admit(w, r, now)
	if !ok {
		return
	}
	ref := r.PathValue("digest")
	digest, ok := parseDigest(ref)
	if !ok {
		writeError(w, apiErr(CodeInvalidValue, "digest", "the path must end in sha256: and 64 lowercase hex digits, the SHA-256 of the photo"))
		return
	}
	if r.ContentLength > s.cfg.MaxEvidenceBytes {
		writeError(w, apiErr(CodeBodyTooLarge, "", "the photo is %d bytes, above the limit of %d", r.ContentLength, s.cfg.MaxEvidenceBytes))
		return
	}
	ctx := r.Context()
	if has, err := s.store.Has(ctx, digest); err != nil {
		s.storeUnavailable(w, err)
		return
	} else if has {
		s.evidenceStored(w, http.StatusOK, evidenceReceipt{Evidence: ref, Existed: true}, c.VolunteerID, now)
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(evidenceReadTimeout))
	body := bufio.NewReader(http.MaxBytesReader(w, r.Body, s.cfg.MaxEvidenceBytes))
	head, _ := body.Peek(len(magicPNG))
	if !bytes.HasPrefix(head, magicJPEG) && !bytes.HasPrefix(head, magicPNG) {
		writeError(w, apiErr(CodeUnsupportedMedia, "", "evidence must be a JPEG or PNG photo"))
		return
	}
	want, _ := hex.DecodeString(digest)
	vr := &verifyingReader{r: body, h: sha256.New(), want: want}
	err := s.store.Put(ctx, digest, vr)
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		s.evidenceStored(w, http.StatusCreated, evidenceReceipt{Evidence: ref, Bytes: vr.n}, c.VolunteerID, now)
	case errors.Is(vr.err, ErrHashMismatch):
		writeError(w, apiErr(CodeHashMismatch, "digest", "the photo's SHA-256 is not %s: it was damaged in transit, or named wrongly", digest))
	case errors.As(vr.err, &tooBig):
		writeError(w, apiErr(CodeBodyTooLarge, "", "the photo is above the limit of %d bytes", s.cfg.MaxEvidenceBytes))
	case vr.err != nil:
		writeError(w, apiErr(CodeIncompleteBody, "", "the upload was cut off: %v", vr.err))
	default:
		s.storeUnavailable(w, err)
	}
}

func (s *Server) storeUnavailable(w http.ResponseWriter, err error) {
	s.log.Error("ingest: evidence store failed", "err", err)
	s.setRetryAfter(w, s.cfg.RetryAfter)
	writeError(w, apiErr(CodeStoreUnavailable, "", "the evidence store failed; retry after the Retry-After delay"))
}
