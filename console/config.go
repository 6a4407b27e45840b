package console

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/election"
	"votestream/ingest/s3store"
	"votestream/internal/confcheck"
)

// Sentinel errors of the package.
var (
	// ErrConfig: the Config contradicts itself or lacks a required field.
	ErrConfig = errors.New("console: invalid config")
	// ErrNotFound: an evidence photo is in no store.
	ErrNotFound = errors.New("console: not found")
)

// Config of the console. Start from DefaultConfig; set Country, ClickHouseAddr,
// StaffKeysFile, StaffFile and IngestURL. Flags map onto it in cmd/votestream.
type Config struct {
	// Country is the indexed reference data (names, stations, candidates). Required.
	// CLI: --ref.
	Country *election.Country `json:"-"`

	// ClickHouseAddr is the native-protocol host:port. Required. CLI: --clickhouse.
	ClickHouseAddr string
	// Database holds the votestream tables. Default "votestream". CLI: --database.
	Database string
	// Username and Password of the ClickHouse user; the console reads, and inserts into
	// staff_actions (its audit) only. Default
	// "default", "". CLI: --clickhouse-user, --clickhouse-password.
	Username string
	Password string `json:"-"`

	// Listen is the HTTP address of the API and the web app. Default "127.0.0.1:8070".
	// CLI: --listen.
	Listen string
	// StaffKeysFile is the staff key file the leads', war room's and desk's tokens are
	// signed with (token.LoadStaffKeyring; ingest's --staff-keys), never the volunteers'.
	// Required. CLI: --staff-keys.
	StaffKeysFile string
	// StaffFile is the enrolment file of the second factor (console/staff), written by
	// `votestream staff add`, re-read at every sign-in. Required. CLI: --staff.
	StaffFile string
	// SecureCookies marks the session cookie Secure even on plain HTTP: for a console behind
	// a proxy that terminates TLS (the deployment's Caddy), where the request reaching the
	// console is not itself TLS. Default false (Secure only on a TLS request).
	// CLI: --secure-cookies.
	SecureCookies bool
	// SessionIdle ends a session unused this long. Default 30m. CLI: --session-idle.
	SessionIdle time.Duration
	// SessionMax ends a session this long after sign-in, used or not. Default 12h.
	// CLI: --session-max.
	SessionMax time.Duration
	// OverrideTTL is how long an override waits for its second approver before it expires.
	// Default 2h. CLI: --override-ttl.
	OverrideTTL time.Duration
	// RevocationFile lists revoked volunteer and token ids, as ingest reads it; "" for none.
	// CLI: --revoked.
	RevocationFile string
	// IngestURL is ingest's base URL, where decisions and official figures are forwarded.
	// Default "http://127.0.0.1:8080". CLI: --ingest.
	IngestURL string
	// ConsoleKeysFile is the key file shared with ingest (token.LoadConsoleKeys, ingest's
	// --console-keys): every decision and official figure forwarded to ingest is signed
	// with it, and ingest given the same file takes a privileged token's decision only so
	// signed. "" signs nothing (New logs a warning): an ingest with --console-keys then
	// refuses the console's forwards with CONSOLE_ONLY. Default "". CLI: --console-keys.
	ConsoleKeysFile string
	// ForwardTimeout bounds one forwarded call to ingest. Default 15s.
	ForwardTimeout time.Duration

	// Seeds are the Kafka brokers of the decision desk (calls.v1, estimates.v1) and of the
	// console's own refusals (refusals.v1); none leaves the desk off (its endpoints answer
	// DESK_OFF) and the refusals only logged, counted and audited. Default none. CLI: --kafka.
	Seeds []string
	// TopicPrefix is prepended to the desk's and the refusals' topic names. Default "".
	TopicPrefix string

	// EvidenceDir is ingest's evidence folder (<dir>/<2 hex>/<hex>), read-only here; used
	// when EvidenceS3 is nil. Default "var/evidence". CLI: --evidence-dir.
	EvidenceDir string
	// EvidenceS3 selects an S3-compatible bucket instead of EvidenceDir. Default nil.
	// CLI: --evidence-s3-*.
	EvidenceS3 *s3store.Config `json:"-"`

	// Refresh is how often the queue is rebuilt from ClickHouse; the live stream tells the
	// browsers when it changed. Default 2s.
	Refresh time.Duration
	// QueryTimeout bounds one rebuild or one station's queries. Default 30s.
	QueryTimeout time.Duration
	// PageMax caps the items of one queue page (?limit=); default page 50. Default 500.
	PageMax int
	// MaxCSVBytes caps an uploaded CSV of official figures. Default 32 MiB.
	MaxCSVBytes int64
	// Heartbeat is the interval of comment lines on the live stream. Default 15s.
	Heartbeat time.Duration
	// ShutdownGrace is how long requests in flight may take to finish on shutdown.
	// Default 5s.
	ShutdownGrace time.Duration

	// Registerer receives the console's metrics. Default: none registered.
	Registerer prometheus.Registerer `json:"-"`
	// Logger receives the role's logs. Default slog.Default().
	Logger *slog.Logger `json:"-"`
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		Database:       "votestream",
		Username:       "default",
		Listen:         "127.0.0.1:8070",
		IngestURL:      "http://127.0.0.1:8080",
		ForwardTimeout: 15 * time.Second,
		EvidenceDir:    "var/evidence",
		Refresh:        2 * time.Second,
		QueryTimeout:   30 * time.Second,
		PageMax:        500,
		MaxCSVBytes:    32 << 20,
		Heartbeat:      15 * time.Second,
		ShutdownGrace:  5 * time.Second,
		SessionIdle:    30 * time.Minute,
		SessionMax:     12 * time.Hour,
		OverrideTTL:    2 * time.Hour,
	}
}

