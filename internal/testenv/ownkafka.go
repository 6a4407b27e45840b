package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// PrivateKafka is a Kafka broker of one test's own, started by scripts/services with its
// state in a temporary folder, so the test may stop and restart it (fault tests) without
// disturbing the shared broker other tests use.
type PrivateKafka struct {
	*KafkaEnv
	services
}

// services runs scripts/services for one test's private servers, with their own state
// folder and ports in env.
type services struct {
	t    testing.TB
	root string
	env  []string
}

// OwnKafka starts a private single-node broker for t, with the project's topics created,
// and stops it when the test ends. It needs the same set-up as Kafka (Java and the cached
// jars that `scripts/services up` fetched), and skips or fails like Kafka when the shared
// services are absent.
func OwnKafka(t testing.TB) *PrivateKafka {
	t.Helper()
	service(t, EnvKafka) // same skip/require rule as the shared broker
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	port, err := freePortPair()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	pk := &PrivateKafka{services: services{
		t:    t,
		root: root,
		env: append(os.Environ(),
			"VOTESTREAM_VAR="+t.TempDir(),
			"VOTESTREAM_KAFKA_PORT="+strconv.Itoa(port),
			"VOTESTREAM_SERVICES=local",
		),
	}}
	pk.Start()
	t.Cleanup(func() { pk.run("down", "kafka") })
	pk.KafkaEnv = newKafkaEnv(t, []string{fmt.Sprintf("127.0.0.1:%d", port)})
	return pk
}

// Start starts the broker (again), keeping its data; it returns once the broker answers.
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

func (p *services) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(p.root, "scripts", "services"), args...)
	cmd.Env = p.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// repoRoot walks up from the working directory (a package folder under test) to go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// freePortPair finds a port p such that p and p+1 (the controller) are free now.
func freePortPair() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free pair of ports on 127.0.0.1")
}
