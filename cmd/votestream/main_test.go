package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands {
		var out, errb bytes.Buffer
		if code := run([]string{name, "--help"}, &out, &errb); code != 0 {
			t.Errorf("%s --help: exit %d, stderr %q", name, code, errb.String())
		}
		if !strings.Contains(out.String(), "Usage: votestream "+name) {
			t.Errorf("%s --help printed %q", name, out.String())
		}
	}
}

func TestUnbuiltRoleRefuses(t *testing.T) {
	for name, c := range commands {
		if !c.notBuilt {
			continue
		}
		var out, errb bytes.Buffer
		if code := run([]string{name}, &out, &errb); code == 0 {
			t.Errorf("%s: exit 0 from a role that is not built", name)
		}
		if !strings.Contains(errb.String(), "not built yet") {
			t.Errorf("%s: stderr %q does not say it is not built", name, errb.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"no-such-command"},
		{"migrate", "--no-such-flag"},
		{"migrate", "extra-argument"},
		{"simulate", "bogus"},
		{"simulate", "country"},      // --out missing
		{"verify"},                   // --log-key missing
		{"verify", "--log-key", "k"}, // no check named
		{"verify", "--log-key", "k", "--bundle", "b", "--old", "o", "--new", "n"},
		{"evidencelog", "keygen", "--key", "k"}, // --origin missing
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("VOTESTREAM_TOPIC_PREFIX", "from-env.")
	t.Setenv("VOTESTREAM_KAFKA", "from-env:1")
	var kf kafkaFlags
	fs := newFlagSet()
	kf.register(fs, defaultKafka)
	if err := fs.Parse([]string{"--kafka", "from-flag:2"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if kf.topicPrefix != "from-env." {
		t.Errorf("topic prefix %q, want the environment's", kf.topicPrefix)
	}
	if kf.seeds != "from-flag:2" {
		t.Errorf("kafka %q, want the flag to win over the environment", kf.seeds)
	}
}

func TestBadEnvironmentValue(t *testing.T) {
	t.Setenv("VOTESTREAM_MAX_BATCH", "many")
	var out, errb bytes.Buffer
	if code := run([]string{"sink"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "VOTESTREAM_MAX_BATCH") {
		t.Errorf("error %q does not name the variable", errb.String())
	}
}

// TestVerifyCannotCheck: verify's inputs that cannot be read exit 3, not 1 (FAILED).
func TestVerifyCannotCheck(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"verify", "--log-key", dir + "/no-such-key", "--bundle", dir + "/no-such-bundle"}, &out, &errb)
	if code != 3 {
		t.Errorf("exit %d, want 3 (stderr %q)", code, errb.String())
	}
}
