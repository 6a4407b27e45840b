package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"votestream/ingest/s3store"
	"votestream/schemas"
)

// photos reads evidence photos by digest (64 lowercase hex). Safe for concurrent use.
type photos interface {
	Open(ctx context.Context, digest string) (io.ReadCloser, int64, error)
}

// dirPhotos reads ingest's evidence folder: <dir>/<first two hex digits>/<hex>.
type dirPhotos struct{ dir string }

func (d dirPhotos) Open(_ context.Context, digest string) (io.ReadCloser, int64, error) {
	f, err := os.Open(filepath.Join(d.dir, digest[:2], digest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("console: evidence %s: %w", digest, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("console: evidence %s: %w", digest, err)
	}
	return f, fi.Size(), nil
}

// s3Photos reads the bucket ingest writes to.
type s3Photos struct{ st *s3store.Store }

func (p s3Photos) Open(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	rc, n, err := p.st.Open(ctx, digest)
	if errors.Is(err, s3store.ErrNotFound) {
		return nil, 0, ErrNotFound
	}
	return rc, n, err
}

// parseRef checks "sha256:<64 lowercase hex>" and returns the hex.
func parseRef(ref string) (string, bool) {
	hex, ok := cutPrefix(ref, "sha256:")
	if !ok || len(hex) != 64 {
		return "", false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return hex, true
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// photoType names a photo by its first bytes (schemas.PhotoType).
func photoType(head []byte) string { return schemas.PhotoType(head) }
