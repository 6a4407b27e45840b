package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// TestDefaultGroupsCarryTheTopicPrefix: every role with a consumer group derives its
// default from --topic-prefix (schemas.ConsumerGroup), so runs under other prefixes on one
// broker never share a group; --group still wins.
func TestDefaultGroupsCarryTheTopicPrefix(t *testing.T) {
	var withGroup []string
	for name, c := range commands {
		if c.setup == nil {
			continue
		}
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.setup(fs)
		f := fs.Lookup("group")
		if f == nil {
			continue
		}
		withGroup = append(withGroup, name)
		if f.DefValue != "" || !strings.Contains(f.Usage, "<topic-prefix>votestream-") {
			t.Errorf("%s --group: default %q, help %q; want the default derived from --topic-prefix", name, f.DefValue, f.Usage)
		}
	}
	if len(withGroup) < 3 {
		t.Errorf("commands with --group: %v; want at least consolidate, sink and evidencelog", withGroup)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "votestream-consolidate"},
		{[]string{"--topic-prefix", "night2-"}, "night2-votestream-consolidate"},
		{[]string{"--topic-prefix", "night2-", "--group", "mine"}, "mine"},
	} {
		var rf roleFlags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		rf.registerNoRef(fs, "")
		rf.groupFlag(fs, "consolidate", "group")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if got := rf.consumerGroup(); got != c.want {
			t.Errorf("%v: group %q, want %q", c.args, got, c.want)
		}
	}
}
