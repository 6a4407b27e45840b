package ingest

import (
	"errors"
	"net/http"
	"testing"

	"votestream/ingest/s3store"
	"votestream/internal/testenv"
)

func s3Config(env *testenv.S3Env) s3store.Config {
	c := s3store.DefaultConfig()
	c.Endpoint, c.Bucket, c.Region = env.Endpoint, env.Bucket, env.Region
	c.AccessKey, c.SecretKey, c.Secure = env.AccessKey, env.SecretKey, false
	return c
}

// PUT /v1/evidence through the S3 store: the same answers as with the local folder, and
// only good photos reach the bucket.
func TestEvidenceS3(t *testing.T) {
	env := testenv.S3(t)
	h := newHarness(t, func(c *Config) { c.EvidenceS3 = s3Config(env); c.MaxEvidenceBytes = 4096 })
	put := func(path string, body []byte, tok string) response {
		return h.do(http.MethodPut, path, tok, "image/png", body)
	}
	d, jd := digestOf(tinyPNG), digestOf(jpegStart)
	other := digestOf([]byte("something else"))
	steps := []struct {
		name   string
		path   string
		body   []byte
		tok    string
		status int
		code   string
	}{
		{"first upload", "/v1/evidence/sha256:" + d, tinyPNG, h.volunteer, http.StatusCreated, ""},
		{"second upload of the same photo", "/v1/evidence/sha256:" + d, tinyPNG, h.volunteer, http.StatusOK, ""},
		{"a JPEG from a district lead", "/v1/evidence/sha256:" + jd, jpegStart, h.lead, http.StatusCreated, ""},
		{"content does not match the name", "/v1/evidence/sha256:" + other, tinyPNG, h.volunteer, 400, CodeHashMismatch},
		{"too large", "/v1/evidence/sha256:" + other, append(append([]byte(nil), jpegStart...), make([]byte, 4096)...), h.volunteer, 413, CodeBodyTooLarge},
	}
	for _, st := range steps {
		r := put(st.path, st.body, st.tok)
		code, _ := r.errorCode()
		if r.status != st.status || code != st.code {
			t.Fatalf("%s: got %d %s, want %d %s: %s", st.name, r.status, code, st.status, st.code, r.body)
		}
	}
	got := env.Keys(t)
	want := []string{"evidence/sha256/" + d, "evidence/sha256/" + jd}
	if d > jd {
		want[0], want[1] = want[1], want[0]
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("bucket holds %v; want %v", got, want)
	}
}

// A bucket that does not exist stops New, before any photo arrives.
func TestEvidenceS3MissingBucketFailsAtStart(t *testing.T) {
	env := testenv.S3(t)
	cfg := DefaultConfig()
	cfg.EvidenceS3 = s3Config(env)
	cfg.EvidenceS3.Bucket = env.Bucket + "-missing"
	cfg.Country = testCountry(t)
	_, err := New(cfg, withProducer(&fakeProducer{}), WithKeyring(testKeyring(t)))
	if !errors.Is(err, s3store.ErrNoBucket) {
		t.Fatalf("New with a missing evidence bucket: %v; want s3store.ErrNoBucket", err)
	}
}

func TestEvidenceS3ConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*s3store.Config)
		want   error // nil: valid
	}{
		{"no endpoint: the local folder", func(c *s3store.Config) { c.Endpoint, c.Bucket = "", "" }, nil},
		{"a bucket without endpoint", func(c *s3store.Config) { c.Endpoint = "" }, ErrConfig},
		{"keys without endpoint", func(c *s3store.Config) { c.Endpoint, c.Bucket, c.AccessKey, c.SecretKey = "", "", "a", "s" }, ErrConfig},
		{"endpoint and bucket", func(c *s3store.Config) {}, nil},
		{"endpoint without bucket", func(c *s3store.Config) { c.Bucket = "" }, s3store.ErrConfig},
		{"endpoint with scheme", func(c *s3store.Config) { c.Endpoint = "https://s3.example.org" }, s3store.ErrConfig},
		{"secret without access key", func(c *s3store.Config) { c.SecretKey = "s" }, s3store.ErrConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.EvidenceS3.Endpoint, c.EvidenceS3.Bucket = "s3.example.org", "evidence"
			tc.mutate(&c.EvidenceS3)
			err := c.Validate()
			if tc.want == nil && err != nil {
				t.Fatalf("Validate = %v; want nil", err)
			}
			if tc.want != nil && (!errors.Is(err, ErrConfig) || !errors.Is(err, tc.want)) {
				t.Fatalf("Validate = %v; want ErrConfig wrapping %v", err, tc.want)
			}
		})
	}
}
