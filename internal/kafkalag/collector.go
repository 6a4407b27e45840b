package kafkalag

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrConfig is wrapped by New's error for a configuration that cannot work.
var ErrConfig = errors.New("kafkalag: bad configuration")

// Config says which groups to watch on which cluster.
type Config struct {
	Seeds       []string      // bootstrap brokers; required
	Groups      []string      // consumer groups to report; at least one
	TopicPrefix string        // only topics under it are reported, stripped of it, so alerts read the contract's names
	Timeout     time.Duration // longest wait for Kafka within one scrape (default 5 s)
}

// DefaultConfig has the defaults of every field but the required ones.
func DefaultConfig() Config { return Config{Timeout: 5 * time.Second} }

// Validate says what is wrong with c, if anything.
func (c Config) Validate() error {
	switch {
	case len(c.Seeds) == 0:
		return errors.Join(ErrConfig, errors.New("no seed brokers"))
	case len(c.Groups) == 0:
		return errors.Join(ErrConfig, errors.New("no consumer group"))
	case c.Timeout <= 0:
		return errors.Join(ErrConfig, errors.New("timeout must be positive"))
	}
	return nil
}

// Collector asks Kafka for the groups' lag on each scrape. It is safe for concurrent use;
// scrapes that overlap ask once each. Close releases its client.
type Collector struct {
	cfg Config
	cl  *kgo.Client
	adm *kadm.Client

	mu      sync.Mutex
	wasUp   bool // for one log line per change of state
	started bool

	lag       *prometheus.Desc
	reachable *prometheus.Desc
}

// New makes a collector for cfg; it connects lazily, on the first scrape.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Seeds...), kgo.RetryTimeout(cfg.Timeout))
	if err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	return &Collector{
		cfg: cfg, cl: cl, adm: kadm.NewClient(cl),
		lag: prometheus.NewDesc("votestream_kafka_consumer_lag_records",
			"Records the consumer group has not committed yet, summed over the topic's partitions (end offset minus committed offset).",
			[]string{"group", "topic"}, nil),
		reachable: prometheus.NewDesc("votestream_kafka_reachable",
			"1 when Kafka answered this process's last lag query within the timeout, else 0.",
			nil, nil),
	}, nil
}

// Close closes the collector's Kafka client.
func (c *Collector) Close() { c.cl.Close() }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.reachable
}

// Collect implements prometheus.Collector: one lag series per group and topic the group has
// committed to or is assigned, and the reachability gauge.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	lags, err := c.adm.Lag(ctx, c.cfg.Groups...)
	if err == nil {
		for _, g := range lags {
			if g.Error() != nil {
				err = g.Error()
				break
			}
		}
	}
	c.noteState(err)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.reachable, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.reachable, prometheus.GaugeValue, 1)
	for _, g := range lags {
		for topic, tl := range g.Lag.TotalByTopic() {
			// A group of the same name may also have committed on another topic set of
			// the cluster (tests, a rehearsal under another prefix): not ours, and its
			// names could collide with ours once the prefix is stripped.
			if !strings.HasPrefix(topic, c.cfg.TopicPrefix) {
				continue
			}
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(tl.Lag),
				g.Group, strings.TrimPrefix(topic, c.cfg.TopicPrefix))
		}
	}
}

// noteState logs once per change between answering and not.
func (c *Collector) noteState(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	up := err == nil
	if c.started && up == c.wasUp {
		return
	}
	c.started, c.wasUp = true, up
	if up {
		slog.Info("kafkalag: Kafka answers the lag query", "groups", c.cfg.Groups)
	} else {
		slog.Warn("kafkalag: Kafka does not answer the lag query", "groups", c.cfg.Groups, "err", err)
	}
}
