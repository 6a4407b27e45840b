// Package kafkaready waits, when a role or a tool starts, until Kafka can serve it: every
// topic it names exists with a leader for each partition, and the group and transaction
// coordinators it will use answer. A freshly created topic or a broker that has just
// started answers UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE or
// COORDINATOR_NOT_AVAILABLE for a few seconds; a role that takes that for a failure exits
// on every fresh start.
//
// The wait is reported through a health.Dependency (one log line when it starts waiting,
// one when Kafka is ready, readiness false meanwhile). A broker that does not answer is
// waited for as long as the context allows; a topic that stays missing is a configuration
// error (nobody ran `votestream migrate`) and ends the wait after Need.MissingTopicsWait.
//
// The package owns no goroutine; Wait blocks on the caller's.
package kafkaready

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"votestream/internal/backoff"
	"votestream/internal/health"
)

// ErrTopicsMissing is matched (errors.Is) by Wait's error when topics stayed missing for
// Need.MissingTopicsWait.
var ErrTopicsMissing = errors.New("kafka topics missing (run `votestream migrate`)")

// ErrRefused is matched by Wait's error when the broker answered with an error no wait can
// mend (an authorisation refused, an invalid group or transactional id).
var ErrRefused = errors.New("kafka refused")

// Need is what a role needs of Kafka before it starts.
type Need struct {
	// Topics that must exist, each partition with a leader.
	Topics []string
	// Group whose coordinator must answer; "" for none.
	Group string
	// TransactionalID whose transaction coordinator must answer; "" for none.
	TransactionalID string
	// MissingTopicsWait bounds how long a topic may be missing before Wait gives up with
	// ErrTopicsMissing (topics being created at the same moment by migrate appear within
	// seconds). Default 2 minutes.
	MissingTopicsWait time.Duration
}

// Curve is the wait between two looks: from 100 ms, doubling, at most 5 s.
var Curve = backoff.Exponential(100*time.Millisecond, 5*time.Second)

// lookTimeout bounds one look (a metadata or FindCoordinator request).
const lookTimeout = 10 * time.Second

// Wait returns nil once Kafka serves everything need names, the context's error when ctx
// ends first, or an error matching ErrTopicsMissing or ErrRefused. dep is marked down
// while Wait waits and up when it returns nil.
func Wait(ctx context.Context, adm *kadm.Client, need Need, dep *health.Dependency) error {
	if need.MissingTopicsWait <= 0 {
		need.MissingTopicsWait = 2 * time.Minute
	}
	var missingSince time.Time
	return dep.Wait(ctx, Curve, func(ctx context.Context) error {
		lctx, cancel := context.WithTimeout(ctx, lookTimeout)
		defer cancel()
		err := look(lctx, adm, need)
		if errors.Is(err, ErrTopicsMissing) {
			if missingSince.IsZero() {
				missingSince = time.Now()
			}
			if time.Since(missingSince) >= need.MissingTopicsWait {
				return backoff.Permanent(fmt.Errorf("%w after %v", err, need.MissingTopicsWait))
			}
		} else {
			missingSince = time.Time{}
		}
		if errors.Is(err, ErrRefused) {
			return backoff.Permanent(err)
		}
		return err
	})
}

// look checks need once.
func look(ctx context.Context, adm *kadm.Client, need Need) error {
	if len(need.Topics) > 0 {
		details, err := adm.ListTopics(ctx, need.Topics...)
		if err != nil {
			return classify(fmt.Errorf("kafka metadata: %w", err))
		}
		if err := topicsReady(details, need.Topics); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		kind, key string
		find      func(context.Context, ...string) kadm.FindCoordinatorResponses
	}{
		{"group", need.Group, adm.FindGroupCoordinators},
		{"transaction", need.TransactionalID, adm.FindTxnCoordinators},
	} {
		if c.key == "" {
			continue
		}
		r, ok := c.find(ctx, c.key)[c.key]
		switch {
		case !ok:
			return fmt.Errorf("kafka: no answer for the %s coordinator of %q", c.kind, c.key)
		case r.Err != nil:
			return classify(fmt.Errorf("kafka: %s coordinator of %q: %w", c.kind, c.key, r.Err))
		}
	}
	return nil
}

// topicsReady reports the first topic of names missing or with a partition without a leader.
func topicsReady(details kadm.TopicDetails, names []string) error {
	var missing []string
	for _, name := range names {
		d, ok := details[name]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			missing = append(missing, name)
		case d.Err != nil:
			return classify(fmt.Errorf("kafka: topic %s: %w", name, d.Err))
		case len(d.Partitions) == 0:
			return fmt.Errorf("kafka: topic %s has no partitions yet", name)
		}
		for _, p := range d.Partitions.Sorted() {
			if p.Err != nil || p.Leader < 0 {
				return fmt.Errorf("kafka: topic %s partition %d has no leader yet (%v)", name, p.Partition, p.Err)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%w: %s", ErrTopicsMissing, strings.Join(missing, ", "))
	}
	return nil
}

// classify marks the errors no wait mends.
func classify(err error) error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed,
			kerr.TransactionalIDAuthorizationFailed, kerr.ClusterAuthorizationFailed,
			kerr.InvalidGroupID, kerr.InvalidTopicException:
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	var ae *kadm.AuthError
	if errors.As(err, &ae) {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}
