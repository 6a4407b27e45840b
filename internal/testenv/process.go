package testenv

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// VotestreamBinary builds ./cmd/votestream of this repository into a folder of the test's
// and returns its path, for tests that run the command as an operator would.
func VotestreamBinary(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "votestream")
	build := exec.Command("go", "build", "-o", bin, "./cmd/votestream")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("testenv: go build ./cmd/votestream: %v\n%s", err, out)
	}
	return bin
}

// StartCommand starts cmd with its output into log and stops it when the test ends: SIGINT
// (our roles drain on it), then SIGKILL after 30 s. When the test has failed, the end of the
// log is printed.
func StartCommand(t testing.TB, cmd *exec.Cmd, name string, log *LogBuffer) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			out := log.String()
			t.Logf("%s log (end):\n%s", name, out[max(0, len(out)-4000):])
		}
	})
}
