package feed

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/election"
	"votestream/internal/confcheck"
)

// Sentinel errors of the package.
var (
	// ErrConfig: the Config contradicts itself or lacks a required field.
	ErrConfig = errors.New("feed: invalid config")
	// ErrKeys: the newsroom key file cannot be used.
	ErrKeys = errors.New("feed: bad newsroom key file")
	// ErrUnknownStation: a station result names a station the reference data does not know.
	ErrUnknownStation = errors.New("feed: unknown station")
	// ErrUnknownConstituency: a station result names a constituency the reference data does
	// not know, or another one than the station's.
	ErrUnknownConstituency = errors.New("feed: unknown constituency")
	// ErrBadResult: a station result the view cannot take (bad ballot, negative or
	// malformed counts).
	ErrBadResult = errors.New("feed: unusable station result")
)

// Config of the feed. Start from DefaultConfig; set Seeds, Country and KeysFile. Flags map
// onto it in cmd/votestream.
type Config struct {
	// Seeds are the Kafka bootstrap brokers (host:port). Required. CLI: --kafka.
	Seeds []string
	// TopicPrefix is prepended to every topic name. Default "". CLI: --topic-prefix.
	TopicPrefix string
	// Country is the indexed reference data: names, eligible voters, stations and
	// candidates. Required. CLI: --ref (loaded with election.LoadCountry).
	Country *election.Country `json:"-"`

	// Listen is the HTTP address. Default "127.0.0.1:8090". CLI: --listen.
	Listen string
	// KeysFile lists the newsroom API keys, one "KEY NEWSROOM NAME" per line (see
	// docs/feed.md). Required. CLI: --keys.
	KeysFile string
	// KeysReload is how often the key file is checked for changes, so a newsroom can be
	// added or removed on the night without a restart; 0 never reloads. Default 30s.
	KeysReload time.Duration
	// MaxStreamsPerNewsroom caps the event streams one newsroom holds open at once; one
	// more gets 429 TOO_MANY_STREAMS. Default 8. CLI: --max-streams.
	MaxStreamsPerNewsroom int

	// RingSize is how many events the stream keeps for clients that reconnect with
	// Last-Event-ID; an older id gets a `reset` event. Default 65,536 (about 30 MB, and
	// some tens of seconds of the peak). CLI: --ring.
	RingSize int
	// ClientLag is how many events a stream client may fall behind the newest before it
	// is dropped (it reconnects and resumes from the ring). Must be below RingSize.
	// Default 16,384.
	ClientLag int
	// Heartbeat is the interval of the comment lines that keep idle streams (and proxies)
	// alive. Default 15s.
	Heartbeat time.Duration
	// WriteTimeout bounds one write to a client, stream or JSON; a client that accepts
	// nothing for that long is cut off. Default 30s.
	WriteTimeout time.Duration

	// EstimateBacklog is how many of the newest estimates.v1 records are read at start;
	// only the latest estimate matters. Default 16.
	EstimateBacklog int
	// CatchUpIdle: the view is ready once every partition has been read to the offset it
	// had at start, or, should a partition's tail never arrive (a compacted-away record),
	// after this long without a record. Default 10s.
	CatchUpIdle time.Duration
	// CheckpointEvery: the transparency log's checkpoints (checkpoints.v1) reach the summary
	// and the stream at most this often; the newest held back goes out when it is up.
	// Default 30s.
	CheckpointEvery time.Duration
	// StartTimeout bounds the tries to list the topics' offsets at start. Default 60s.
	StartTimeout time.Duration
	// ShutdownGrace is how long requests in flight may take to finish on shutdown.
	// Default 5s.
	ShutdownGrace time.Duration
	// AccessLog logs one line per request (method, path, route, status, bytes, duration,
	// request id). Default false. CLI: --access-log.
	AccessLog bool

	// PollsClose is when the embargo lifts: before it every results endpoint answers 403
	// EMBARGOED and the event stream carries only heartbeats and an `embargo` event.
	// Default election.PollsClose of election.DefaultElectionDay (17:00 Asia/Bangkok).
	// CLI: --polls-close.
	PollsClose time.Time
	// Attribution is the licence and attribution line every payload carries, next to
	// "unofficial": true. Default DefaultAttribution. CLI: --attribution.
	Attribution string
	// RateLimit is the requests per second each newsroom may make, on average; a key
	// file's `!limit` line overrides it for one newsroom. Default 10. CLI: --rate.
	RateLimit float64
	// RateBurst is how many requests a newsroom may make at once after a quiet spell (the
	// token bucket's size). Default 50. CLI: --burst.
	RateBurst int
	// TestMode serves a simulated night for newsrooms to test their graphics on: every
	// payload says "test": true and carries TestBanner, only test keys (TestKeyPrefix) are
	// accepted, and the topics must be a test night's (a TopicPrefix, never the live
	// topics). A live feed refuses test keys. Default false. CLI: --test-mode.
	TestMode bool
	// SQLUsersDir, when set, is the ClickHouse users.d folder whose newsroom users the feed
	// keeps under the same embargo: granted only a stand-in database until PollsClose, the
	// public database from then on (docs/sql.md). Default "" (not managed). CLI:
	// --sql-embargo-users.
	SQLUsersDir string
	// SQLGrantsEvery is how often the grants in SQLUsersDir (or of SQLRole) are checked
	// besides at polls close. Default 10s.
	SQLGrantsEvery time.Duration
	// SQLRole, when set, keeps the embargo with SQL access management (current ClickHouse
	// releases, as in docker-compose) rather than users files: the feed creates the role,
	// its settings profile and quota, and grants it SELECT on SQLPublicDatabase only from
	// PollsClose (revoked before), running SQLExec as a user with access management.
	// Newsroom users get the role (SQLSharedUser, and `feed newsroom add` in SQL mode).
	// Default "" (not managed). CLI: --sql-embargo-role.
	SQLRole string
	// SQLPublicDatabase is the database the role reads. Default "votestream_public".
	// CLI: --database (its _public copy).
	SQLPublicDatabase string
	// SQLSharedUser and SQLSharedPassword, when both set, are the newsrooms' shared user,
	// created with the role by the feed (its password kept in step). CLI:
	// --newsroom-user, --newsroom-password (VOTESTREAM_NEWSROOM_PASSWORD).
	SQLSharedUser     string
	SQLSharedPassword string `json:"-"`
	// SQLLimits are the role's settings profile and quota.
	SQLLimits SQLLimits
	// SQLExec runs one statement on ClickHouse; required with SQLRole. cmd/votestream
	// gives it a clickhouse-go connection.
	SQLExec func(ctx context.Context, query string) error `json:"-"`
	// Now is the feed's clock (embargo and rate limits); tests move it. Default time.Now.
	Now func() time.Time `json:"-"`

	// Logger receives the role's logs. Default slog.Default().
	Logger *slog.Logger `json:"-"`
	// Registerer, when set, gets the role's Prometheus metrics. Default nil (see Collectors).
	Registerer prometheus.Registerer `json:"-"`
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		Listen:                "127.0.0.1:8090",
		KeysReload:            30 * time.Second,
		MaxStreamsPerNewsroom: 8,
		RingSize:              65_536,
		ClientLag:             16_384,
		Heartbeat:             15 * time.Second,
		WriteTimeout:          30 * time.Second,
		EstimateBacklog:       16,
		CatchUpIdle:           10 * time.Second,
		CheckpointEvery:       30 * time.Second,
		StartTimeout:          60 * time.Second,
		ShutdownGrace:         5 * time.Second,
		PollsClose:            election.PollsClose(election.DefaultElectionDay),
		Attribution:           DefaultAttribution,
		RateLimit:             10,
		RateBurst:             50,
		SQLGrantsEvery:        10 * time.Second,
		SQLPublicDatabase:     "votestream_public",
		SQLLimits:             DefaultSQLLimits(),
		Now:                   time.Now,
	}
}

