package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A role that exits before it is ready is reported, and stopping it afterwards returns: the
// exit is seen by every reader, not only the first (the bench once hung here and left its
// topics and databases behind).
func TestProcExitBeforeReady(t *testing.T) {
	p, err := startProc(t.TempDir(), "/bin/false", "false", "127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = waitReady(context.Background(), p, "http://127.0.0.1:1/ready", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("waitReady = %v; want the exit and its status", err)
	}
	p.stop()
	p.stop()
}
