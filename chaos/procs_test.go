//go:build chaos

package chaos_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"votestream/internal/testenv"
)

// buildBinary builds cmd/votestream once for the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "votestream")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/votestream")
	cmd.Dir = filepath.Join("..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string { return testenv.FreeAddr(t) }

// proc is one votestream process under a supervisor that restarts it when it exits, as the
// deployment's `restart: unless-stopped` does; every start and exit is counted and logged.
type proc struct {
	t    *testing.T
	name string
	bin  string
	args []string
	log  *os.File

	mu       sync.Mutex
	cmd      *exec.Cmd
	exits    []string // how each run ended, in order
	stopping bool
	done     chan struct{}
}

// startProc starts the process and its supervisor; the test's cleanup stops both.
func startProc(t *testing.T, bin, name string, args ...string) *proc {
	t.Helper()
	f, err := os.Create(filepath.Join(logDir(t), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, bin: bin, args: args, log: f, done: make(chan struct{})}
	ready := make(chan error, 1)
	go p.supervise(ready)
	if err := <-ready; err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(p.stop)
	return p
}

// logDir keeps the processes' logs for a failed run: VOTESTREAM_CHAOS_LOGS or a temp dir.
func logDir(t *testing.T) string {
	if d := os.Getenv("VOTESTREAM_CHAOS_LOGS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func (p *proc) supervise(ready chan<- error) {
	defer close(p.done)
	for restarts := 0; ; restarts++ {
		cmd := exec.Command(p.bin, p.args...)
		cmd.Stdout, cmd.Stderr = p.log, p.log
		cmd.Env = flagsOnlyEnv()
		p.mu.Lock()
		if p.stopping {
			p.mu.Unlock()
			return
		}
		err := cmd.Start()
		p.cmd = cmd
		p.mu.Unlock()
		if ready != nil {
			ready <- err
			ready = nil
		}
		if err != nil {
			return
		}
		err = cmd.Wait()
		p.mu.Lock()
		p.exits = append(p.exits, fmt.Sprint(err))
		stopping := p.stopping
		p.mu.Unlock()
		if stopping {
			return
		}
		fmt.Fprintf(p.log, "chaos: %s exited (%v); restarting it (restart %d)\n", p.name, err, restarts+1)
		if restarts >= 50 {
			p.t.Errorf("%s exited %d times; giving up on it", p.name, restarts+1)
			return
		}
		time.Sleep(time.Second) // the deployment's restart delay, not a synchronisation
	}
}

// kill sends SIGKILL to the running process; the supervisor restarts it.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// exitsAll is how every run that ended, ended.
func (p *proc) exitsAll() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.exits...)
}

// unexpectedExits are the runs that ended other than by the test's own SIGKILL.
func (p *proc) unexpectedExits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.exits {
		if e != "signal: killed" {
			out = append(out, e)
		}
	}
	return out
}

func (p *proc) stop() {
	p.mu.Lock()
	p.stopping = true
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-p.done
	}
	p.log.Close()
}

// tail returns the end of the process's log, for failure messages.
func (p *proc) tail() string {
	b, err := os.ReadFile(p.log.Name())
	if err != nil {
		return err.Error()
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(bytes.TrimSpace(b))
}

// flagsOnlyEnv is the test's environment without VOTESTREAM_ variables: the processes get
// every setting from their flags, so the shared services' addresses cannot leak in.
func flagsOnlyEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VOTESTREAM_") {
			env = append(env, kv)
		}
	}
	return env
}

// runOnce runs a votestream command to its end.
func runOnce(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = flagsOnlyEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("votestream %v: %v\n%s", args, err, out)
	}
}
