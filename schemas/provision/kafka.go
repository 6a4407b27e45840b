// Package provision brings real infrastructure up to the contract of package schemas: the
// Kafka topic set and the ClickHouse schema. It is the only code that creates topics;
// brokers run with auto-creation off.
package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"votestream/schemas"
)

// ErrTopicDiffers is wrapped by EnsureTopics' error when a topic that already exists is not
// what the contract says (partitions, compaction, replication): changing it is a decision for
// an operator (more partitions move keys, and so stations, between partitions), never made
// here.
var ErrTopicDiffers = errors.New("provision: existing topic differs from the contract")

// Replication is the replication factor and min.insync.replicas of new topics on a cluster
// of the given number of live brokers: 3 and 2 from three brokers up (an acknowledged write
// then survives the loss of any one broker, and writes go on while one is away), 1 and 1
// below (one broker, or a cluster too small for a majority).
func Replication(brokers int) (replicas int16, minISR int) {
	if brokers >= 3 {
		return 3, 2
	}
	return 1, 1
}

// EnsureTopics creates every topic of schemas.Topics under prefix, with the replication of
// Replication for the brokers that answer now (run it with every broker up), and checks the
// topics that already exist: a partition count, cleanup policy, replication factor or
// min.insync.replicas other than the contract's is returned as an error wrapping
// ErrTopicDiffers that names each difference, after every missing topic was created. It is
// idempotent and returns the names it created.
func EnsureTopics(ctx context.Context, adm *kadm.Client, prefix string) ([]string, error) {
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return nil, fmt.Errorf("provision: list brokers: %w", err)
	}
	replicas, minISR := Replication(len(brokers))
	var created, existing []string
	for _, t := range schemas.Topics {
		name := prefix + t.Name
		resp, err := adm.CreateTopic(ctx, t.Partitions, replicas, topicConfig(t, replicas, minISR), name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			created = append(created, name)
		case errors.Is(err, kerr.TopicAlreadyExists):
			existing = append(existing, name)
		default:
			return created, fmt.Errorf("provision: create topic %s (%d partitions, replication %d on %d brokers): %w",
				name, t.Partitions, replicas, len(brokers), err)
		}
	}
	if len(existing) == 0 {
		return created, nil
	}
	diffs, err := topicDifferences(ctx, adm, prefix, existing, replicas, minISR)
	if err != nil {
		return created, err
	}
	if len(diffs) > 0 {
		return created, fmt.Errorf("%w:\n  %s\nrecreate these topics (on a night with no data yet) or change them with kafka-topics/kafka-configs by hand",
			ErrTopicDiffers, strings.Join(diffs, "\n  "))
	}
	return created, nil
}

func topicConfig(t schemas.Topic, replicas int16, minISR int) map[string]*string {
	cfg := map[string]*string{}
	if t.Compacted {
		cfg["cleanup.policy"] = kadm.StringPtr("compact")
	}
	if t.KeepForever {
		cfg["retention.ms"] = kadm.StringPtr("-1")
	}
	if replicas > 1 {
		cfg["min.insync.replicas"] = kadm.StringPtr(fmt.Sprint(minISR))
	}
	return cfg
}

// topicDifferences compares the existing topics with the contract, one line per difference.
func topicDifferences(ctx context.Context, adm *kadm.Client, prefix string, names []string, replicas int16, minISR int) ([]string, error) {
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("provision: describe topics: %w", err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("provision: describe topic configs: %w", err)
	}
	var diffs []string
	for _, t := range schemas.Topics {
		name := prefix + t.Name
		if !slices.Contains(names, name) {
			continue
		}
		d, ok := details[name]
		if !ok || d.Err != nil {
			return nil, fmt.Errorf("provision: describe topic %s: %v", name, d.Err)
		}
		if n := int32(len(d.Partitions)); n != t.Partitions {
			diffs = append(diffs, fmt.Sprintf("%s has %d partitions, the contract says %d", name, n, t.Partitions))
		}
		if rf := d.Partitions.NumReplicas(); rf < int(replicas) {
			diffs = append(diffs, fmt.Sprintf("%s has replication factor %d, the cluster's brokers call for %d", name, rf, replicas))
		}
		rc, err := configs.On(name, nil)
		if err != nil {
			return nil, fmt.Errorf("provision: config of topic %s: %w", name, err)
		}
		policy, isr := "delete", "1"
		for _, c := range rc.Configs {
			switch c.Key {
			case "cleanup.policy":
				policy = c.MaybeValue()
			case "min.insync.replicas":
				isr = c.MaybeValue()
			}
		}
		compacted := slices.Contains(strings.Split(policy, ","), "compact")
		switch {
		case t.Compacted && !compacted:
			diffs = append(diffs, fmt.Sprintf("%s has cleanup.policy=%s, the contract says compact (the latest record per key is the state)", name, policy))
		case !t.Compacted && compacted:
			diffs = append(diffs, fmt.Sprintf("%s has cleanup.policy=%s, the contract says delete (every record is kept)", name, policy))
		}
		if replicas > 1 && isr != fmt.Sprint(minISR) {
			diffs = append(diffs, fmt.Sprintf("%s has min.insync.replicas=%s, the contract says %d with replication %d", name, isr, minISR, replicas))
		}
	}
	return diffs, nil
}

// TopicNames returns the full names of every topic under prefix.
func TopicNames(prefix string) []string {
	names := make([]string, len(schemas.Topics))
	for i, t := range schemas.Topics {
		names[i] = prefix + t.Name
	}
	return names
}
