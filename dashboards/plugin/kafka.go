package plugin

// This file is all of the plugin's Kafka reading: the client options, the offsets that
// mark "caught up", and the loop that feeds records into the night. It is kept in one
// place so that it can give way to the shared topic reader of internal/ when that lands.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// topics are the contract's topics the plugin reads, without the prefix.
var topics = []string{schemas.TopicEstimates, schemas.TopicStationResults, schemas.TopicAnomalies}

// errTopicMissing: one of the topics does not exist (yet) under the prefix.
var errTopicMissing = errors.New("topic does not exist")

// kafkaOpts are the client options every connection of a data source uses.
func kafkaOpts(s Settings) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(s.Brokers...), kgo.DialTimeout(5 * time.Second)}
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

// stableOffsets lists, for every partition of the topics, the last stable offset now: the
// position a read_committed reader must reach to have seen everything committed so far.
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
// offsets to catch up to cannot be listed (broker away, topics not created yet).
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

// readOnce reads every partition of the three topics from its start, keeping control
// records so that the position reaches the last stable offset even when a transaction
// marker is the last thing there.
func (s *Source) readOnce(ctx context.Context) error {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = s.cfg.TopicPrefix + t
	}
	cl, err := kgo.NewClient(append(kafkaOpts(s.cfg),
		kgo.ConsumeTopics(names...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	targets, err := stableOffsets(ctx, kadm.NewClient(cl), names)
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	s.startCatchUp(targets)
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			fetchErr = errors.Join(fetchErr, fmt.Errorf("%s[%d]: %w", topic, p, err))
		})
		s.setReadError(fetchErr) // the client retries by itself; health shows it meanwhile
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				s.applyRecords(strings.TrimPrefix(p.Topic, s.cfg.TopicPrefix), p.Partition, p.Records)
			}
		})
	}
}

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
