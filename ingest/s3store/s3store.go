// Package s3store keeps ingest's evidence photos in an S3-compatible bucket (Amazon S3,
// MinIO, Ceph, S3Proxy, ...), by content: the object of a photo is "<prefix>sha256/<hex>",
// the SHA-256 of its bytes. It implements ingest.EvidenceStore without importing ingest.
//
// It owns the bucket client and nothing else: it does not check that a photo is a JPEG or
// PNG, nor bound its size (ingest does, before Put), and it never deletes or lists objects.
package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"votestream/internal/confcheck"
	"votestream/schemas"
)

// Config locates the bucket. The zero value is not usable: start from DefaultConfig.
type Config struct {
	// Endpoint is the server as host:port, without scheme (e.g. "s3.ap-southeast-1.amazonaws.com"
	// or "127.0.0.1:29900"). Required.
	Endpoint string
	// Bucket is the bucket name. Required.
	Bucket string
	// Region is the bucket's region; given, it saves a location lookup per bucket.
	// Default "us-east-1" (what MinIO and S3Proxy answer).
	Region string
	// Prefix is prepended to every key, so one bucket can hold other things. Default "evidence/".
	Prefix string
	// AccessKey and SecretKey sign requests (AWS signature v4). Both empty means anonymous
	// requests, which only a bucket open for anonymous writes accepts. Default "".
	AccessKey, SecretKey string
	// Secure uses TLS. Default true; false (plain HTTP) only for a server on loopback or a
	// private network.
	Secure bool
	// CreateBucket lets EnsureBucket create a missing bucket instead of failing. Default
	// false: a mistyped bucket name should stop ingest at start, not grow a new bucket.
	CreateBucket bool
	// Timeout bounds each call of Has, Put and EnsureBucket (retries included), on top of
	// whatever deadline the caller's context carries. Default 1m: a 10 MiB photo over a
	// slow uplink to the bucket.
	Timeout time.Duration
	// MaxAttempts is how many times one request is tried when the server answers a
	// retryable failure (5xx, 429, a reset connection), with back-off starting at 200ms
	// and capped at 1s between attempts (minio-go's). Default 3. Refusals (403, 404, a bad
	// checksum) are never retried.
	MaxAttempts int
	// SpoolDir is where Put stages an upload before sending it. Default "" (os.TempDir()).
	SpoolDir string
}

// DefaultConfig returns the defaults documented on each field; Endpoint and Bucket stay empty.
func DefaultConfig() Config {
	return Config{
		Region:      "us-east-1",
		Prefix:      "evidence/",
		Secure:      true,
		Timeout:     time.Minute,
		MaxAttempts: 3,
	}
}

// Sentinel errors, checked with errors.Is.
var (
	// ErrConfig is wrapped by every Validate error.
	ErrConfig = errors.New("s3store: invalid config")
	// ErrNoBucket: the bucket does not exist (and CreateBucket is off).
	ErrNoBucket = errors.New("s3store: no such bucket")
	// ErrDenied: the server refused the credentials or the permission.
	ErrDenied = errors.New("s3store: access denied")
	// ErrDigest: the digest is not 64 lowercase hex digits, or the content does not hash to it.
	ErrDigest = errors.New("s3store: content does not match its digest")
	// ErrNotFound: Open found no photo with that digest.
	ErrNotFound = errors.New("s3store: no such photo")
)

// Validate reports the first missing or out-of-range value.
func (c Config) Validate() error {
	bad := confcheck.Bad(ErrConfig)
	switch {
	case c.Endpoint == "":
		return bad("empty endpoint")
	case strings.Contains(c.Endpoint, "://"):
		return bad("endpoint %q: give host:port without scheme (TLS is the Secure setting)", c.Endpoint)
	case strings.ContainsAny(c.Endpoint, "/?#"):
		return bad("endpoint %q: give host:port, without a path", c.Endpoint)
	case c.Bucket == "":
		return bad("empty bucket name")
	case (c.AccessKey == "") != (c.SecretKey == ""):
		return bad("give both access key and secret key, or neither")
	case c.Timeout <= 0:
		return bad("timeout %v: want > 0", c.Timeout)
	case c.MaxAttempts < 1 || c.MaxAttempts > 10:
		return bad("max attempts %d: want 1..10", c.MaxAttempts)
	case strings.HasPrefix(c.Prefix, "/"):
		return bad("key prefix %q: must not start with /", c.Prefix)
	}
	return nil
}

