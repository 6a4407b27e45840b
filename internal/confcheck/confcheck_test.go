package confcheck

import (
	"errors"
	"testing"

	"votestream/election"
)

var errTest = errors.New("role: invalid config")

func TestBadWrapsTheSentinel(t *testing.T) {
	err := Bad(errTest)("RingSize %d < %d", 1, 2)
	if !errors.Is(err, errTest) || err.Error() != "role: invalid config: RingSize 1 < 2" {
		t.Errorf("got %v", err)
	}
	if got := Bad(errTest)("100%% sure").Error(); got != "role: invalid config: 100% sure" {
		t.Errorf("got %q", got)
	}
}

func TestSource(t *testing.T) {
	unindexed := &election.Country{}
	for _, c := range []struct {
		name    string
		seeds   []string
		country *election.Country
		want    string
	}{
		{"no seeds", nil, nil, "role: invalid config: no Kafka seed brokers"},
		{"no country", []string{"k:9092"}, nil, "role: invalid config: no reference data (Country)"},
		{"not indexed", []string{"k:9092"}, unindexed, "role: invalid config: reference data not indexed"},
	} {
		err := Source(errTest, c.seeds, c.country)
		if !errors.Is(err, errTest) || err.Error() != c.want {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
