package testenv

import (
	"bytes"
	"os"
	"sync"
)

// LogBuffer collects log output written from several goroutines (a server's handlers), for
// a test to read. The zero value is ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write keeps p, and copies it to stderr when VOTESTREAM_TEST_LOG is set.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if os.Getenv("VOTESTREAM_TEST_LOG") != "" {
		os.Stderr.Write(p)
	}
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
