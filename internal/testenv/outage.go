package testenv

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// OutageLength is how long an outage test keeps a service away: def, or
// VOTESTREAM_OUTAGE_SECONDS when set (`make chaos` runs the two minutes).
func OutageLength(t testing.TB, def time.Duration) time.Duration {
	t.Helper()
	if s := os.Getenv("VOTESTREAM_OUTAGE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("VOTESTREAM_OUTAGE_SECONDS=%q", s)
		}
		return time.Duration(n) * time.Second
	}
	return def
}

// WaitFor polls cond (a state, not a time) until it holds or limit passes.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond) // polling a state: there is no notification
	}
}

// Mark is the length of the log so far, for CountSince.
func (l *LogBuffer) Mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// CountSince counts s in what was written after mark.
func (l *LogBuffer) CountSince(mark int, s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String()[mark:], s)
}

// Count counts s in everything written.
func (l *LogBuffer) Count(s string) int { return l.CountSince(0, s) }
