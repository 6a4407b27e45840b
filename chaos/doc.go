// Package chaos holds the long fault runs of `make chaos`: a simulated night replayed through
// real votestream processes on a private 3-broker Kafka cluster while brokers are killed,
// checked against an uninterrupted run of the same reports. Its tests carry the build tag
// chaos, so `go test ./...` (make test) does not run them: three brokers and every role on
// the development machine's two cores take minutes. It has no code of its own.
package chaos
