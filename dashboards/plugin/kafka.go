package plugin

// This file is all of the plugin's Kafka use: the client options, the health check's
// listing, and the loop that feeds records into the night through internal/kafkaread, the
// reader every consumer of votestream's state shares.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"votestream/internal/kafkaread"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// topics are the contract's topics the plugin reads, without the prefix.
var topics = []string{schemas.TopicEstimates, schemas.TopicStationResults, schemas.TopicAnomalies}

// errTopicMissing: one of the topics does not exist (yet) under the prefix.
var errTopicMissing = errors.New("topic does not exist")

// kafkaOpts are the client options every connection of a data source uses, but the seeds.
func kafkaOpts(s Settings) []kgo.Opt {
	opts := []kgo.Opt{kgo.DialTimeout(5 * time.Second)}
	if s.TLS {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	switch s.SASLMechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha512Mechanism()))
	}
	return opts
}

type topicPartition struct {
	topic     string
	partition int32
}

// stableOffsets lists, for every partition of the topics, the last stable offset now, or
// which topics are missing: the health check's question to the brokers.
func stableOffsets(ctx context.Context, adm *kadm.Client, names []string) (map[topicPartition]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	listed, err := adm.ListCommittedOffsets(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := map[topicPartition]int64{}
	found := map[string]bool{}
	var bad error
	listed.Each(func(o kadm.ListedOffset) {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return // told once per topic below
		}
		if o.Err != nil {
			bad = errors.Join(bad, fmt.Errorf("%s[%d]: %w", o.Topic, o.Partition, o.Err))
			return
		}
		found[o.Topic] = true
		out[topicPartition{o.Topic, o.Partition}] = o.Offset
	})
	for _, t := range names {
		if !found[t] {
			bad = errors.Join(bad, fmt.Errorf("%s: %w", t, errTopicMissing))
		}
	}
	return out, bad
}

// read feeds the night until ctx ends, starting again with capped back-off whenever the
// reading fails (broker away, topics not created yet).
func (s *Source) read(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		err := s.readOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.setReadError(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// readOnce reads every partition of the three topics from its start to the cut (the last
// stable offsets when it starts) and on, live, with the project's topic reader.
func (s *Source) readOnce(ctx context.Context) error {
	names := make([]kafkaread.Topic, len(topics))
	for i, t := range topics {
		names[i] = kafkaread.Topic{Name: s.cfg.TopicPrefix + t}
	}
	r, err := kafkaread.New(kafkaread.Config{
		Seeds: s.cfg.Brokers, Topics: names, Live: true,
		List:       kafkaread.ListCurve.Within(30 * time.Second),
		Logger:     slog.New(slog.NewJSONHandler(os.Stderr, nil)), // Grafana logs the plugin's stderr
		ClientOpts: kafkaOpts(s.cfg),
	})
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer r.Close()
	if err := r.Start(ctx); err != nil {
		if errors.Is(err, kafkaread.ErrTopicMissing) {
			return fmt.Errorf("%w (topic prefix %q)", err, s.cfg.TopicPrefix)
		}
		return err
	}
	s.startCatchUp(r)
	for {
		// The client retries fetch errors by itself; after a quiet spell the broker is asked
		// directly, so that panels and the health check tell an outage from a quiet night.
		pctx, cancel := context.WithTimeout(ctx, quietSpell)
		b, err := r.Poll(pctx)
		cancel()
		switch {
		case ctx.Err() != nil || errors.Is(err, kafkaread.ErrClosed):
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			if perr := r.Ping(ctx); perr != nil {
				s.setReadError(fmt.Errorf("the brokers do not answer: %w", perr))
			} else {
				s.setReadError(nil)
			}
			continue
		case err != nil:
			return err
		}
		s.setReadError(nil)
		s.applyRecords(b.Records, b.CaughtUp)
	}
}

// quietSpell is how long the reader waits for records before asking the broker whether
// it is there (a variable for the outage test).
var quietSpell = 10 * time.Second

// decoded is one record made ready for the night: exactly one of its fields is set.
type decoded struct {
	estimate  *schemas.Estimate
	result    *schemas.StationResult
	tombstone string // station-results.v1 key of a deleted result
	anomaly   *schemas.Anomaly
}

// decodeRecord reads a record of topic (without prefix); an error for one that no panel
// can use.
func decodeRecord(topic string, rec *kgo.Record) (decoded, error) {
	switch topic {
	case schemas.TopicEstimates:
		var e schemas.Estimate
		if err := kgorecord.Decode(rec, &e); err != nil {
			return decoded{}, err
		}
		return decoded{estimate: &e}, nil
	case schemas.TopicStationResults:
		if rec.Value == nil {
			return decoded{tombstone: string(rec.Key)}, nil
		}
		var r schemas.StationResult
		if err := kgorecord.Decode(rec, &r); err != nil {
			return decoded{}, err
		}
		return decoded{result: &r}, nil
	case schemas.TopicAnomalies:
		var a schemas.Anomaly
		if err := kgorecord.Decode(rec, &a); err != nil {
			return decoded{}, err
		}
		return decoded{anomaly: &a}, nil
	}
	return decoded{}, fmt.Errorf("not a topic of the plugin: %s", topic)
}
