package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/election"
	"votestream/ingest/s3store"
	"votestream/schemas"
)

// roleFlags are the flags every role that reads Kafka against the reference data shares:
// --kafka and --topic-prefix, --ref, and (for a long-running role) --metrics.
type roleFlags struct {
	kafka   kafkaFlags
	ref     string
	metrics string
	group   string // --group; "" is the role's default, derived from --topic-prefix
	role    string // the role named in the default group (groupFlag)
}

// register declares the flags; metricsAddr "" declares no --metrics (a one-shot command,
// or a role that serves /metrics itself).
func (r *roleFlags) register(fs *flag.FlagSet, metricsAddr string) {
	r.registerNoRef(fs, metricsAddr)
	fs.StringVar(&r.ref, "ref", "", "reference data folder (provinces, constituencies, stations, parties, candidates CSV); required")
}

// registerNoRef declares the flags but --ref, for a role that needs no reference data.
func (r *roleFlags) registerNoRef(fs *flag.FlagSet, metricsAddr string) {
	r.kafka.register(fs, defaultKafka)
	if metricsAddr != "" {
		fs.StringVar(&r.metrics, "metrics", metricsAddr, "address serving Prometheus /metrics (and /healthz, /readyz); empty disables")
	}
}

// seeds returns the --kafka brokers.
func (r *roleFlags) seeds() []string { return r.kafka.seedList() }

// topicPrefix returns --topic-prefix.
func (r *roleFlags) topicPrefix() string { return r.kafka.topicPrefix }

// groupFlag declares --group for role: by default schemas.ConsumerGroup(--topic-prefix,
// role), so runs under other prefixes on one broker never share a group.
func (r *roleFlags) groupFlag(fs *flag.FlagSet, role, help string) {
	r.role = role
	fs.StringVar(&r.group, "group", "", help+" (default "+schemas.ConsumerGroup("<topic-prefix>", role)+")")
}

// consumerGroup returns --group, or the role's default under --topic-prefix.
func (r *roleFlags) consumerGroup() string {
	if r.group != "" {
		return r.group
	}
	return schemas.ConsumerGroup(r.topicPrefix(), r.role)
}

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

// pollsCloseFlag declares --polls-close onto t (its default shown): an RFC 3339 time or an
// election day, 17:00 Thai time (election.ParsePollsClose). what says what the time does.
func pollsCloseFlag(fs *flag.FlagSet, t *time.Time, what string) {
	fs.Func("polls-close", what+": RFC 3339, or an election day (17:00 Thai time) (default "+t.Format(time.RFC3339)+")", func(s string) error {
		v, err := election.ParsePollsClose(s)
		if err != nil {
			return err
		}
		*t = v
		return nil
	})
}

// configError makes a role constructor's invalid-config error (matching errConfig) a usage
// error, so the command exits 2 with the message; other errors pass unchanged.
func configError(err, errConfig error) error {
	if errors.Is(err, errConfig) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return err
}

// evidenceS3Flags declares the --evidence-s3-* flags onto s3 (ingest's bucket of evidence
// photos: ingest writes it, evidencelog reads it); endpointHelp says what the endpoint does
// for the role. The returned func sets s3.Secure from --evidence-s3-insecure once flags are parsed.
func evidenceS3Flags(fs *flag.FlagSet, s3 *s3store.Config, endpointHelp string) (parsed func()) {
	fs.StringVar(&s3.Endpoint, "evidence-s3-endpoint", s3.Endpoint, endpointHelp)
	fs.StringVar(&s3.Bucket, "evidence-s3-bucket", s3.Bucket, "evidence bucket (required with --evidence-s3-endpoint)")
	fs.StringVar(&s3.Region, "evidence-s3-region", s3.Region, "evidence bucket's region")
	fs.StringVar(&s3.Prefix, "evidence-s3-prefix", s3.Prefix, "key prefix of evidence objects (<prefix>sha256/<hex>), the same for ingest and evidencelog")
	fs.StringVar(&s3.AccessKey, "evidence-s3-access-key", s3.AccessKey, "access key of the evidence bucket")
	fs.StringVar(&s3.SecretKey, "evidence-s3-secret-key", s3.SecretKey, "secret key of the evidence bucket; better given as VOTESTREAM_EVIDENCE_S3_SECRET_KEY than on the command line, where ps shows it")
	insecure := fs.Bool("evidence-s3-insecure", false, "talk plain HTTP to the evidence server (loopback or a private network only)")
	return func() { s3.Secure = !*insecure }
}
