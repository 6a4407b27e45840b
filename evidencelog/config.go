package evidencelog

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/ingest/s3store"
	"votestream/internal/confcheck"
	"votestream/schemas"
)

// Config is everything the log role can be told. Start from DefaultConfig.
type Config struct {
	// Seeds are the Kafka bootstrap brokers; required.
	Seeds []string
	// TopicPrefix is prepended to every topic name. Default "".
	TopicPrefix string
	// Group is the consumer group whose committed offsets say how far the log has read.
	// Default "votestream-evidencelog"; cmd/votestream gives
	// schemas.ConsumerGroup(TopicPrefix, "evidencelog").
	Group string
	// Topics are the topics logged (without prefix), each with its leaf (see Sources).
	// Default: every topic of Sources.
	Topics []string

	// Dir is the log's folder: the C2SP tlog-tiles files (checkpoint, tile/...) served as
	// they are, and the role's own state under Dir/.votestream. Default "var/evidencelog".
	Dir string
	// KeyFile is the signing key file (tlog.ParseSigners: note private keys, the last the
	// primary; every key signs). Required.
	KeyFile string
	// WitnessKeysFile lists the public keys of the witnesses whose cosignatures the log
	// accepts and publishes; "" accepts none. Default "".
	WitnessKeysFile string
	// WitnessURLs are the witnesses the log pushes each new checkpoint to (C2SP
	// tlog-witness: POST <URL>/add-checkpoint), merging the cosignature each answers; their
	// keys must be in WitnessKeysFile. Witnesses fetch checkpoints themselves too, so a push
	// that fails (five tries with back-off) loses nothing. Default none.
	WitnessURLs []string

	// CheckpointInterval is how often a checkpoint is signed while the log grows (C2SP
	// checkpoints are what make a leaf provable). Default 1s; at least 100ms.
	CheckpointInterval time.Duration
	// BatchMaxSize and BatchMaxAge bound a batch of leaves integrated together. The writer
	// hands Tessera everything read while the previous batch was being integrated (group
	// commit), up to BatchMaxSize leaves or one Kafka round more; Tessera writes it once it
	// holds BatchMaxSize leaves or its first has waited BatchMaxAge, so the age only needs
	// to cover the writer handing the batch over. Defaults 16384 and 20ms.
	BatchMaxSize uint
	BatchMaxAge  time.Duration
	// MaxPollRecords caps the Kafka records taken per round (integrated, then committed).
	// Default 20,000.
	MaxPollRecords int
	// PublishCheckpoints produces every checkpoint (and each newly cosigned one) to
	// checkpoints.v1. Default true.
	PublishCheckpoints bool

	// Listen is the HTTP address of the public files, proofs and station pages; "" serves
	// nothing. Default ":8095".
	Listen string
	// PublicURL is the log's address as the public reaches it, for links in pages; "" uses
	// relative links. Default "".
	PublicURL string

	// PollsClose is when station pages open to the public. Default election.PollsClose of
	// election.DefaultElectionDay (17:00 Asia/Bangkok, 14 May 2023).
	PollsClose time.Time
	// ClickHouseAddr is where station pages read the consolidated and per-source figures
	// (the ClickHouse sink's tables); "" turns station pages off. Default "".
	ClickHouseAddr string
	// ClickHouseDatabase, ClickHouseUser and ClickHousePassword: defaults "votestream",
	// "default" and "".
	ClickHouseDatabase string
	ClickHouseUser     string
	ClickHousePassword string
	// EvidenceDir is ingest's local evidence folder, read for the count-form photos shown
	// on station pages (unless EvidenceS3.Endpoint is set). Default "var/evidence".
	EvidenceDir string
	// EvidenceS3 reads the photos from ingest's bucket instead when its Endpoint is set.
	EvidenceS3 s3store.Config
	// TakedownFile lists photos withdrawn from public pages (privacy), one
	// "sha256:<hex> <reason>" a line; re-read when it changes. Their hashes stay in the log.
	// Default "" (none).
	TakedownFile string

	// Registerer receives the role's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults documented on each field; Seeds and KeyFile still
// need setting.
func DefaultConfig() Config {
	return Config{
		Group:              schemas.ConsumerGroup("", "evidencelog"),
		Dir:                "var/evidencelog",
		CheckpointInterval: time.Second,
		BatchMaxSize:       16384,
		BatchMaxAge:        20 * time.Millisecond,
		MaxPollRecords:     20000,
		PublishCheckpoints: true,
		Listen:             ":8095",
		PollsClose:         defaultPollsClose(),
		ClickHouseDatabase: "votestream",
		ClickHouseUser:     "default",
		EvidenceDir:        "var/evidence",
		EvidenceS3:         s3store.DefaultConfig(),
	}
}

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("evidencelog: invalid config")

// Validate reports the first missing or contradictory setting.
func (c Config) Validate() error {
	bad := confcheck.Bad(ErrConfig)
	switch {
	case len(c.Seeds) == 0:
		return bad("no Kafka seed brokers")
	case c.Group == "":
		return bad("empty consumer group")
	case c.Dir == "":
		return bad("no log folder")
	case c.KeyFile == "":
		return bad("no signing key file (create one with `votestream evidencelog keygen`)")
	case c.CheckpointInterval < 100*time.Millisecond:
		return bad("checkpoint interval %v: want at least 100ms", c.CheckpointInterval)
	case c.BatchMaxSize < 1 || c.BatchMaxSize > 1<<16:
		return bad("batch size %d: want 1..65536", c.BatchMaxSize)
	case c.BatchMaxAge <= 0 || c.BatchMaxAge > 10*time.Second:
		return bad("batch age %v: want (0, 10s]", c.BatchMaxAge)
	case c.MaxPollRecords < 1:
		return bad("max poll records %d: want at least 1", c.MaxPollRecords)
	case len(c.WitnessURLs) > 0 && c.WitnessKeysFile == "":
		return bad("witness URLs to push checkpoints to, but no witness key file to check their cosignatures")
	case c.PollsClose.IsZero():
		return bad("polls-close time not set")
	case c.ClickHouseAddr != "" && !schemas.ValidDatabaseName(c.ClickHouseDatabase):
		return bad("ClickHouse database name %q", c.ClickHouseDatabase)
	}
	for _, t := range c.Topics {
		if sourceFor(t) == nil {
			return bad("topic %q has no leaf (known: %v)", t, SourceTopics())
		}
	}
	if c.EvidenceS3.Endpoint != "" {
		if err := c.EvidenceS3.Validate(); err != nil {
			return fmt.Errorf("%w: evidence bucket: %w", ErrConfig, err)
		}
	}
	return nil
}
