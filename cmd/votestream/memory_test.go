package main

import (
	"flag"
	"math"
	"runtime/debug"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"768MiB": 768 << 20, "3GiB": 3 << 30, "1024": 1024, "5B": 5, "2KiB": 2048, "off": math.MaxInt64, "OFF": math.MaxInt64} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "1.5GiB", "12MB", "lots"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q): no error", in)
		}
	}
	for _, n := range []int64{768 << 20, 3 << 30, 1000} {
		if got, _ := parseBytes(formatBytes(n)); got != n {
			t.Errorf("formatBytes(%d) = %q reads back as %d", n, formatBytes(n), got)
		}
	}
}

// Each role with a budget runs under it unless told otherwise: the flag wins over
// GOMEMLIMIT, which wins over the default.
func TestMemoryLimitApplied(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	apply := func(role string, args ...string) int64 {
		t.Helper()
		debug.SetMemoryLimit(math.MaxInt64)
		fs := flag.NewFlagSet(role, flag.ContinueOnError)
		var m memoryFlags
		m.register(fs, role)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := m.apply(fs); err != nil {
			t.Fatal(err)
		}
		return debug.SetMemoryLimit(-1)
	}
	t.Setenv("GOMEMLIMIT", "")
	if got := apply("sink"); got != roleMemoryBudget["sink"] {
		t.Errorf("sink's default limit = %d, want its budget %d", got, roleMemoryBudget["sink"])
	}
	if got := apply("sink", "--memory-limit", "1GiB"); got != 1<<30 {
		t.Errorf("--memory-limit 1GiB gave %d", got)
	}
	if got := apply("migrate"); got != math.MaxInt64 {
		t.Errorf("a command without a budget got a limit: %d", got)
	}
	t.Setenv("GOMEMLIMIT", "100MiB") // read by the runtime at start; here only its presence counts
	if got := apply("sink"); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set the default overrode it: %d", got)
	}
	if got := apply("sink", "--memory-limit", "2GiB"); got != 2<<30 {
		t.Errorf("the flag did not win over GOMEMLIMIT: %d", got)
	}
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	var m memoryFlags
	m.register(fs, "sink")
	if err := fs.Parse([]string{"--memory-limit", "lots"}); err != nil {
		t.Fatal(err)
	}
	if err := m.apply(fs); err == nil {
		t.Error("--memory-limit lots: no error")
	}
}
