package testenv

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// PrivateClickHouse is a ClickHouse server of one test's own, started by scripts/services
// on free ports with its data in a temporary folder, so the test may stop and restart it
// (outage tests) without disturbing the shared server.
type PrivateClickHouse struct {
	*ClickHouseEnv
	t    testing.TB
	root string
	env  []string
	vars string // its VOTESTREAM_VAR
}

// UsersDir returns the server's users.d folder, whose XML files it merges into its users.
func (p *PrivateClickHouse) UsersDir() string { return p.vars + "/clickhouse/users.d" }

// OwnClickHouse starts a private server for t, with a fresh database on it, and stops it
// when the test ends. It needs Debian's clickhouse-server (scripts/services installs it),
// and skips or fails like ClickHouse when the shared services are absent.
func OwnClickHouse(t testing.TB) *PrivateClickHouse {
	t.Helper()
	service(t, EnvClickHouse) // same skip/require rule as the shared server
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	native, err := freePorts(2) // native and HTTP
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	vars := t.TempDir()
	pc := &PrivateClickHouse{t: t, root: root, vars: vars, env: append(os.Environ(),
		"VOTESTREAM_VAR="+vars,
		"VOTESTREAM_CH_PORT="+strconv.Itoa(native),
		"VOTESTREAM_CH_HTTP_PORT="+strconv.Itoa(native+1),
		"VOTESTREAM_SERVICES=local",
	)}
	pc.Start()
	t.Cleanup(func() { _, _ = runServices(pc.root, pc.env, "down", "clickhouse") })
	pc.ClickHouseEnv = newClickHouseEnv(t, fmt.Sprintf("127.0.0.1:%d", native))
	return pc
}

// Start starts the server (again), keeping its data; it returns once the server answers.
func (p *PrivateClickHouse) Start() {
	p.t.Helper()
	if out, err := runServices(p.root, p.env, "up", "clickhouse"); err != nil {
		p.t.Fatalf("testenv: start private clickhouse: %v\n%s", err, out)
	}
}

// Stop stops the server and returns once its process has exited.
func (p *PrivateClickHouse) Stop() {
	p.t.Helper()
	if out, err := runServices(p.root, p.env, "down", "clickhouse"); err != nil {
		p.t.Fatalf("testenv: stop private clickhouse: %v\n%s", err, out)
	}
}
