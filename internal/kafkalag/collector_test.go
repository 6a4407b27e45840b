package kafkalag_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/kafkalag"
	"votestream/internal/testenv"
	"votestream/schemas"
)

func TestValidate(t *testing.T) {
	for _, cfg := range []kafkalag.Config{
		{Groups: []string{"g"}, Timeout: time.Second},
		{Seeds: []string{"x:1"}, Timeout: time.Second},
		{Seeds: []string{"x:1"}, Groups: []string{"g"}},
	} {
		if _, err := kafkalag.New(cfg); !errors.Is(err, kafkalag.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

// TestLagOnRealBroker: ten records on one partition and a commit at offset 4 are a lag of 6
// on that topic, labelled with the contract's name (prefix stripped).
func TestLagOnRealBroker(t *testing.T) {
	env := testenv.Kafka(t)
	topic := env.Topic(schemas.TopicSubmissions)
	cl := env.Client(t, kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last *kgo.Record
	for range 10 {
		rs := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("ST-1"), Value: []byte("{}")})
		if err := rs.FirstErr(); err != nil {
			t.Fatal(err)
		}
		last = rs[0].Record
	}
	group := env.Prefix + "lagtest"
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: topic, Partition: last.Partition, At: last.Offset - 5, LeaderEpoch: -1})
	// The same group on another topic set (another prefix): not reported.
	other := testenv.Kafka(t)
	offs.Add(kadm.Offset{Topic: other.Topic(schemas.TopicSubmissions), Partition: 0, At: 0, LeaderEpoch: -1})
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}

	cfg := kafkalag.DefaultConfig()
	cfg.Seeds, cfg.Groups, cfg.TopicPrefix = env.Seeds, []string{group}, env.Prefix
	c, err := kafkalag.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := `
# HELP votestream_kafka_consumer_lag_records Records the consumer group has not committed yet, summed over the topic's partitions (end offset minus committed offset).
# TYPE votestream_kafka_consumer_lag_records gauge
votestream_kafka_consumer_lag_records{group="` + group + `",topic="submissions.v1"} 6
# HELP votestream_kafka_reachable 1 when Kafka answered this process's last lag query within the timeout, else 0.
# TYPE votestream_kafka_reachable gauge
votestream_kafka_reachable 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestUnreachable: with no broker behind the seed, the collector says so and gives no lag.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port nothing listens on
	cfg := kafkalag.DefaultConfig()
	cfg.Seeds, cfg.Groups, cfg.Timeout = []string{addr}, []string{"g"}, 2*time.Second
	c, err := kafkalag.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := `
# HELP votestream_kafka_reachable 1 when Kafka answered this process's last lag query within the timeout, else 0.
# TYPE votestream_kafka_reachable gauge
votestream_kafka_reachable 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
