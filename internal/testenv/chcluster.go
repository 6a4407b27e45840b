package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ZooKeeperJar is Debian's ZooKeeper (apt-get install zookeeper; scripts/test installs it):
// the Keeper of the ClickHouse cluster test, since Debian's ClickHouse (18.16) predates
// ClickHouse Keeper.
const ZooKeeperJar = "/usr/share/java/zookeeper.jar"

// ClickHouseCluster is a replicated ClickHouse cluster of one test's own on loopback: a
// ZooKeeper and Replicas servers forming cluster Name (one shard, macros {shard} = 01 and
// {replica} = r1, r2, ...), each with its own data folder, all stopped when the test ends.
type ClickHouseCluster struct {
	Name  string
	Addrs []string // each replica's native host:port
	Logs  []string // each replica's error log
}

// OwnClickHouseCluster starts a cluster of replicas servers. Without ZooKeeper or
// clickhouse-server it skips, or fails where the services are required (make test).
func OwnClickHouseCluster(t testing.TB, replicas int) *ClickHouseCluster {
	t.Helper()
	service(t, EnvClickHouse) // same skip/require rule as the shared server
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("testenv: java not found (scripts/services installs it for Kafka): %v", err)
	}
	if _, err := os.Stat(ZooKeeperJar); err != nil {
		if os.Getenv(EnvRequireServices) == "1" {
			t.Fatalf("testenv: %s absent: apt-get install zookeeper (scripts/test does)", ZooKeeperJar)
		}
		t.Skipf("testenv: %s absent: apt-get install zookeeper", ZooKeeperJar)
	}
	server := "/usr/sbin/clickhouse-server"
	if _, err := os.Stat(server); err != nil {
		if server, err = exec.LookPath("clickhouse-server"); err != nil {
			t.Fatalf("testenv: clickhouse-server not found (scripts/services installs it)")
		}
	}
	dir := t.TempDir()
	zkPort, err := freePorts(1)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	zk := startOwned(t, filepath.Join(dir, "zookeeper.log"), java, "-Xmx256m",
		"-cp", "/etc/zookeeper/conf:"+ZooKeeperJar, "org.apache.zookeeper.server.ZooKeeperServerMain",
		fmt.Sprint(zkPort), filepath.Join(dir, "zookeeper"))
	waitZooKeeper(t, fmt.Sprintf("127.0.0.1:%d", zkPort), zk)

	c := &ClickHouseCluster{Name: "votestream_test"}
	base, err := freePorts(3 * replicas) // native, HTTP and interserver per replica
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	var hosts strings.Builder
	for i := range replicas {
		fmt.Fprintf(&hosts, "<replica><host>127.0.0.1</host><port>%d</port></replica>", base+3*i)
	}
	for i := range replicas {
		native, httpPort, inter := base+3*i, base+3*i+1, base+3*i+2
		d := filepath.Join(dir, fmt.Sprintf("r%d", i+1))
		for _, sub := range []string{"data", "tmp", "logs", "user_files"} {
			if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		config := fmt.Sprintf(clusterServerConfig, d, native, httpPort, inter, zkPort, c.Name, hosts.String(), i+1)
		if err := os.WriteFile(filepath.Join(d, "config.xml"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "users.xml"), []byte(clusterUsers), 0o644); err != nil {
			t.Fatal(err)
		}
		p := startOwned(t, filepath.Join(d, "logs", "stdout.log"), server, "--config-file="+filepath.Join(d, "config.xml"))
		waitHTTP(t, fmt.Sprintf("clickhouse replica %d", i+1), fmt.Sprintf("http://127.0.0.1:%d/ping", httpPort), p)
		c.Addrs = append(c.Addrs, fmt.Sprintf("127.0.0.1:%d", native))
		c.Logs = append(c.Logs, filepath.Join(d, "logs", "error.log"))
	}
	return c
}

// Conn opens a connection to replica i (from 0), closed when the test ends.
func (c *ClickHouseCluster) Conn(t testing.TB, i int) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{c.Addrs[i]}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("testenv: clickhouse %s: %v", c.Addrs[i], err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// startOwned starts a process of the test's own, its output in logFile, killed (and waited
// for) when the test ends.
func startOwned(t testing.TB, logFile, name string, args ...string) *exec.Cmd {
	t.Helper()
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("testenv: start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		out.Close()
	})
	return cmd
}

// exitedEarly reports a started process that has already exited, with its log.
func exitedEarly(cmd *exec.Cmd) bool {
	return cmd.Process.Signal(syscall.Signal(0)) != nil
}

// waitZooKeeper waits until ZooKeeper serves (its "srvr" answer names its mode): an open port
// alone is not enough, and a ClickHouse 18.16 whose first handshake fails crashes later.
func waitZooKeeper(t testing.TB, addr string, cmd *exec.Cmd) {
	t.Helper()
	waitUntil(t, "zookeeper", cmd, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("srvr")); err != nil {
			return false
		}
		b, _ := io.ReadAll(c)
		return bytes.Contains(b, []byte("Mode: standalone"))
	})
}

func waitHTTP(t testing.TB, what, url string, cmd *exec.Cmd) {
	t.Helper()
	waitUntil(t, what, cmd, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode == http.StatusOK
	})
}

// waitUntil polls ready every 200 ms for a minute (a separate process's state).
func waitUntil(t testing.TB, what string, cmd *exec.Cmd, ready func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		if exitedEarly(cmd) {
			t.Fatalf("testenv: %s exited before it was ready (%v)", what, cmd.Args)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: %s not ready after a minute (%v)", what, cmd.Args)
		case <-tick.C:
		}
	}
}

// clusterServerConfig: scripts/services' server, with ZooKeeper, the cluster, its macros and
// the distributed DDL queue. Arguments: folder, native, HTTP and interserver ports, ZooKeeper
// port, cluster name, its replicas, this replica's number.
const clusterServerConfig = `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/logs/server.log</log><errorlog>%[1]s/logs/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <interserver_http_port>%[4]d</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>256</max_connections>
  <max_concurrent_queries>50</max_concurrent_queries>
  <mark_cache_size>67108864</mark_cache_size>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <zookeeper><node><host>127.0.0.1</host><port>%[5]d</port></node></zookeeper>
  <remote_servers><%[6]s><shard><internal_replication>true</internal_replication>%[7]s</shard></%[6]s></remote_servers>
  <macros><shard>01</shard><replica>r%[8]d</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
`

const clusterUsers = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`

// LogTail is the end of replica i's error log and output, for a failure message.
func (c *ClickHouseCluster) LogTail(i int) string {
	var out strings.Builder
	for _, f := range []string{c.Logs[i], filepath.Join(filepath.Dir(c.Logs[i]), "stdout.log")} {
		b, _ := os.ReadFile(f)
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		fmt.Fprintf(&out, "--- %s\n%s", f, b)
	}
	return out.String()
}
