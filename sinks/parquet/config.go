package parquet

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"votestream/election"
	"votestream/internal/confcheck"
)

// Sentinel errors of the package.
var (
	// ErrConfig: the ExportConfig contradicts itself or lacks a required field.
	ErrConfig = errors.New("parquet: invalid config")
	// ErrIncomplete: the export could not read every partition up to the cut (the broker
	// went quiet for IdleTimeout before the offsets of the start were reached).
	ErrIncomplete = errors.New("parquet: cut not reached")
	// ErrTopicMissing: a topic of the export does not exist under the prefix.
	ErrTopicMissing = errors.New("parquet: topic missing")
	// ErrEmbargoed: polls have not closed yet, and the export carries the newsroom feed's
	// embargo (PollsClose); nothing is written.
	ErrEmbargoed = errors.New("parquet: EMBARGOED")
)

// ExportConfig is everything `votestream export` can be told. Start from DefaultConfig; set
// Seeds, Country and OutDir. Flags map onto it in cmd/votestream.
type ExportConfig struct {
	// Seeds are the Kafka bootstrap brokers (host:port). Required. CLI: --kafka.
	Seeds []string
	// TopicPrefix is prepended to every topic name. Default "". CLI: --topic-prefix.
	TopicPrefix string
	// Country is the indexed reference data: province of each constituency, eligible
	// voters and subdistrict of each station, party names. Required. CLI: --ref (loaded
	// with election.LoadCountry).
	Country *election.Country `json:"-"`
	// OutDir is the folder the files go to; created when missing. Files of an earlier
	// export there are replaced. Required. CLI: --out.
	OutDir string
	// Arrow also writes the station results and the estimate history as Arrow IPC streams
	// (station_results.arrows, estimate_history_parties.arrows,
	// estimate_history_constituencies.arrows). Default false. CLI: --arrow.
	Arrow bool
	// History exports every estimate of the night (estimate_history_*.parquet), reading the
	// whole estimates topic. Default true. CLI: --history.
	History bool

	// EstimateBacklog is how many of the newest estimates.v1 records before the cut are
	// read when History is off; only the latest estimate is exported then. Default 64.
	EstimateBacklog int
	// CheckpointBacklog is how many of the newest checkpoints.v1 records before the cut are
	// read for the manifest's log_checkpoint (one a second while the log grows, and one per
	// cosignature). Default 256.
	CheckpointBacklog int
	// IdleTimeout: the export fails with ErrIncomplete when no record arrives for this long
	// while some partition is still short of the cut. Default 30s.
	IdleTimeout time.Duration
	// StartTimeout bounds the tries to list the topics' offsets at start. Default 60s.
	StartTimeout time.Duration
	// Progress receives one line per ProgressEvery while reading (records read and their
	// rate), for long exports; nil prints nothing. Default nil; the CLI passes os.Stderr.
	Progress io.Writer `json:"-"`
	// ProgressEvery is the interval of the progress lines. Default 2s.
	ProgressEvery time.Duration

	// PollsClose is when the embargo lifts: an export asked for before it fails with
	// ErrEmbargoed, as the feed answers 403 EMBARGOED (docs/sql.md, "Embargo"). Default
	// election.PollsClose of election.DefaultElectionDay. CLI: --polls-close.
	PollsClose time.Time
	// IgnoreEmbargo exports before polls close: for the war room's own tools, never for
	// files that leave it. Default false. CLI: --ignore-embargo.
	IgnoreEmbargo bool
	// Now is the export's clock for the embargo; tests set it. Default time.Now.
	Now func() time.Time `json:"-"`

	// Logger receives the role's logs. Default slog.Default().
	Logger *slog.Logger `json:"-"`

	// afterCut, when set, runs once the cut is listed and before reading: tests write
	// records there that the export must not see.
	afterCut func()
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() ExportConfig {
	return ExportConfig{
		History:           true,
		EstimateBacklog:   64,
		CheckpointBacklog: 256,
		IdleTimeout:       30 * time.Second,
		StartTimeout:      60 * time.Second,
		ProgressEvery:     2 * time.Second,
		PollsClose:        election.PollsClose(election.DefaultElectionDay),
		Now:               time.Now,
	}
}

// Validate reports the first missing value or contradiction in c.
func (c ExportConfig) Validate() error {
	if err := confcheck.Source(ErrConfig, c.Seeds, c.Country); err != nil {
		return err
	}
	bad := confcheck.Bad(ErrConfig)
	switch {
	case c.OutDir == "":
		return bad("no output folder")
	case c.EstimateBacklog < 1:
		return bad("EstimateBacklog %d < 1", c.EstimateBacklog)
	case c.CheckpointBacklog < 1:
		return bad("CheckpointBacklog %d < 1", c.CheckpointBacklog)
	case c.IdleTimeout <= 0:
		return bad("IdleTimeout %v <= 0", c.IdleTimeout)
	case c.StartTimeout <= 0:
		return bad("StartTimeout %v <= 0", c.StartTimeout)
	case c.ProgressEvery <= 0:
		return bad("ProgressEvery %v <= 0", c.ProgressEvery)
	case c.PollsClose.IsZero() && !c.IgnoreEmbargo:
		return bad("no polls-close time (the embargo would never lift)")
	case c.Now == nil:
		return bad("no clock (Now)")
	}
	return nil
}
