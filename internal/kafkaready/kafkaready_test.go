package kafkaready_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/health"
	. "votestream/internal/kafkaready"
	"votestream/internal/testenv"
	"votestream/schemas/provision"
)

func dependency(t *testing.T) (*health.Set, *health.Dependency) {
	t.Helper()
	hs, err := health.NewSet("test", slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return hs, hs.Dependency("kafka")
}

// A broker that does not answer is waited for until the context ends, the dependency down
// meanwhile, and the error says what was awaited.
func TestWaitForABrokerAway(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	hs, dep := dependency(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = Wait(ctx, kadm.NewClient(cl), Need{Topics: []string{"x"}}, dep)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still waiting for kafka") {
		t.Fatalf("Wait = %v, want the deadline with what it waited for", err)
	}
	if hs.Ready() == nil {
		t.Fatal("ready while the broker does not answer")
	}
}

// Fresh start: Wait begins before the topics exist and returns once they are created and
// led, with the group and transaction coordinators of names never used before.
func TestWaitForTopicsBeingCreated(t *testing.T) {
	env := testenv.Kafka(t)
	prefix := env.Prefix + "late."
	adm := env.Admin(t)
	hs, dep := dependency(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Wait(ctx, adm, Need{Topics: provision.TopicNames(prefix), Group: prefix + "g", TransactionalID: prefix + "t"}, dep)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, provision.TopicNames(prefix)...)
	})
	// Wait has looked at least once and found the topics missing.
	for up, _, _ := dep.State(); up; up, _, _ = dep.State() {
		select {
		case err := <-done:
			t.Fatalf("Wait returned %v before the topics existed", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := provision.EnsureTopics(ctx, adm, prefix); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if err := hs.Ready(); err != nil {
		t.Fatalf("not ready after Wait returned: %v", err)
	}
}

// A topic nobody creates is a configuration error once MissingTopicsWait has passed.
func TestWaitGivesUpOnMissingTopics(t *testing.T) {
	env := testenv.Kafka(t)
	_, dep := dependency(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Wait(ctx, env.Admin(t), Need{Topics: []string{env.Prefix + "never"}, MissingTopicsWait: time.Second}, dep)
	if !errors.Is(err, ErrTopicsMissing) || !strings.Contains(err.Error(), "never") {
		t.Fatalf("Wait = %v, want ErrTopicsMissing naming the topic", err)
	}
}
