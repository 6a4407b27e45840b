package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"votestream/internal/testenv"
)

// A real 1x1 PNG, and the start of a JPEG (SOI, APP0/JFIF) padded out.
var (
	tinyPNG   = testenv.TinyPNG()
	jpegStart = testenv.JPEGStart(70000)
)

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// storeOn is a Store on the test's fresh bucket, plain HTTP like S3Proxy on loopback.
func storeOn(t *testing.T, env *testenv.S3Env, mutate func(*Config)) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Endpoint, cfg.Bucket, cfg.Region = env.Endpoint, env.Bucket, env.Region
	cfg.AccessKey, cfg.SecretKey, cfg.Secure = env.AccessKey, env.SecretKey, false
	cfg.SpoolDir = t.TempDir()
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestS3PutThenHas(t *testing.T) {
	env := testenv.S3(t)
	s := storeOn(t, env, nil)
	ctx := ctxT(t)
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("EnsureBucket on the test's bucket: %v", err)
	}
	for _, tc := range []struct {
		name  string
		photo []byte
		ctype string
	}{
		{"png", tinyPNG, "image/png"},
		{"jpeg", jpegStart, "image/jpeg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := digestOf(tc.photo)
			if has, err := s.Has(ctx, d); err != nil || has {
				t.Fatalf("before Put: Has = %v, %v; want false, nil", has, err)
			}
			if err := s.Put(ctx, d, bytes.NewReader(tc.photo)); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if has, err := s.Has(ctx, d); err != nil || !has {
				t.Fatalf("after Put: Has = %v, %v; want true, nil", has, err)
			}
			if got, err := s.Get(ctx, d, 1<<20); err != nil || !bytes.Equal(got, tc.photo) {
				t.Fatalf("Get: %d bytes, %v; want the photo", len(got), err)
			}
			key := "evidence/sha256/" + d
			obj, err := env.Client.GetObject(ctx, env.Bucket, key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(got, tc.photo) {
				t.Fatalf("stored object %s: %d bytes, err %v; want the %d bytes put", key, len(got), err, len(tc.photo))
			}
			info, err := env.Client.StatObject(ctx, env.Bucket, key, minio.StatObjectOptions{Checksum: true})
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(tc.photo)
			if info.ContentType != tc.ctype || info.ChecksumSHA256 != base64.StdEncoding.EncodeToString(sum[:]) {
				t.Fatalf("object metadata: type %q, sha256 %q; want %q and the photo's SHA-256", info.ContentType, info.ChecksumSHA256, tc.ctype)
			}
		})
	}
}

// TestS3GetRefusesAlteredOrMissing: a photo replaced in the bucket behind the store's back
// is refused (ErrDigest), a missing one is ErrNotFound.
func TestS3GetRefusesAlteredOrMissing(t *testing.T) {
	env := testenv.S3(t)
	s := storeOn(t, env, nil)
	ctx := ctxT(t)
	d := digestOf(tinyPNG)
	if _, err := s.Get(ctx, d, 1<<20); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a photo never put: %v, want ErrNotFound", err)
	}
	if _, err := env.Client.PutObject(ctx, env.Bucket, "evidence/sha256/"+d, bytes.NewReader(jpegStart), int64(len(jpegStart)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, d, 1<<20); !errors.Is(err, ErrDigest) {
		t.Errorf("Get of altered bytes: %v, want ErrDigest", err)
	}
}

func TestS3HasMissing(t *testing.T) {
	env := testenv.S3(t)
	s := storeOn(t, env, nil)
	has, err := s.Has(ctxT(t), digestOf([]byte("never stored")))
	if err != nil || has {
		t.Fatalf("Has of a missing photo = %v, %v; want false, nil", has, err)
	}
}

// failingAtEnd yields the whole body, then fails instead of io.EOF, as ingest's verifying
// reader does when the content does not hash to its name.
type failingAtEnd struct {
	r   io.Reader
	err error
}

