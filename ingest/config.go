package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/election"
	"votestream/ingest/s3store"
	"votestream/internal/confcheck"
)

// Spread policies: what ingest does with a submission for a station outside the volunteer's
// token scope.
const (
	// SpreadFlag accepts the submission and marks its record with the SPREAD flag (a Kafka
	// header, see HeaderFlags) for consolidate to raise the anomaly. Volunteers are often
	// moved to a neighbouring station on the night; their count is still worth having.
	SpreadFlag = "flag"
	// SpreadRefuse answers 403 OUT_OF_SCOPE.
	SpreadRefuse = "refuse"
)

// Config is everything `votestream ingest` can be told. The zero value is not usable: start
// from DefaultConfig. Reviews and official figures are always refused out of scope,
// whatever SpreadPolicy says: they carry authority, not observations.
type Config struct {
	// Listen is the HTTP listen address. Default ":8080".
	Listen string
	// Seeds are the Kafka bootstrap brokers (host:port). Default ["127.0.0.1:9092"].
	Seeds []string
	// TopicPrefix is prepended to every topic name (tests isolate themselves with it). Default "".
	TopicPrefix string

	// TokenKeysFile is the token key file (see token.ParseKeyring). Required unless the
	// keyring is given with WithKeyring.
	TokenKeysFile string
	// StaffKeysFile is the separate key file of district leads', the war room's and the
	// desk's tokens (token.LoadStaffKeyring); "" refuses every privileged token. The
	// volunteers' keys never verify a privileged token. CLI: --staff-keys.
	StaffKeysFile string
	// ConsoleKeysFile is the key file shared with the review console (token.LoadConsoleKeys,
	// the console's --console-keys): with it, a review or official figure sent with a
	// privileged token is taken only when the console signed the request (so its second
	// factor and second approver cannot be skipped), else 403 CONSOLE_ONLY. "" takes a
	// staff token alone, as before, and logs a warning at start. CLI: --console-keys.
	ConsoleKeysFile string
	// ConsoleSkew is how far the console's signing time may be from ingest's clock.
	// Default 5m.
	ConsoleSkew time.Duration
	// RevocationFile lists revoked volunteer and token ids, one per line; "" for none.
	// Re-read every RevocationReload when it changes. Default "".
	RevocationFile string
	// RevocationReload is how often the revocation file is checked for changes. Default 10s.
	RevocationReload time.Duration

	// MaxBodyBytes bounds a submissions, reviews or official request body; larger bodies get
	// 413. Default 256 KiB (a batch of 100 submissions is about 40 KiB).
	MaxBodyBytes int64
	// MaxBatch is the most submissions one request may carry. Default 100.
	MaxBatch int
	// MaxEvidenceBytes bounds one evidence photo; larger uploads get 413. Default 10 MiB.
	MaxEvidenceBytes int64
	// EvidenceDir is the folder of the local content-addressed evidence store, used unless
	// EvidenceS3.Endpoint is set or a store is given with WithEvidenceStore. Default
	// "var/evidence".
	EvidenceDir string
	// EvidenceS3 puts evidence in an S3-compatible bucket instead of EvidenceDir when its
	// Endpoint is set; New then checks that the bucket exists and accepts the credentials.
	// Default s3store.DefaultConfig() (no endpoint: the local folder).
	EvidenceS3 s3store.Config
	// EvidenceLogURL is the transparency log's public address (evidencelog's listen
	// address as the public reaches it, e.g. "https://log.example.org"): receipts then name
	// where the proof of their leaf is fetched. Default "" (receipts name the leaf only).
	EvidenceLogURL string

	// RatePerVolunteer is the sustained number of requests per second one volunteer (token
	// subject) may make; 0 disables the limit. A batch counts as one request. Default 2.
	RatePerVolunteer float64
	// RateBurst is how many requests a volunteer may make at once after being idle. Default 30.
	RateBurst int

	// ProduceTimeout bounds how long a request waits for Kafka to acknowledge its records
	// before it answers 503. Default 5s.
	ProduceTimeout time.Duration
	// RetryAfter is the Retry-After given with 503 answers (whole seconds). Default 5s.
	RetryAfter time.Duration
	// MaxBufferedRecords bounds the records waiting in the producer; when it is full, new
	// requests wait (at most ProduceTimeout) for space. Default 10,000.
	MaxBufferedRecords int
	// Linger is how long a partition's records wait to fill a batch before a produce request
	// is built. One submission per request makes one record per request, so at 1ms the
	// broker got batches of one or two records and spent about as much CPU per submission
	// as ingest itself; 5ms cut the broker's CPU per submission by about a third and
	// ingest's producer's with it, for at most 5ms more before the 202 (docs/benchmarks.md,
	// "Ingest's CPU per submission"). Default 5ms.
	Linger time.Duration

	// SpreadPolicy is SpreadFlag or SpreadRefuse. Default SpreadFlag.
	SpreadPolicy string
	// MaxClockSkew is how far in the future counted_at may be (phones' clocks are wrong by
	// minutes) before COUNTED_AT_FUTURE. Default 5m.
	MaxClockSkew time.Duration

	// DedupeTTL is how long an accepted id is remembered for idempotent retries. Default 30m.
	DedupeTTL time.Duration
	// DedupeMaxEntries bounds the idempotency store (about 300 bytes each); the oldest ids
	// are forgotten first. Default 500,000.
	DedupeMaxEntries int
	// WarmupTimeout bounds the dedupe store's warm-up at start: Serve reads back the
	// submissions of the last DedupeTTL from Kafka while submissions get 503 STARTING, so a
	// retry after a restart still gets its first receipt. When it passes (or Kafka fails),
	// ingest goes on with the ids read so far. 0 disables the warm-up. Default 60s.
	WarmupTimeout time.Duration

	// ShutdownGrace is how long Run lets in-flight requests finish after its context ends.
	// Default 10s.
	ShutdownGrace time.Duration

	// ClaimCap is how many volunteers may claim one station before the day (POST
	// /v1/claims); roster assignments do not count against it. Default 3.
	ClaimCap int
	// TLS: Run serves HTTPS with this certificate and key (PEM files) when both are set,
	// or with certificates from ACME (Let's Encrypt, TLS-ALPN-01 on the listen port) for
	// ACMEDomains, kept in ACMECacheDir. The form needs HTTPS except on localhost
	// (WebCrypto and service workers need a secure context). Default: plain HTTP, for a
	// TLS proxy in front (docs/volunteers.md).
	TLSCertFile, TLSKeyFile string
	ACMEDomains             []string
	// ACMECacheDir keeps ACME account keys and certificates. Default "var/acme".
	ACMECacheDir string

	// Country is the reference data reports are checked against; required, indexed and
	// listing its stations (New says ErrNotIndexed or ErrNoStations otherwise).
	Country *election.Country
	// Logger receives the role's logs. Default slog.Default().
	Logger *slog.Logger
	// Registry gets ingest's metrics and is what its /metrics serves (ingest serves it
	// itself, so it takes a Registry, not only a Registerer); `votestream up` shares one
	// between roles. Default a private registry with the Go and process collectors.
	Registry *prometheus.Registry
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		Listen:             ":8080",
		Seeds:              []string{"127.0.0.1:9092"},
		RevocationReload:   10 * time.Second,
		ConsoleSkew:        5 * time.Minute,
		MaxBodyBytes:       256 << 10,
		MaxBatch:           100,
		MaxEvidenceBytes:   10 << 20,
		EvidenceDir:        "var/evidence",
		EvidenceS3:         s3store.DefaultConfig(),
		RatePerVolunteer:   2,
		RateBurst:          30,
		ProduceTimeout:     5 * time.Second,
		RetryAfter:         5 * time.Second,
		MaxBufferedRecords: 10000,
		Linger:             5 * time.Millisecond,
		SpreadPolicy:       SpreadFlag,
		MaxClockSkew:       5 * time.Minute,
		DedupeTTL:          30 * time.Minute,
		DedupeMaxEntries:   500000,
		WarmupTimeout:      time.Minute,
		ShutdownGrace:      10 * time.Second,
		ClaimCap:           3,
		ACMECacheDir:       "var/acme",
	}
}

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("ingest: invalid config")

