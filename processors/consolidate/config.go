package consolidate

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/internal/confcheck"
	"votestream/schemas"
)

// Config is everything `votestream consolidate` can be told. Start from DefaultConfig; set
// Seeds and Rules.Country.
type Config struct {
	// Seeds are the Kafka bootstrap brokers (host:port). Required.
	Seeds []string
	// TopicPrefix is prepended to every topic name (tests isolate themselves with it).
	// Default "".
	TopicPrefix string
	// Group is the consumer group; every consolidator of one deployment shares it and the
	// partitions are divided among them. Default "votestream-consolidate"; cmd/votestream
	// gives schemas.ConsumerGroup(TopicPrefix, "consolidate").
	Group string
	// TransactionalID must differ between the processes of a group and should stay the same
	// across restarts of one process: the broker then aborts a crashed process's open
	// transaction as soon as it comes back, instead of waiting for TransactionTimeout.
	// Default Group + "-" + the host name.
	TransactionalID string
	// TransactionTimeout is how long the broker lets a transaction stay open before it
	// aborts it. Must be below SessionTimeout (franz-go's rule for EOS in a group).
	// Default 20s.
	TransactionTimeout time.Duration
	// SessionTimeout is how long the group waits for a silent member. Default 45s.
	SessionTimeout time.Duration
	// MaxPollRecords bounds the records consumed, processed and committed in one
	// transaction. Larger batches amortise the commit; smaller ones publish sooner.
	// Default 5000.
	MaxPollRecords int
	// RebuildTimeout bounds reading the input (and the anomaly ids) back on start or after
	// a rebalance; a longer rebuild (the broker away meanwhile) is abandoned and tried again
	// in a new session. Default 10m.
	RebuildTimeout time.Duration

	// Rules are the reference data and thresholds (see Rules). Rules.Country is required.
	Rules Rules

	// Logger receives the role's logs. Default slog.Default().
	Logger *slog.Logger `json:"-"`
	// Registerer, when set, gets the role's Prometheus metrics. Default nil (not registered).
	Registerer prometheus.Registerer `json:"-"`
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	group := schemas.ConsumerGroup("", "consolidate")
	return Config{
		Group:              group,
		TransactionalID:    group + "-" + host,
		TransactionTimeout: 20 * time.Second,
		SessionTimeout:     45 * time.Second,
		MaxPollRecords:     5000,
		RebuildTimeout:     10 * time.Minute,
		Rules:              DefaultRules(),
	}
}

// ErrConfig: the Config contradicts itself or lacks a required field (the name every
// role uses).
var ErrConfig = errors.New("consolidate: bad config")

// ErrBadConfig is ErrConfig, under the name this package used first.
//
// Deprecated: use ErrConfig.
var ErrBadConfig = ErrConfig

// Validate checks the config, the rules included.
func (c *Config) Validate() error {
	bad := confcheck.Bad(ErrConfig)
	switch {
	case len(c.Seeds) == 0:
		return bad("no Kafka seed brokers")
	case strings.TrimSpace(c.Group) == "":
		return bad("empty Group")
	case strings.TrimSpace(c.TransactionalID) == "":
		return bad("empty TransactionalID")
	case c.TransactionTimeout <= 0 || c.SessionTimeout <= 0:
		return bad("TransactionTimeout and SessionTimeout must be positive")
	case c.TransactionTimeout >= c.SessionTimeout:
		return bad("TransactionTimeout %v must be below SessionTimeout %v", c.TransactionTimeout, c.SessionTimeout)
	case c.MaxPollRecords < 1:
		return bad("MaxPollRecords %d must be at least 1", c.MaxPollRecords)
	case c.RebuildTimeout <= 0:
		return bad("RebuildTimeout must be positive")
	}
	return c.Rules.Validate()
}
