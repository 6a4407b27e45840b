package main

import (
	"context"
	"flag"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/election"
)

// roleFlags are the flags every role that reads Kafka against the reference data shares:
// --kafka and --topic-prefix, --ref, and (for a long-running role) --metrics.
type roleFlags struct {
	kafka   kafkaFlags
	ref     string
	metrics string
}

// register declares the flags; metricsAddr "" declares no --metrics (a one-shot command).
func (r *roleFlags) register(fs *flag.FlagSet, metricsAddr string) {
	r.kafka.register(fs, defaultKafka)
	fs.StringVar(&r.ref, "ref", "", "reference data folder (provinces, constituencies, stations, parties, candidates CSV); required")
	if metricsAddr != "" {
		fs.StringVar(&r.metrics, "metrics", metricsAddr, "address serving Prometheus /metrics (and /healthz, /readyz); empty disables")
	}
}

// seeds returns the --kafka brokers.
func (r *roleFlags) seeds() []string { return r.kafka.seedList() }

// topicPrefix returns --topic-prefix.
func (r *roleFlags) topicPrefix() string { return r.kafka.topicPrefix }

// country loads --ref.
func (r *roleFlags) country() (*election.Country, error) { return loadCountry(r.ref) }

// start is the common beginning of a role's run: no stray arguments, the reference data of
// --ref, and the process's metrics registry (for the role's Config.Registerer).
func (r *roleFlags) start(args []string) (*election.Country, *prometheus.Registry, error) {
	if err := noArgs(args); err != nil {
		return nil, nil, err
	}
	country, err := r.country()
	if err != nil {
		return nil, nil, err
	}
	return country, newRegistry(), nil
}

// serveReady runs role with reg served on --metrics, /readyz answering from ready (see
// withMetricsReady).
func (r *roleFlags) serveReady(ctx context.Context, reg *prometheus.Registry, ready func() error, role func(context.Context) error) error {
	return withMetricsReady(ctx, r.metrics, reg, ready, role)
}