// Validate reports the first contradiction or out-of-range value. The token key file is
// checked by New, which may receive the keyring by option instead.
func (c Config) Validate() error {
	bad := confcheck.Bad(ErrConfig)
	switch {
	case c.Listen == "":
		return bad("empty listen address")
	case len(c.Seeds) == 0:
		return bad("no Kafka seed brokers")
	case c.MaxBodyBytes < 1024:
		return bad("body limit %d bytes: want at least 1024", c.MaxBodyBytes)
	case c.MaxBatch < 1 || c.MaxBatch > 10000:
		return bad("batch limit %d: want 1..10000", c.MaxBatch)
	case c.MaxEvidenceBytes < 1024:
		return bad("evidence limit %d bytes: want at least 1024", c.MaxEvidenceBytes)
	case c.RatePerVolunteer < 0:
		return bad("negative rate %v", c.RatePerVolunteer)
	case c.RatePerVolunteer > 0 && c.RateBurst < 1:
		return bad("rate burst %d: want at least 1 when the rate limit is on", c.RateBurst)
	case c.ProduceTimeout <= 0:
		return bad("produce timeout %v: want > 0", c.ProduceTimeout)
	case c.RetryAfter < time.Second:
		return bad("Retry-After %v: want at least 1s", c.RetryAfter)
	case c.MaxBufferedRecords < 1:
		return bad("max buffered records %d: want at least 1", c.MaxBufferedRecords)
	case c.Linger < 0 || c.Linger > time.Second:
		return bad("linger %v: want 0..1s", c.Linger)
	case c.SpreadPolicy != SpreadFlag && c.SpreadPolicy != SpreadRefuse:
		return bad("spread policy %q: want %q or %q", c.SpreadPolicy, SpreadFlag, SpreadRefuse)
	case c.MaxClockSkew < 0:
		return bad("negative clock skew %v", c.MaxClockSkew)
	case c.DedupeTTL <= 0:
		return bad("dedupe TTL %v: want > 0", c.DedupeTTL)
	case c.DedupeMaxEntries < 1:
		return bad("dedupe size %d: want at least 1", c.DedupeMaxEntries)
	case c.WarmupTimeout < 0:
		return bad("negative dedupe warm-up timeout %v (0 disables the warm-up)", c.WarmupTimeout)
	case c.RevocationFile != "" && c.RevocationReload <= 0:
		return bad("revocation reload interval %v: want > 0", c.RevocationReload)
	case c.ConsoleSkew <= 0 || c.ConsoleSkew > time.Hour:
		return bad("console signature clock skew %v: want more than 0, at most 1h", c.ConsoleSkew)
	case c.ShutdownGrace < 0:
		return bad("negative shutdown grace %v", c.ShutdownGrace)
	case c.ClaimCap < 1:
		return bad("claim cap %d: want at least 1", c.ClaimCap)
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return bad("TLS needs both a certificate and a key file")
	case c.TLSCertFile != "" && len(c.ACMEDomains) > 0:
		return bad("give either a TLS certificate or ACME domains, not both")
	case len(c.ACMEDomains) > 0 && c.ACMECacheDir == "":
		return bad("ACME needs a cache folder for its keys and certificates")
	}
	if c.EvidenceS3.Endpoint != "" {
		if err := c.EvidenceS3.Validate(); err != nil {
			return fmt.Errorf("%w: evidence bucket: %w", ErrConfig, err)
		}
	} else if s3 := c.EvidenceS3; s3.Bucket != "" || s3.AccessKey != "" || s3.SecretKey != "" || s3.CreateBucket {
		// Someone meant photos to go to a bucket: keeping them in a local folder instead
		// would be found out only when that folder is lost.
		return bad("an evidence bucket is configured without its endpoint (set --evidence-s3-endpoint, or drop the other --evidence-s3-* settings)")
	}
	return nil
}
