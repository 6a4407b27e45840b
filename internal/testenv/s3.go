package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Environment variables of the S3-compatible server (S3Proxy from scripts/services). The
// keys default to the development identity scripts/services gives S3Proxy on loopback.
const (
	EnvS3          = "VOTESTREAM_S3" // host:port, plain HTTP
	EnvS3AccessKey = "VOTESTREAM_S3_ACCESS_KEY"
	EnvS3SecretKey = "VOTESTREAM_S3_SECRET_KEY"
)

// S3Env is a fresh, empty bucket on the real S3-compatible server.
type S3Env struct {
	Endpoint             string // host:port, plain HTTP
	Bucket               string
	AccessKey, SecretKey string
	Region               string
	Client               *minio.Client // for the test's own checks (listing, stat)
}

// S3 creates a bucket unique to t on the server named by VOTESTREAM_S3 and, when the test
// ends, deletes every object in it and the bucket. Skips or fails like Kafka when the
// variable is unset.
func S3(t testing.TB) *S3Env {
	t.Helper()
	env := &S3Env{
		Endpoint:  service(t, EnvS3),
		Bucket:    bucketName(t),
		AccessKey: envOr(EnvS3AccessKey, "votestream"),
		SecretKey: envOr(EnvS3SecretKey, "votestream-local-secret"),
		Region:    "us-east-1",
	}
	cl, err := minio.New(env.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(env.AccessKey, env.SecretKey, ""),
		Region:     env.Region,
		MaxRetries: 2,
	})
	if err != nil {
		t.Fatalf("testenv: s3 client for %s: %v", env.Endpoint, err)
	}
	env.Client = cl
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := cl.MakeBucket(ctx, env.Bucket, minio.MakeBucketOptions{Region: env.Region}); err != nil {
		t.Fatalf("testenv: create bucket %s on %s: %v", env.Bucket, env.Endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		for obj := range cl.ListObjects(ctx, env.Bucket, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err != nil {
				t.Errorf("testenv: list bucket %s: %v", env.Bucket, obj.Err)
				return
			}
			if err := cl.RemoveObject(ctx, env.Bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
				t.Errorf("testenv: remove %s/%s: %v", env.Bucket, obj.Key, err)
				return
			}
		}
		// Best effort: S3Proxy's filesystem backend keeps the empty folders of a refused
		// upload and then calls the bucket not empty; a leftover bucket under a random
		// name harms no other test.
		if err := cl.RemoveBucket(ctx, env.Bucket); err != nil {
			t.Logf("testenv: bucket %s left behind: %v", env.Bucket, err)
		}
	})
	return env
}

// Keys lists every object key in the bucket, sorted (S3 lists in key order).
func (e *S3Env) Keys(t testing.TB) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	var keys []string
	for obj := range e.Client.ListObjects(ctx, e.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("testenv: list bucket %s: %v", e.Bucket, obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// bucketName is uniqueName within S3's rules: 3 to 63 lowercase letters, digits and
// hyphens, starting and ending with a letter or digit.
func bucketName(t testing.TB) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	var sb strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if sb.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		default:
			sb.WriteByte('-')
		}
	}
	return "t-" + sb.String() + "-" + hex.EncodeToString(b[:])
}
