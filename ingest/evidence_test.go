package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// A real 1x1 PNG and the first bytes of a JPEG (SOI and APP0/JFIF marker).
var (
	tinyPNG   = testenv.TinyPNG()
	jpegStart = testenv.JPEGStart(2000)
	gifStart  = []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
)

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestEvidence(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, func(c *Config) { c.EvidenceDir = dir; c.MaxEvidenceBytes = 4096 })
	put := func(path string, body []byte, tok string) response {
		return h.do(http.MethodPut, path, tok, "image/png", body)
	}
	d := digestOf(tinyPNG)
	r := put("/v1/evidence/sha256:"+d, tinyPNG, h.volunteer)
	if r.status != http.StatusCreated {
		t.Fatalf("first upload: %d %s", r.status, r.body)
	}
	stored, err := os.ReadFile(filepath.Join(dir, d[:2], d))
	if err != nil || !bytes.Equal(stored, tinyPNG) {
		t.Fatalf("stored file: %v", err)
	}
	if r := put("/v1/evidence/sha256:"+d, tinyPNG, h.volunteer); r.status != http.StatusOK {
		t.Fatalf("second upload: %d %s", r.status, r.body)
	}
	// Each upload put an evidence.v1 record in Kafka (the log keeps one leaf of the two),
	// and the receipt names that leaf.
	var rc evidenceReceipt
	if err := json.Unmarshal(r.body, &rc); err != nil || rc.LeafHash != schemas.LeafHashHex(schemas.PhotoLeaf("sha256:"+d)) {
		t.Fatalf("receipt %s: leaf %q (%v)", r.body, rc.LeafHash, err)
	}
	recs := h.prod.recs()
	if len(recs) != 2 {
		t.Fatalf("%d records for two uploads, want 2", len(recs))
	}
	for _, rec := range recs {
		var ev schemas.Evidence
		if err := kgorecord.Decode(rec, &ev); err != nil || rec.Topic != schemas.TopicEvidence || ev.Evidence != "sha256:"+d || ev.VolunteerID != "ilaw-0001" || string(rec.Key) != ev.Evidence {
			t.Fatalf("record %s %s: %+v (%v)", rec.Topic, rec.Key, ev, err)
		}
	}
	jd := digestOf(jpegStart)
	if r := put("/v1/evidence/sha256:"+jd, jpegStart, h.lead); r.status != http.StatusCreated {
		t.Fatalf("jpeg: %d %s", r.status, r.body)
	}

	other := digestOf([]byte("something else"))
	cases := []struct {
		name, path string
		body       []byte
		tok        string
		status     int
		code       string
	}{
		{"content does not match the name", "/v1/evidence/sha256:" + other, tinyPNG, h.volunteer, 400, CodeHashMismatch},
		{"a GIF", "/v1/evidence/sha256:" + digestOf(gifStart), gifStart, h.volunteer, 415, CodeUnsupportedMedia},
		{"too large", "/v1/evidence/sha256:" + digestOf(bytes.Repeat(jpegStart, 3)), bytes.Repeat(jpegStart, 3), h.volunteer, 413, CodeBodyTooLarge},
		{"upper-case hex", "/v1/evidence/sha256:" + "AB" + d[2:], tinyPNG, h.volunteer, 400, CodeInvalidValue},
		{"no algorithm", "/v1/evidence/" + d, tinyPNG, h.volunteer, 400, CodeInvalidValue},
		{"no token", "/v1/evidence/sha256:" + d, tinyPNG, "", 401, CodeUnauthenticated},
		{"empty body", "/v1/evidence/sha256:" + digestOf(nil), nil, h.volunteer, 415, CodeUnsupportedMedia},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := put(tc.path, tc.body, tc.tok)
			code, _ := r.errorCode()
			if r.status != tc.status || code != tc.code {
				t.Fatalf("got %d %s, want %d %s: %s", r.status, code, tc.status, tc.code, r.body)
			}
		})
	}
	// Nothing but the two good photos is in the store, and no temporary file is left behind.
	var files []string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, filepath.Base(p))
		}
		return nil
	})
	if len(files) != 2 {
		t.Fatalf("store holds %v, want the PNG and the JPEG", files)
	}
}

// TestEvidenceKafkaDown: a photo whose evidence.v1 record Kafka does not acknowledge is
// answered 503, so the volunteer's app uploads it again; the photo itself is kept.
func TestEvidenceKafkaDown(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, func(c *Config) { c.EvidenceDir = dir })
	h.prod.fail = errors.New("broker down")
	d := digestOf(tinyPNG)
	r := h.do(http.MethodPut, "/v1/evidence/sha256:"+d, h.volunteer, "image/png", tinyPNG)
	if code, _ := r.errorCode(); r.status != http.StatusServiceUnavailable || code != CodeKafkaUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s, want 503 %s with Retry-After", r.status, r.body, CodeKafkaUnavailable)
	}
	h.prod.mu.Lock()
	h.prod.fail = nil
	h.prod.mu.Unlock()
	if r := h.do(http.MethodPut, "/v1/evidence/sha256:"+d, h.volunteer, "image/png", tinyPNG); r.status != http.StatusOK || len(h.prod.recs()) != 1 {
		t.Fatalf("retry: %d %s, %d records", r.status, r.body, len(h.prod.recs()))
	}
}

func TestEvidenceTooLargeWhileStreaming(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxEvidenceBytes = 4096 })
	big := bytes.Repeat(jpegStart, 3)
	req, _ := http.NewRequest(http.MethodPut, "/v1/evidence/sha256:"+digestOf(big), struct{ *bytes.Reader }{bytes.NewReader(big)})
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+h.volunteer)
	rec := newRecorder()
	h.s.Handler().ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Fatalf("chunked oversize upload: %d %s", rec.Code, rec.Body)
	}
}
