package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"votestream/internal/kafkalag"
)

// registerLag adds to reg the consumer lag of groups (votestream_kafka_consumer_lag_records)
// and whether Kafka answers (votestream_kafka_reachable), for the alerts in deploy/alerts.yml.
// The returned func closes its client.
func registerLag(reg prometheus.Registerer, seeds []string, prefix string, groups ...string) (func(), error) {
	cfg := kafkalag.DefaultConfig()
	cfg.Seeds, cfg.Groups, cfg.TopicPrefix = seeds, groups, prefix
	c, err := kafkalag.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := reg.Register(c); err != nil {
		c.Close()
		return nil, err
	}
	return c.Close, nil
}