func (f *failingAtEnd) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func TestS3PutPublishesNothingOnFailure(t *testing.T) {
	env := testenv.S3(t)
	s := storeOn(t, env, nil)
	ctx := ctxT(t)
	errMismatch := errors.New("content does not hash to its name")
	other := digestOf([]byte("another photo"))
	cases := []struct {
		name    string
		digest  string
		r       io.Reader
		wantErr error
	}{
		// ingest's reader: the right digest, but the reader fails after the last byte
		{"reader fails at the end", digestOf(tinyPNG), &failingAtEnd{bytes.NewReader(tinyPNG), errMismatch}, errMismatch},
		// a caller without a verifying reader: the store's own hash refuses the bytes
		{"bytes do not hash to the digest", other, bytes.NewReader(tinyPNG), ErrDigest},
		{"reader cut off", digestOf(jpegStart), &failingAtEnd{bytes.NewReader(jpegStart[:5000]), io.ErrUnexpectedEOF}, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Put(ctx, tc.digest, tc.r); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Put: %v; want %v", err, tc.wantErr)
			}
			if has, err := s.Has(ctx, tc.digest); err != nil || has {
				t.Fatalf("Has after a failed Put = %v, %v; want false, nil", has, err)
			}
		})
	}
	if keys := env.Keys(t); len(keys) != 0 {
		t.Fatalf("bucket holds %v after failed Puts; want nothing", keys)
	}
	if left, err := os.ReadDir(s.cfg.SpoolDir); err != nil || len(left) != 0 {
		t.Fatalf("spool folder holds %v (%v); want every staged upload removed", left, err)
	}
}

// The bucket checks the declared SHA-256 itself: bytes damaged after the store hashed
// them (on the wire, say) are refused by the server, and no object appears.
func TestS3ServerRefusesWrongChecksum(t *testing.T) {
	env := testenv.S3(t)
	s := storeOn(t, env, nil)
	ctx := ctxT(t)
	d := digestOf(tinyPNG)
	sum, _ := hex.DecodeString(d)
	damaged := append([]byte(nil), tinyPNG...)
	damaged[40] ^= 0x01
	err := s.upload(ctx, d, sum, bytes.NewReader(damaged), int64(len(damaged)))
	if !errors.Is(err, ErrDigest) {
		t.Fatalf("upload of damaged bytes: %v; want ErrDigest from the server", err)
	}
	if keys := env.Keys(t); len(keys) != 0 {
		t.Fatalf("bucket holds %v after a refused upload; want nothing", keys)
	}
	// The refusal left nothing in the way of the real photo. (Storing it also lets the
	// cleanup remove the empty folders S3Proxy's filesystem backend kept from the refusal.)
	if err := s.Put(ctx, d, bytes.NewReader(tinyPNG)); err != nil {
		t.Fatalf("Put of the undamaged photo after the refusal: %v", err)
	}
}

// gatedReader blocks its first Read until every upload has started, so the Puts overlap.
type gatedReader struct {
	r       io.Reader
	once    sync.Once
	started *sync.WaitGroup
	gate    <-chan struct{}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	g.once.Do(func() { g.started.Done(); <-g.gate })
	return g.r.Read(p)
}

func TestS3ConcurrentPutsOfOnePhoto(t *testing.T) {
	env := testenv.S3(t)
	s := storeOn(t, env, nil)
	ctx := ctxT(t)
	d := digestOf(jpegStart)
	const n = 4
	var started, done sync.WaitGroup
	gate := make(chan struct{})
	started.Add(n)
	errs := make([]error, n)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			errs[i] = s.Put(ctx, d, &gatedReader{r: bytes.NewReader(jpegStart), started: &started, gate: gate})
		}()
	}
	started.Wait()
	close(gate)
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	if keys := env.Keys(t); len(keys) != 1 || keys[0] != "evidence/sha256/"+d {
		t.Fatalf("bucket holds %v; want the one photo", keys)
	}
}

func TestS3WrongCredentials(t *testing.T) {
	env := testenv.S3(t)
	s := storeOn(t, env, func(c *Config) { c.SecretKey = "not-the-secret" })
	ctx := ctxT(t)
	d := digestOf(tinyPNG)
	checks := []struct {
		op  string
		err error
	}{
		{"EnsureBucket", s.EnsureBucket(ctx)},
		{"Has", func() error { _, err := s.Has(ctx, d); return err }()},
		{"Put", s.Put(ctx, d, bytes.NewReader(tinyPNG))},
	}
	for _, c := range checks {
		if !errors.Is(c.err, ErrDenied) || !strings.Contains(c.err.Error(), "access key") {
			t.Errorf("%s with a wrong secret: %v; want ErrDenied naming the keys", c.op, c.err)
		}
	}
	if keys := env.Keys(t); len(keys) != 0 {
		t.Fatalf("bucket holds %v; want nothing", keys)
	}
}

