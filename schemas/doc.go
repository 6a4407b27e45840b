// Package schemas holds votestream's message contracts (DESIGN.md §4): the Go types every
// role exchanges over Kafka, their JSON Schemas, the versioned envelope, the Kafka topic set
// and the ClickHouse DDL. It knows the election domain but does no I/O of its own.
package schemas
