package schemas

import "testing"

func TestConsumerGroupCarriesThePrefix(t *testing.T) {
	for _, c := range []struct{ prefix, role, want string }{
		{"", "consolidate", "votestream-consolidate"},
		{"test-night-", "consolidate", "test-night-votestream-consolidate"},
		{"t1.", "evidencelog", "t1.votestream-evidencelog"},
	} {
		if got := ConsumerGroup(c.prefix, c.role); got != c.want {
			t.Errorf("ConsumerGroup(%q, %q) = %q, want %q", c.prefix, c.role, got, c.want)
		}
	}
	if ConsumerGroup("a-", "sink") == ConsumerGroup("b-", "sink") {
		t.Error("two prefixes share a group")
	}
}