func TestS3EnsureBucket(t *testing.T) {
	env := testenv.S3(t)
	ctx := ctxT(t)
	missing := env.Bucket + "-x"
	s := storeOn(t, env, func(c *Config) { c.Bucket = missing })
	err := s.EnsureBucket(ctx)
	if !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("EnsureBucket on a missing bucket: %v; want ErrNoBucket naming %s", err, missing)
	}

	s = storeOn(t, env, func(c *Config) { c.Bucket = missing; c.CreateBucket = true })
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("EnsureBucket with CreateBucket: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := env.Client.RemoveBucket(ctx, missing); err != nil {
			t.Errorf("remove bucket %s: %v", missing, err)
		}
	})
	if ok, err := env.Client.BucketExists(ctx, missing); err != nil || !ok {
		t.Fatalf("bucket %s after EnsureBucket with CreateBucket: exists %v, %v", missing, ok, err)
	}
	// Twice is fine: the bucket now exists.
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("second EnsureBucket: %v", err)
	}
}

// A server that accepts connections and never answers: every call ends by Timeout with an
// error, not a hang.
func TestTimeoutBoundsEveryCall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	cfg := DefaultConfig()
	cfg.Endpoint, cfg.Bucket, cfg.Secure = ln.Addr().String(), "evidence", false
	cfg.AccessKey, cfg.SecretKey = "k", "s"
	cfg.Timeout, cfg.MaxAttempts = 300*time.Millisecond, 1
	cfg.SpoolDir = t.TempDir()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf(tinyPNG)
	ctx := context.Background()
	if _, err := s.Has(ctx, d); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Has on a silent server: %v; want a deadline error", err)
	}
	if err := s.Put(ctx, d, bytes.NewReader(tinyPNG)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put on a silent server: %v; want a deadline error", err)
	}
	if err := s.EnsureBucket(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("EnsureBucket on a silent server: %v; want a deadline error", err)
	}
}

func TestValidate(t *testing.T) {
	good := DefaultConfig()
	good.Endpoint, good.Bucket = "127.0.0.1:29900", "evidence"
	cases := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"defaults with endpoint and bucket", func(*Config) {}, true},
		{"with keys", func(c *Config) { c.AccessKey, c.SecretKey = "a", "b" }, true},
		{"empty prefix", func(c *Config) { c.Prefix = "" }, true},
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, false},
		{"endpoint with scheme", func(c *Config) { c.Endpoint = "https://s3.example.org" }, false},
		{"endpoint with path", func(c *Config) { c.Endpoint = "s3.example.org/bucket" }, false},
		{"no bucket", func(c *Config) { c.Bucket = "" }, false},
		{"access key without secret", func(c *Config) { c.AccessKey = "a" }, false},
		{"secret without access key", func(c *Config) { c.SecretKey = "b" }, false},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, false},
		{"zero attempts", func(c *Config) { c.MaxAttempts = 0 }, false},
		{"eleven attempts", func(c *Config) { c.MaxAttempts = 11 }, false},
		{"prefix starting with /", func(c *Config) { c.Prefix = "/evidence/" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			err := c.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("Validate = %v; want ok=%v (ErrConfig otherwise)", err, tc.ok)
			}
		})
	}
	if err := DefaultConfig().Validate(); err == nil {
		t.Fatal("DefaultConfig without endpoint and bucket validated")
	}
}

func TestKeyAndDigestChecks(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Endpoint, cfg.Bucket = "127.0.0.1:1", "evidence"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf(tinyPNG)
	if got, want := s.Key(d), "evidence/sha256/"+d; got != want {
		t.Fatalf("Key = %q; want %q", got, want)
	}
	// Malformed digests are refused before any request (nothing listens on port 1).
	for _, bad := range []string{"", strings.ToUpper(d), d[:63], d + "0", "../" + d[3:]} {
		if _, err := s.Has(context.Background(), bad); !errors.Is(err, ErrDigest) {
			t.Errorf("Has(%q) = %v; want ErrDigest", bad, err)
		}
		if err := s.Put(context.Background(), bad, bytes.NewReader(tinyPNG)); !errors.Is(err, ErrDigest) {
			t.Errorf("Put(%q) = %v; want ErrDigest", bad, err)
		}
	}
}

func TestContentType(t *testing.T) {
	cases := []struct {
		head []byte
		want string
	}{
		{tinyPNG[:8], "image/png"},
		{jpegStart[:8], "image/jpeg"},
		{[]byte{0xff, 0xd8, 0xff}, "image/jpeg"},
		{[]byte("GIF89a\x01\x00"), "application/octet-stream"},
		{[]byte{0x89, 'P', 'N', 'G'}, "application/octet-stream"}, // cut short
		{nil, "application/octet-stream"},
	}
	for _, tc := range cases {
		if got := contentType(tc.head); got != tc.want {
			t.Errorf("contentType(% x) = %q; want %q", tc.head, got, tc.want)
		}
	}
}
