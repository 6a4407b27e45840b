// Package kafkalag exports, as Prometheus metrics, how far the project's consumer groups are
// behind their topics, and whether Kafka answered the question. A role registers one Collector
// for its own group, so the alert on consumer lag needs no exporter beside the roles. It reads
// offsets only (kadm's Lag): it never joins a group or commits.
package kafkalag