// Validate reports the first missing value or contradiction in c.
func (c Config) Validate() error {
	if err := confcheck.Country(ErrConfig, c.Country); err != nil {
		return err
	}
	bad := confcheck.Bad(ErrConfig)
	switch {
	case c.ClickHouseAddr == "":
		return bad("no ClickHouse address")
	case c.Database == "":
		return bad("no ClickHouse database")
	case c.Listen == "":
		return bad("no listen address")
	case c.StaffKeysFile == "":
		return bad("no staff key file")
	case c.StaffFile == "":
		return bad("no staff enrolment file")
	case c.SessionIdle <= 0 || c.SessionMax <= 0:
		return bad("session limits idle %v, max %v: want both > 0", c.SessionIdle, c.SessionMax)
	case c.OverrideTTL <= 0:
		return bad("OverrideTTL %v <= 0", c.OverrideTTL)
	case c.IngestURL == "":
		return bad("no ingest URL")
	case c.ForwardTimeout <= 0:
		return bad("ForwardTimeout %v <= 0", c.ForwardTimeout)
	case c.EvidenceS3 == nil && c.EvidenceDir == "":
		return bad("no evidence folder or bucket")
	case c.Refresh <= 0:
		return bad("Refresh %v <= 0", c.Refresh)
	case c.QueryTimeout <= 0:
		return bad("QueryTimeout %v <= 0", c.QueryTimeout)
	case c.PageMax < 1:
		return bad("PageMax %d < 1", c.PageMax)
	case c.MaxCSVBytes < 1:
		return bad("MaxCSVBytes %d < 1", c.MaxCSVBytes)
	case c.Heartbeat <= 0:
		return bad("Heartbeat %v <= 0", c.Heartbeat)
	case c.ShutdownGrace <= 0:
		return bad("ShutdownGrace %v <= 0", c.ShutdownGrace)
	}
	if u, err := url.Parse(c.IngestURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("ingest URL %q: want http(s)://host:port", c.IngestURL)
	}
	if c.EvidenceS3 != nil {
		if err := c.EvidenceS3.Validate(); err != nil {
			return fmt.Errorf("%w: evidence bucket: %v", ErrConfig, err)
		}
	}
	return nil
}