// Store is an evidence store in one bucket. Safe for concurrent use.
type Store struct {
	cfg Config
	cl  *minio.Client
}

// New checks cfg and builds the client. It does not contact the server: call EnsureBucket
// for that.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		creds = credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
	}
	cl, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  creds,
		Secure: cfg.Secure,
		Region: cfg.Region,
		// minio-go accepts a precomputed x-amz-checksum-* header (ours, from the digest)
		// only from a client that declares trailing-header support.
		TrailingHeaders: true,
		MaxRetries:      cfg.MaxAttempts,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return &Store{cfg: cfg, cl: cl}, nil
}

// Key returns the object name of the photo with this digest.
func (s *Store) Key(digest string) string { return s.cfg.Prefix + "sha256/" + digest }

// Where names the bucket and prefix, for logs.
func (s *Store) Where() string {
	scheme := "https"
	if !s.cfg.Secure {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s/%s/%s", scheme, s.cfg.Endpoint, s.cfg.Bucket, s.cfg.Prefix)
}

// EnsureBucket checks that the bucket exists and that the credentials are accepted,
// creating the bucket when CreateBucket is set. Call it at start, so that a misconfigured
// store fails then and not at the first photo of the night.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ok, err := s.cl.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return s.wrap("bucket check", err)
	}
	if ok {
		return nil
	}
	if !s.cfg.CreateBucket {
		return fmt.Errorf("%w: %q at %s (create it, or check the name and endpoint)", ErrNoBucket, s.cfg.Bucket, s.cfg.Endpoint)
	}
	if err := s.cl.MakeBucket(ctx, s.cfg.Bucket, minio.MakeBucketOptions{Region: s.cfg.Region}); err != nil {
		// Another ingest may have created it meanwhile.
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		return s.wrap("create bucket", err)
	}
	return nil
}

// Has reports whether the photo with this digest is stored. Blocks for at most Timeout.
func (s *Store) Has(ctx context.Context, digest string) (bool, error) {
	if !validDigest(digest) {
		return false, fmt.Errorf("%w: %q is not 64 lowercase hex digits", ErrDigest, digest)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err := s.cl.StatObject(ctx, s.cfg.Bucket, s.Key(digest), minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return false, nil
	}
	return false, s.wrap("stat "+s.Key(digest), err)
}

// Open returns the photo with this digest and its size, for reading; ErrNotFound when the
// bucket has no such object. The caller closes it. Each read is bounded by ctx, not Timeout:
// a photo streams to a slow client for as long as that client's request lives.
func (s *Store) Open(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	if !validDigest(digest) {
		return nil, 0, fmt.Errorf("%w: %q is not 64 lowercase hex digits", ErrDigest, digest)
	}
	sctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	info, err := s.cl.StatObject(sctx, s.cfg.Bucket, s.Key(digest), minio.StatObjectOptions{})
	cancel()
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, s.Key(digest))
		}
		return nil, 0, s.wrap("stat "+s.Key(digest), err)
	}
	obj, err := s.cl.GetObject(ctx, s.cfg.Bucket, s.Key(digest), minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, s.wrap("get "+s.Key(digest), err)
	}
	return obj, info.Size, nil
}

