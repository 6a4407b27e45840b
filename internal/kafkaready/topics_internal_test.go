package kafkaready

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestTopicsReady(t *testing.T) {
	led := kadm.PartitionDetail{Leader: 1}
	cases := []struct {
		name    string
		details kadm.TopicDetails
		want    string // substring of the error; "" for nil
		missing bool
	}{
		{"all led", kadm.TopicDetails{"a": {Topic: "a", Partitions: kadm.PartitionDetails{0: led, 1: led}}}, "", false},
		{"absent", kadm.TopicDetails{}, "a", true},
		{"unknown", kadm.TopicDetails{"a": {Topic: "a", Err: kerr.UnknownTopicOrPartition}}, "a", true},
		{"no partitions yet", kadm.TopicDetails{"a": {Topic: "a"}}, "no partitions yet", false},
		{"leaderless partition", kadm.TopicDetails{"a": {Topic: "a", Partitions: kadm.PartitionDetails{
			0: led, 1: {Partition: 1, Leader: -1, Err: kerr.LeaderNotAvailable}}}}, "partition 1 has no leader", false},
		{"refused", kadm.TopicDetails{"a": {Topic: "a", Err: kerr.TopicAuthorizationFailed}}, "refused", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := topicsReady(tc.details, []string{"a"})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("err = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			case errors.Is(err, ErrTopicsMissing) != tc.missing:
				t.Fatalf("err = %v: missing %v, want %v", err, errors.Is(err, ErrTopicsMissing), tc.missing)
			}
		})
	}
}
