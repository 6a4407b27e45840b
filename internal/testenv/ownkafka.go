package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// PrivateKafka is a Kafka broker (or a KRaft cluster of brokers) of one test's own, started
// by scripts/services with its state in a temporary folder, so the test may stop, kill and
// restart it (fault tests) without disturbing the shared broker other tests use.
type PrivateKafka struct {
	*KafkaEnv
	t       testing.TB
	root    string
	varDir  string
	brokers int
	env     []string
}

// OwnKafka starts a private single-node broker for t, with the project's topics created,
// and stops it when the test ends. It needs the same set-up as Kafka (Java and the cached
// jars that `scripts/services up` fetched), and skips or fails like Kafka when the shared
// services are absent.
//
// With VOTESTREAM_OWN_KAFKA_BROKERS=3 (make chaos sets it) the private broker is a 3-broker
// cluster instead, so the same fault tests run against replicated topics.
func OwnKafka(t testing.TB) *PrivateKafka {
	t.Helper()
	switch n := os.Getenv(EnvOwnKafkaBrokers); n {
	case "", "1":
		return ownKafka(t, 1)
	case "3":
		return ownKafka(t, 3)
	default:
		t.Fatalf("testenv: %s=%q: want 1 or 3", EnvOwnKafkaBrokers, n)
		return nil
	}
}

// EnvOwnKafkaBrokers sets the brokers of OwnKafka's private cluster: 1 (default) or 3.
const EnvOwnKafkaBrokers = "VOTESTREAM_OWN_KAFKA_BROKERS"

// OwnKafkaCluster is OwnKafka with a KRaft cluster of n brokers (scripts/services takes 1 or
// 3), each broker and controller both, on consecutive loopback ports; the topics then get
// replication factor 3 and min.insync.replicas 2.
func OwnKafkaCluster(t testing.TB, n int) *PrivateKafka {
	t.Helper()
	return ownKafka(t, n)
}

func ownKafka(t testing.TB, brokers int) *PrivateKafka {
	t.Helper()
	service(t, EnvKafka) // same skip/require rule as the shared broker
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	port, err := freePorts(2 * brokers)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	pk := &PrivateKafka{
		t:       t,
		root:    root,
		varDir:  t.TempDir(),
		brokers: brokers,
	}
	pk.env = append(os.Environ(),
		"VOTESTREAM_VAR="+pk.varDir,
		"VOTESTREAM_KAFKA_PORT="+strconv.Itoa(port),
		"VOTESTREAM_KAFKA_BROKERS="+strconv.Itoa(brokers),
		"VOTESTREAM_SERVICES=local",
	)
	pk.Start()
	t.Cleanup(func() {
		if out, err := pk.run("down", "kafka"); err != nil {
			t.Logf("testenv: stop private kafka: %v\n%s", err, out)
		}
		pk.killLeft() // before TempDir's removal, which a live broker would make fail
	})
	var seeds []string
	for i := range brokers {
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", port+2*i))
	}
	pk.KafkaEnv = newKafkaEnv(t, seeds)
	return pk
}

// Kill ends broker node (1-based) with SIGKILL, as a crash would, and returns once its
// process is gone. Start brings it back with its data.
func (p *PrivateKafka) Kill(node int) {
	p.t.Helper()
	pidFile := filepath.Join(p.varDir, "kafka", "pid")
	if p.brokers > 1 {
		pidFile = filepath.Join(p.varDir, "kafka", fmt.Sprintf("node%d", node), "pid")
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		p.t.Fatalf("testenv: kill kafka node %d: %v", node, err)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
	if err != nil {
		p.t.Fatalf("testenv: kill kafka node %d: pid file %q", node, raw)
	}
	// The node runs in its own process group (setsid): the group is the java process.
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.t.Fatalf("testenv: kill kafka node %d: %v", node, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			p.t.Fatalf("testenv: kafka node %d (pid %d) still alive 30 s after SIGKILL", node, pid)
		}
		time.Sleep(50 * time.Millisecond) // polling a process's end: there is no wait for a non-child
	}
}

// killLeft ends with SIGKILL any node still alive (a stop that timed out) and waits for it.
func (p *PrivateKafka) killLeft() {
	for node := 1; node <= p.brokers; node++ {
		pidFile := filepath.Join(p.varDir, "kafka", "pid")
		if p.brokers > 1 {
			pidFile = filepath.Join(p.varDir, "kafka", fmt.Sprintf("node%d", node), "pid")
		}
		raw, err := os.ReadFile(pidFile)
		if err != nil {
			continue // stopped: the script removes the pid file
		}
		pid, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
		if err != nil || syscall.Kill(pid, 0) != nil {
			continue
		}
		syscall.Kill(-pid, syscall.SIGKILL)
		deadline := time.Now().Add(30 * time.Second)
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // polling a process's end: there is no wait for a non-child
		}
	}
}

// Start starts the broker, or every node of the cluster not running, keeping their data; it
// returns once every node answers.
func (p *PrivateKafka) Start() {
	p.t.Helper()
	if out, err := p.run("up", "kafka"); err != nil {
		p.t.Fatalf("testenv: start private kafka: %v\n%s", err, out)
	}
}

// Stop stops the broker cleanly and returns once its process has exited.
func (p *PrivateKafka) Stop() {
	p.t.Helper()
	if out, err := p.run("down", "kafka"); err != nil {
		p.t.Fatalf("testenv: stop private kafka: %v\n%s", err, out)
	}
}

func (p *PrivateKafka) run(args ...string) ([]byte, error) {
	return runServices(p.root, p.env, args...)
}

// runServices runs scripts/services of the repository at root with env (a private
// server's state folder and ports), for at most three minutes.
func runServices(root string, env []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "services"), args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// repoRoot walks up from the working directory (a package folder under test) to the
// repository's root.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		// scripts/services marks the repository's root; a nested module (dashboards/plugin)
		// has a go.mod of its own.
		if _, err := os.Stat(filepath.Join(dir, "scripts", "services")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// freePorts finds a port p such that p .. p+n-1 (brokers and their controllers) are free now.
// It looks below the kernel's ephemeral range (32768 up on Linux): a port picked there can be
// taken by any outbound connection's source port before the broker binds it, as happened.
func freePorts(n int) (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(32768-20000-n)
		var held []net.Listener
		for i := range n {
			li, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+i))
			if err != nil {
				break
			}
			held = append(held, li)
		}
		for _, h := range held {
			h.Close()
		}
		if len(held) == n {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free ports on 127.0.0.1 between 20000 and 32767", n)
}