// Validate reports the first missing value or contradiction in c.
func (c Config) Validate() error {
	if err := confcheck.Source(ErrConfig, c.Seeds, c.Country); err != nil {
		return err
	}
	bad := confcheck.Bad(ErrConfig)
	switch {
	case c.Listen == "":
		return bad("no listen address")
	case c.KeysFile == "":
		return bad("no newsroom key file")
	case c.KeysReload < 0:
		return bad("KeysReload %v < 0", c.KeysReload)
	case c.MaxStreamsPerNewsroom < 1:
		return bad("MaxStreamsPerNewsroom %d < 1", c.MaxStreamsPerNewsroom)
	case c.RingSize < 2:
		return bad("RingSize %d < 2", c.RingSize)
	case c.ClientLag < 1 || c.ClientLag >= c.RingSize:
		return bad("ClientLag %d must be in [1, RingSize %d)", c.ClientLag, c.RingSize)
	case c.Heartbeat <= 0:
		return bad("Heartbeat %v <= 0", c.Heartbeat)
	case c.WriteTimeout <= 0:
		return bad("WriteTimeout %v <= 0", c.WriteTimeout)
	case c.EstimateBacklog < 1:
		return bad("EstimateBacklog %d < 1", c.EstimateBacklog)
	case c.CatchUpIdle <= 0:
		return bad("CatchUpIdle %v <= 0", c.CatchUpIdle)
	case c.CheckpointEvery < 0:
		return bad("CheckpointEvery %v < 0", c.CheckpointEvery)
	case c.StartTimeout <= 0:
		return bad("StartTimeout %v <= 0", c.StartTimeout)
	case c.ShutdownGrace <= 0:
		return bad("ShutdownGrace %v <= 0", c.ShutdownGrace)
	case c.PollsClose.IsZero():
		return bad("no polls-close time (the embargo would never lift)")
	case strings.TrimSpace(c.Attribution) == "":
		return bad("no attribution line")
	case !(c.RateLimit > 0) || math.IsInf(c.RateLimit, 0):
		return bad("RateLimit %v must be a positive number of requests a second", c.RateLimit)
	case c.RateBurst < 1:
		return bad("RateBurst %d < 1", c.RateBurst)
	case c.TestMode && c.TopicPrefix == "":
		return bad("test mode reads a simulated night: give it the test night's --topic-prefix, never the live topics")
	case c.TestMode && c.SQLUsersDir != "":
		return bad("test mode does not manage the newsrooms' SQL grants (those follow the live night)")
	case (c.SQLUsersDir != "" || c.SQLRole != "") && c.SQLGrantsEvery <= 0:
		return bad("SQLGrantsEvery %v <= 0", c.SQLGrantsEvery)
	case c.SQLRole != "" && c.TestMode:
		return bad("test mode does not manage the newsrooms' SQL grants (those follow the live night)")
	case c.SQLRole != "" && !sqlNameRE.MatchString(c.SQLRole):
		return bad("SQL role %q: want letters, digits and _", c.SQLRole)
	case c.SQLRole != "" && !sqlNameRE.MatchString(c.SQLPublicDatabase):
		return bad("SQL public database %q: want letters, digits and _", c.SQLPublicDatabase)
	case c.SQLRole != "" && c.SQLExec == nil:
		return bad("SQLRole without SQLExec (no ClickHouse connection)")
	case c.SQLRole != "" && c.SQLSharedUser != "" && !sqlNameRE.MatchString(c.SQLSharedUser):
		return bad("SQL shared user %q: want letters, digits and _", c.SQLSharedUser)
	case c.SQLRole != "" && c.SQLSharedUser != "" && c.SQLSharedPassword == "":
		return bad("the shared newsroom user %q has no password (--newsroom-password)", c.SQLSharedUser)
	case c.SQLRole != "":
		if err := c.SQLLimits.validate(); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}
