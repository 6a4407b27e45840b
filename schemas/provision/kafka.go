// Package provision brings real infrastructure up to the contract of package schemas: the
// Kafka topic set and the ClickHouse schema. It is the only code that creates topics;
// brokers run with auto-creation off.
package provision

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"votestream/schemas"
)

// EnsureTopics creates every topic of schemas.Topics under prefix, leaving existing ones as
// they are. It is idempotent and returns the names it created.
func EnsureTopics(ctx context.Context, adm *kadm.Client, prefix string) ([]string, error) {
	var created []string
	for _, t := range schemas.Topics {
		name := prefix + t.Name
		cfg := map[string]*string{}
		if t.Compacted {
			compact := "compact"
			cfg["cleanup.policy"] = &compact
		}
		if t.KeepForever {
			forever := "-1"
			cfg["retention.ms"] = &forever
		}
		resp, err := adm.CreateTopic(ctx, t.Partitions, 1, cfg, name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			created = append(created, name)
		case errors.Is(err, kerr.TopicAlreadyExists):
		default:
			return created, fmt.Errorf("provision: create topic %s: %w", name, err)
		}
	}
	return created, nil
}

// TopicNames returns the full names of every topic under prefix.
func TopicNames(prefix string) []string {
	names := make([]string, len(schemas.Topics))
	for i, t := range schemas.Topics {
		names[i] = prefix + t.Name
	}
	return names
}
