package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"votestream/ingest/s3store"
	"votestream/internal/testenv"
)

var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("tally board "), 100)...)

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func readAll(t *testing.T, p photos, digest string) ([]byte, int64, error) {
	t.Helper()
	rc, n, err := p.Open(context.Background(), digest)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, n, err
}

// The console reads ingest's bucket: what s3store.Put stored comes back whole, and a photo
// never stored is ErrNotFound.
func TestEvidenceFromBucket(t *testing.T) {
	env := testenv.S3(t)
	cfg := s3store.DefaultConfig()
	cfg.Endpoint, cfg.Bucket, cfg.Region, cfg.AccessKey, cfg.SecretKey = env.Endpoint, env.Bucket, env.Region, env.AccessKey, env.SecretKey
	cfg.Secure, cfg.SpoolDir = false, t.TempDir()
	st, err := s3store.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf(pngBytes)
	if err := st.Put(context.Background(), d, bytes.NewReader(pngBytes)); err != nil {
		t.Fatalf("put: %v", err)
	}
	b, n, err := readAll(t, s3Photos{st: st}, d)
	if err != nil || !bytes.Equal(b, pngBytes) || n != int64(len(pngBytes)) {
		t.Fatalf("read back %d bytes (size %d, %v); want the %d stored", len(b), n, err, len(pngBytes))
	}
	if photoType(b) != "image/png" {
		t.Fatalf("type %q", photoType(b))
	}
	if _, _, err := readAll(t, s3Photos{st: st}, digestOf([]byte("never stored"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing photo: %v; want ErrNotFound", err)
	}
}

func TestEvidenceFromFolder(t *testing.T) {
	dir := t.TempDir()
	d := digestOf(pngBytes)
	if err := os.MkdirAll(filepath.Join(dir, d[:2]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, d[:2], d), pngBytes, 0o444); err != nil {
		t.Fatal(err)
	}
	b, n, err := readAll(t, dirPhotos{dir: dir}, d)
	if err != nil || !bytes.Equal(b, pngBytes) || n != int64(len(pngBytes)) {
		t.Fatalf("read back %d bytes (%v)", len(b), err)
	}
	if _, _, err := readAll(t, dirPhotos{dir: dir}, digestOf([]byte("x"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing photo: %v; want ErrNotFound", err)
	}
	for _, ref := range []string{"sha256:" + d, "sha256:" + d[:63], "sha256:" + d + "0", "md5:" + d, "sha256:" + string(bytes.ToUpper([]byte(d)))} {
		_, ok := parseRef(ref)
		if ok != (ref == "sha256:"+d) {
			t.Errorf("parseRef(%q) ok=%v", ref, ok)
		}
	}
}