// Get reads the photo with this digest (Open), at most max bytes, and checks that its bytes
// hash to the digest: a photo altered in the bucket is ErrDigest, never served.
func (s *Store) Get(ctx context.Context, digest string, max int64) ([]byte, error) {
	rc, _, err := s.Open(ctx, digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, s.wrap("get "+s.Key(digest), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("s3store: %s is larger than %d bytes", s.Key(digest), max)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != digest {
		return nil, fmt.Errorf("%w: the stored bytes of %s hash to %x", ErrDigest, digest, sum)
	}
	return b, nil
}

// Put stores what r yields as the photo with this digest. It first copies r to a file in
// SpoolDir, hashing it; if r fails (ingest's reader reports a mismatch or an oversize body
// only at its end) or the bytes do not hash to digest, nothing is sent and the error is
// returned. Otherwise it sends one PUT of known length with the SHA-256 in
// x-amz-checksum-sha256, so that the bucket, too, refuses bytes damaged on the way. An
// S3 PUT is atomic: readers see the whole object or none. Two Puts of the same photo both
// succeed, leaving one object (the same bytes). Blocks for at most Timeout once spooled.
func (s *Store) Put(ctx context.Context, digest string, r io.Reader) error {
	if !validDigest(digest) {
		return fmt.Errorf("%w: %q is not 64 lowercase hex digits", ErrDigest, digest)
	}
	f, err := os.CreateTemp(s.cfg.SpoolDir, "evidence-upload-*")
	if err != nil {
		return fmt.Errorf("s3store: spool file: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return err // the reader's own error, unwrapped: the caller tells its kinds apart
	}
	sum := h.Sum(nil)
	if hex.EncodeToString(sum) != digest {
		return fmt.Errorf("%w: the %d bytes hash to %x, not %s", ErrDigest, n, sum, digest)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("s3store: spool file: %w", err)
	}
	return s.upload(ctx, digest, sum, f, n)
}

// upload sends body (n bytes, seekable so that a retry can start over) as the object of
// digest, declaring sum as its SHA-256 for the server to check.
func (s *Store) upload(ctx context.Context, digest string, sum []byte, body io.ReadSeeker, n int64) error {
	head := make([]byte, 8)
	m, _ := io.ReadFull(body, head)
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("s3store: spool file: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err := s.cl.PutObject(ctx, s.cfg.Bucket, s.Key(digest), body, n, minio.PutObjectOptions{
		ContentType: contentType(head[:m]),
		// A checksum header given here is sent as is, and minio-go adds none of its own.
		UserMetadata:     map[string]string{minio.ChecksumSHA256.Key(): base64.StdEncoding.EncodeToString(sum)},
		DisableMultipart: true, // one PUT: the object appears whole or not at all
	})
	if err != nil {
		return s.wrap("put "+s.Key(digest), err)
	}
	return nil
}

func validDigest(d string) bool {
	if len(d) != 64 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if c := d[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// wrap gives a server error context, and a sentinel for the refusals an operator must fix.
func (s *Store) wrap(op string, err error) error {
	resp := minio.ToErrorResponse(err)
	where := fmt.Sprintf("bucket %q at %s", s.cfg.Bucket, s.cfg.Endpoint)
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.Code == "AccessDenied" ||
		resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch":
		return fmt.Errorf("%w: %s on %s: %s (check the access key and secret key, and the bucket policy)", ErrDenied, op, where, describe(resp, err))
	case resp.Code == minio.NoSuchBucket:
		return fmt.Errorf("%w: %s on %s", ErrNoBucket, op, where)
	case resp.Code == "BadDigest" || resp.Code == "XAmzContentChecksumMismatch" || resp.Code == "InvalidDigest":
		return fmt.Errorf("%w: %s on %s: the server says %s", ErrDigest, op, where, describe(resp, err))
	}
	return fmt.Errorf("s3store: %s on %s: %w", op, where, err)
}

func describe(resp minio.ErrorResponse, err error) string {
	if resp.Code != "" {
		return resp.Code + ": " + resp.Message
	}
	return err.Error()
}

// contentType names a photo by its first bytes (schemas.PhotoType).
func contentType(head []byte) string { return schemas.PhotoType(head) }
