package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// roleMemoryBudget is the soft memory limit (runtime/debug.SetMemoryLimit) each long-running
// role gets by default: the Go runtime collects harder as the process nears it instead of
// letting the heap grow to GOGC's target. The figures are what a national night needs with
// room (docs/benchmarks.md, "Memory"); a role whose live state outgrows its budget keeps
// running, with the garbage collector taking up to half its CPU: watch go_memstats_* in
// /metrics against the budget.
var roleMemoryBudget = map[string]int64{
	// GOGC 400 (ingest.GCPercent) let its heap grow to 5x its live set: 2.3 GiB in use for a
	// full idempotency store (500,000 ids, about 0.5 GiB live) in a national night.
	"ingest": 768 << 20,
	// Holds every report of the night per station, about 1.2 KB of live heap each: 4.4 GiB in
	// use (GOGC 100) at the end of a national night of 1.8 million submissions.
	"consolidate": 4 << 30,
	"estimate":    512 << 20,
	"sink":        256 << 20,
	"feed":        768 << 20,
	"console":     512 << 20,
	"evidencelog": 512 << 20,
	"witness":     256 << 20,
	// Every role in one process: issue 18's bound is 3 GiB of RSS through a national night.
	// The limit counts the runtime's memory only, not the binary's resident pages (about
	// 35 MiB), and the process sits at the limit for the second half of the night, so a
	// limit of 3 GiB alone means an RSS above it; 64 MiB below leaves room for those pages
	// (docs/benchmarks.md, "votestream up through a national night").
	"up": 3<<30 - 64<<20,
}

// memoryFlags is --memory-limit, which every role with a budget takes.
type memoryFlags struct {
	role  string
	limit string
}

func (m *memoryFlags) register(fs *flag.FlagSet, role string) {
	b, ok := roleMemoryBudget[role]
	if !ok {
		return
	}
	m.role = role
	fs.StringVar(&m.limit, "memory-limit", formatBytes(b),
		"soft memory limit of the process (Go's GOMEMLIMIT syntax: 512MiB, 2GiB; off for none); GOMEMLIMIT, when set, wins over this default")
}

// apply sets the process's memory limit: the flag when given (or VOTESTREAM_MEMORY_LIMIT),
// else GOMEMLIMIT when set (the runtime has read it), else the role's budget.
func (m *memoryFlags) apply(fs *flag.FlagSet) error {
	if m.role == "" {
		return nil
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "memory-limit" })
	_, fromEnv := os.LookupEnv(envName("memory-limit"))
	if !given && !fromEnv && os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	n, err := parseBytes(m.limit)
	if err != nil {
		return fmt.Errorf("%w: --memory-limit %q: %v", errUsage, m.limit, err)
	}
	debug.SetMemoryLimit(n)
	return nil
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// parseBytes reads a size as GOMEMLIMIT does (a whole number with an optional B, KiB, MiB,
// GiB or TiB), and "off" for no limit.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return math.MaxInt64, nil
	}
	mult := int64(1)
	for _, u := range byteUnits {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want a positive size such as 768MiB or 2GiB, or off")
	}
	return n * mult, nil
}

func formatBytes(n int64) string {
	for _, u := range byteUnits {
		if n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
