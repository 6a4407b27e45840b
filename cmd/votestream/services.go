package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas/provision"
)

// Defaults match scripts/services: the real services on loopback.
const (
	defaultKafka      = "127.0.0.1:29092"
	defaultClickHouse = "127.0.0.1:29000"
	defaultDatabase   = "votestream"
)

// kafkaFlags are the flags every Kafka-using command shares.
type kafkaFlags struct {
	seeds       string
	topicPrefix string
}

func (k *kafkaFlags) register(fs *flag.FlagSet, defaultSeeds string) {
	fs.StringVar(&k.seeds, "kafka", defaultSeeds, "Kafka seed brokers, comma-separated host:port")
	fs.StringVar(&k.topicPrefix, "topic-prefix", "", "prefix for every topic name (isolates test runs)")
}

func (k *kafkaFlags) seedList() []string {
	var out []string
	for _, s := range strings.Split(k.seeds, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ensureTopics creates the project's topics on seeds; a broker that does not answer within
// the timeout is an error, not a hang.
func ensureTopics(ctx context.Context, seeds []string, prefix string) ([]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	created, err := provision.EnsureTopics(ctx, kadm.NewClient(cl), prefix)
	if err != nil {
		return nil, fmt.Errorf("kafka %s: %w", strings.Join(seeds, ","), err)
	}
	return created, nil
}
