package provision_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/provision"
)

func TestReplication(t *testing.T) {
	for _, tt := range []struct {
		brokers int
		rf      int16
		isr     int
	}{{0, 1, 1}, {1, 1, 1}, {2, 1, 1}, {3, 3, 2}, {5, 3, 2}} {
		if rf, isr := provision.Replication(tt.brokers); rf != tt.rf || isr != tt.isr {
			t.Errorf("Replication(%d) = %d, %d; want %d, %d", tt.brokers, rf, isr, tt.rf, tt.isr)
		}
	}
}

// checkTopics fails unless every topic under prefix has the contract's partitions,
// compaction, replication factor and min.insync.replicas.
func checkTopics(t *testing.T, adm *kadm.Client, prefix string, rf int, isr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names := provision.TopicNames(prefix)
	// A broker learns of new topics from the controller a moment after they are created
	// (waiting for that in migrate itself is issue 14's item 2).
	var details kadm.TopicDetails
	for {
		var err error
		if details, err = adm.ListTopics(ctx, names...); err != nil {
			t.Fatal(err)
		}
		if complete(details, names) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling metadata: Kafka has no call that waits for it
	}
	configs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, top := range schemas.Topics {
		name := prefix + top.Name
		d := details[name]
		if int32(len(d.Partitions)) != top.Partitions || d.Partitions.NumReplicas() != rf {
			t.Errorf("%s: %d partitions of %d replicas, want %d of %d", name, len(d.Partitions), d.Partitions.NumReplicas(), top.Partitions, rf)
		}
		rc, err := configs.On(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range rc.Configs {
			got[c.Key] = c.MaybeValue()
		}
		if want := map[bool]string{true: "compact", false: "delete"}[top.Compacted]; got["cleanup.policy"] != want {
			t.Errorf("%s: cleanup.policy=%s, want %s", name, got["cleanup.policy"], want)
		}
		if got["min.insync.replicas"] != isr {
			t.Errorf("%s: min.insync.replicas=%s, want %s", name, got["min.insync.replicas"], isr)
		}
	}
}

// complete: every topic named is known with every partition led.
func complete(details kadm.TopicDetails, names []string) bool {
	for _, n := range names {
		d, ok := details[n]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			return false
		}
		for _, p := range d.Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false
			}
		}
	}
	return true
}

// TestEnsureTopicsOneBroker: on the shared single broker every topic gets replication 1; a
// second run creates nothing; topics made otherwise than the contract are named, each
// difference on its line, and the missing topics are created all the same.
func TestEnsureTopicsOneBroker(t *testing.T) {
	env := testenv.Kafka(t) // its topics were made by EnsureTopics under env.Prefix
	adm := env.Admin(t)
	checkTopics(t, adm, env.Prefix, 1, "1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if created, err := provision.EnsureTopics(ctx, adm, env.Prefix); err != nil || len(created) != 0 {
		t.Fatalf("second EnsureTopics = %v, %v; want nothing created, no error", created, err)
	}

	prefix := env.Prefix + "drift."
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, provision.TopicNames(prefix)...)
	})
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, prefix+schemas.TopicSubmissions); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 6, 1, nil, prefix+schemas.TopicStationResults); err != nil {
		t.Fatal(err)
	}
	created, err := provision.EnsureTopics(ctx, adm, prefix)
	if !errors.Is(err, provision.ErrTopicDiffers) {
		t.Fatalf("EnsureTopics over drifted topics = %v, want ErrTopicDiffers", err)
	}
	for _, want := range []string{
		prefix + "submissions.v1 has 3 partitions, the contract says 6",
		prefix + "station-results.v1 has cleanup.policy=delete, the contract says compact",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if len(created) != len(schemas.Topics)-2 {
		t.Errorf("created %v, want the %d other topics", created, len(schemas.Topics)-2)
	}
}

// TestEnsureTopicsCluster: on a private three-broker KRaft cluster every topic gets
// replication factor 3 and min.insync.replicas 2.
func TestEnsureTopicsCluster(t *testing.T) {
	pk := testenv.OwnKafkaCluster(t, 3)
	checkTopics(t, pk.Admin(t), pk.Prefix, 3, "2")
}
