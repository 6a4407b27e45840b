// Package testenv gives integration tests the real Kafka broker and ClickHouse server that
// scripts/services starts, each test with its own topic set or database so tests never see
// each other's data. It finds the services through VOTESTREAM_KAFKA and
// VOTESTREAM_CLICKHOUSE (host:port), which `make test` sets. Without them a test skips,
// unless VOTESTREAM_REQUIRE_SERVICES=1 (make test, CI), where absence fails the test.
//
// It also holds what many tests of different packages set up the same way: a role's Run in
// the background (RunInBackground, Serve), outage lengths and polled waits, log capture,
// HTTP GETs, a free address, photo bytes. Look here before writing a test helper.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/partition"
	"votestream/schemas/provision"
)

// Environment variables that locate the services.
const (
	EnvKafka           = "VOTESTREAM_KAFKA"
	EnvClickHouse      = "VOTESTREAM_CLICKHOUSE"
	EnvRequireServices = "VOTESTREAM_REQUIRE_SERVICES"
)

// setupTimeout bounds every call testenv makes to a service while preparing a test.
const setupTimeout = 60 * time.Second

func service(t testing.TB, env string) string {
	t.Helper()
	addr := os.Getenv(env)
	if addr != "" {
		return addr
	}
	if os.Getenv(EnvRequireServices) == "1" {
		t.Fatalf("testenv: %s is not set but %s=1: start the services with `scripts/services up` (make test does)", env, EnvRequireServices)
	}
	t.Skipf("testenv: %s not set; run `make test` or `scripts/services up` and export %s", env, env)
	return ""
}

// uniqueName returns a name unique to this test run: a readable part of the test name and
// random hex, safe for Kafka topics and ClickHouse databases.
func uniqueName(t testing.TB) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	var sb strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
		if sb.Len() >= 40 {
			break
		}
	}
	return "t_" + sb.String() + "_" + hex.EncodeToString(b[:])
}

// KafkaEnv is a fresh topic set on a real broker: every topic of schemas.Topics under Prefix.
type KafkaEnv struct {
	Seeds  []string
	Prefix string // prepended to every topic name; pass it as a role's TopicPrefix
}

// Topic returns the full name of one of the contract's topics in this environment.
func (k *KafkaEnv) Topic(name string) string { return k.Prefix + name }

// Client returns a client on the broker, closed when the test ends. It places the report
// topics' records by constituency, as every producer of them must (internal/partition).
func (k *KafkaEnv) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Seeds...), partition.Opt()}, opts...)...)
	if err != nil {
		t.Fatalf("testenv: kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client on the broker, closed when the test ends.
func (k *KafkaEnv) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(k.Client(t))
}

// Kafka creates the project's topics under a prefix unique to t, on the broker named by
// VOTESTREAM_KAFKA, and deletes them when the test ends.
func Kafka(t testing.TB) *KafkaEnv {
	t.Helper()
	return newKafkaEnv(t, strings.Split(service(t, EnvKafka), ","))
}

func newKafkaEnv(t testing.TB, seeds []string) *KafkaEnv {
	t.Helper()
	k := &KafkaEnv{Seeds: seeds, Prefix: uniqueName(t) + "."}
	adm := kadm.NewClient(k.Client(t))
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := provision.EnsureTopics(ctx, adm, k.Prefix); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := waitTopicsServed(ctx, adm, provision.TopicNames(k.Prefix)); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(k.Seeds...))
		if err != nil {
			return
		}
		defer cl.Close()
		// Best effort: a private broker may already be gone, and leftover topics under a
		// random prefix harm no other test.
		_, _ = kadm.NewClient(cl).DeleteTopics(ctx, provision.TopicNames(k.Prefix)...)
	})
	return k
}

// ClickHouseEnv is a fresh database on the real ClickHouse server.
type ClickHouseEnv struct {
	Addr     string // host:port of the native protocol
	Database string
	Conn     driver.Conn // opened on Database, closed when the test ends
}

// Options returns clickhouse-go options for this environment's database, for code under test
// that opens its own connection.
func (c *ClickHouseEnv) Options() *clickhouse.Options {
	return &clickhouse.Options{
		Addr:        []string{c.Addr},
		Auth:        clickhouse.Auth{Database: c.Database, Username: "default"},
		DialTimeout: 10 * time.Second,
	}
}

// ClickHouse creates a database unique to t on the server named by VOTESTREAM_CLICKHOUSE
// and drops it when the test ends.
func ClickHouse(t testing.TB) *ClickHouseEnv {
	t.Helper()
	return newClickHouseEnv(t, service(t, EnvClickHouse))
}

func newClickHouseEnv(t testing.TB, addr string) *ClickHouseEnv {
	t.Helper()
	env := &ClickHouseEnv{Addr: addr, Database: uniqueName(t)}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("testenv: clickhouse open %s: %v", addr, err)
	}
	if err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s", env.Database)); err != nil {
		admin.Close()
		t.Fatalf("testenv: create database %s on %s: %v", env.Database, addr, err)
	}
	admin.Close()
	t.Cleanup(func() {
		// A fresh connection (one idle for minutes may be gone) and a longer bound: dropping
		// tables waits for their merges, which a loaded server takes minutes over after a
		// long test.
		ctx, cancel := context.WithTimeout(context.Background(), 3*setupTimeout)
		defer cancel()
		admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 10 * time.Second, ReadTimeout: 3 * setupTimeout})
		if err == nil {
			err = admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s", env.Database))
			if err == nil { // and the newsrooms' database beside it, when migrated (schemas.PublicDatabase)
				err = admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s_public", env.Database))
			}
			admin.Close()
		}
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", env.Database, err)
		}
	})

	conn, err := clickhouse.Open(env.Options())
	if err != nil {
		t.Fatalf("testenv: clickhouse open database %s: %v", env.Database, err)
	}
	t.Cleanup(func() { conn.Close() })
	env.Conn = conn
	return env
}

// waitTopicsServed waits until the broker lists an offset for every partition of topics: a
// topic created a moment ago may not be in the broker's metadata yet, and a test's first
// produce (or a reader that treats a missing topic as an error) would fail on it.
func waitTopicsServed(ctx context.Context, adm *kadm.Client, topics []string) error {
	var last error
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			served := map[string]bool{}
			ends.Each(func(o kadm.ListedOffset) { served[o.Topic] = true })
			for _, tp := range topics {
				if !served[tp] {
					err = fmt.Errorf("topic %s not served yet", tp)
				}
			}
		}
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics not served in time: %w", last)
		case <-time.After(wait):
		}
	}
}
