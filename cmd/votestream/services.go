package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/backoff"
	"votestream/schemas/provision"
	chsink "votestream/sinks/clickhouse"
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

// waitHTTP polls url until it answers 200, for at most limit.
func waitHTTP(ctx context.Context, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit+time.Second) // a request that hangs ends too
	defer cancel()
	return backoff.Retry(ctx, backoff.Exponential(100*time.Millisecond, time.Second).Within(limit), func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return backoff.Permanent(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", url, resp.Status)
		}
		return nil
	}, nil)
}

// loadReference writes the country into ClickHouse's reference tables (idempotent).
func loadReference(ctx context.Context, cf clickhouseFlags, c *election.Country) error {
	opts := cf.options()
	opts.Auth.Database = cf.database
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return fmt.Errorf("clickhouse %s: %w", cf.addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return chsink.LoadReference(ctx, conn, c)
}

// loadCountry loads the reference data a role checks against; --ref is required.
func loadCountry(dir string) (*election.Country, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: --ref is required: the role checks every station and number against the reference data", errUsage)
	}
	c, err := election.LoadCountry(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("reference data %s: %w", dir, err)
	}
	return c, nil
}

// writeFileAtomic writes path through a temporary file in the same folder, renamed into
// place only once write succeeded, so a reader never sees half a file.
func writeFileAtomic(path string, write func(w io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}
