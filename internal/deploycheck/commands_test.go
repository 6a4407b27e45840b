package deploycheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"votestream/internal/testenv"
)

// longRunningRoles are the compose services that run a votestream role until stopped.
var longRunningRoles = []string{"ingest", "consolidate", "estimate", "sink", "feed", "console", "evidencelog"}

// flagValue returns the value after flag in a command line, or "".
func flagValue(cmd []string, flag string) string {
	for i, a := range cmd {
		if a == flag && i+1 < len(cmd) {
			return cmd[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// composeVar is compose's ${VAR}, ${VAR:-default} or ${VAR:?message}.
var composeVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)(:-([^}]*)|:\?[^}]*)?\}`)

// resolve does compose's interpolation with the values of deploy/env.example, as an
// operator's .env would give them; a variable it does not name takes the default, and a
// required one it does not name fails the test (env.example must show every one).
func resolve(t *testing.T, s string) string {
	t.Helper()
	example := envExample(t)
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := composeVar.FindStringSubmatch(m)
		if v, ok := example[sub[1]]; ok {
			return v
		}
		if strings.HasPrefix(sub[2], ":?") {
			t.Errorf("docker-compose.yml requires %s, which deploy/env.example does not show", sub[1])
		}
		return sub[3]
	})
}

func envExample(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "env.example"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}

// deployHost stands for the host's view of one compose deployment: the state and evidence
// volumes are folders, the services are the ones scripts/services started.
type deployHost struct {
	bin, state, evidence, logDir, importDir string
	kafka                                   *testenv.KafkaEnv
	adm                                     *kadm.Client
	ch                                      *testenv.ClickHouseEnv
}

// roleEnv is the compose service's environment with the addresses, credentials and names
// of this machine's services in place of the compose network's; every other variable as
// written. A VOTESTREAM_ variable this test does not know fails it, so a new one gets a
// thought here.
func (h *deployHost) roleEnv(t *testing.T, name string, svc composeService) []string {
	t.Helper()
	// The topics and consumer groups under the test's prefix: the broker is shared.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"VOTESTREAM_TOPIC_PREFIX=" + h.kafka.Prefix, "VOTESTREAM_GROUP=" + h.kafka.Prefix + name}
	for k, v := range svc.Environment {
		switch k {
		case "VOTESTREAM_KAFKA":
			v = strings.Join(h.kafka.Seeds, ",")
		case "VOTESTREAM_CLICKHOUSE":
			v = h.ch.Addr
		case "VOTESTREAM_CLICKHOUSE_USER":
			v = "default" // scripts/services' ClickHouse has no votestream user
		case "VOTESTREAM_CLICKHOUSE_PASSWORD":
			v = ""
		case "VOTESTREAM_NEWSROOM_PASSWORD":
			// The feed's shared newsroom user (its SQL embargo); 18.16 here has no SQL
			// access management, so the feed logs that and serves on.
			v = "newsroom-" + h.kafka.Prefix
		case "VOTESTREAM_DATABASE":
			v = h.ch.Database
		case "TZ", "GOMEMLIMIT":
			v = resolve(t, v)
		default:
			t.Fatalf("service %s: environment %s=%s: this test does not know how to run it here", name, k, v)
		}
		env = append(env, k+"="+v)
	}
	return env
}

// roleArgs is the compose command line with the volumes' paths on this machine and each
// ":PORT" listener on a free loopback port; it returns the addresses it chose by flag.
func (h *deployHost) roleArgs(t *testing.T, cmd []string) ([]string, map[string]string) {
	t.Helper()
	args := make([]string, len(cmd))
	addrs := map[string]string{}
	for i, a := range cmd {
		a = resolve(t, a)
		a = strings.ReplaceAll(a, "/var/lib/votestream-evidence", h.evidence)
		a = strings.ReplaceAll(a, "/var/lib/votestream-log", h.logDir)
		a = strings.ReplaceAll(a, "/var/lib/votestream", h.state)
		if i > 0 && regexp.MustCompile(`^:\d+$`).MatchString(a) {
			a = freeAddr(t)
			addrs[cmd[i-1]] = a
		}
		args[i] = a
	}
	return args, addrs
}

func freeAddr(t *testing.T) string { return testenv.FreeAddr(t) }

// TestComposeCommandsRunHere runs what docker-compose.yml runs, on this machine: the init
// service's script (twice: it must be idempotent), migrate, and each long-running role with
// its exact command line, until the role says it serves (its readiness or metrics); then it
// stops the role with SIGTERM, as Docker does, and wants a clean exit. A wrong flag, a
// missing file or reference data, a port Prometheus cannot reach: each fails here, without
// Docker.
func TestComposeCommandsRunHere(t *testing.T) {
	kafka := testenv.Kafka(t)
	ch := testenv.ClickHouse(t)
	var compose composeFile
	loadYAML(t, "docker-compose.yml", &compose)
	tmp := t.TempDir()
	h := &deployHost{
		bin: filepath.Join(tmp, "bin", "votestream"), state: filepath.Join(tmp, "state"),
		evidence: filepath.Join(tmp, "evidence"), logDir: filepath.Join(tmp, "log"), importDir: filepath.Join(tmp, "import"),
		kafka: kafka, adm: kafka.Admin(t), ch: ch,
	}
	build := exec.Command("go", "build", "-o", h.bin, "./cmd/votestream")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, d := range []string{h.evidence, h.logDir, h.importDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("init", func(t *testing.T) { h.runInit(t, compose.Services["init"]) })
	if t.Failed() {
		return
	}
	t.Run("migrate", func(t *testing.T) {
		svc := compose.Services["migrate"]
		args, _ := h.roleArgs(t, svc.Command)
		cmd := exec.Command(h.bin, args...)
		cmd.Env = h.roleEnv(t, "migrate", svc)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("migrate %v: %v\n%s", args, err, out)
		}
	})
	for _, role := range longRunningRoles {
		t.Run(role, func(t *testing.T) { h.runRole(t, role, compose.Services[role]) })
	}
}

// runInit runs deploy/init.sh as the init service would, twice, and once without reference
// data to see it refuse.
func (h *deployHost) runInit(t *testing.T, svc composeService) {
	if len(svc.Command) != 1 || svc.Command[0] != "/usr/local/bin/votestream-init" {
		t.Fatalf("init runs %v; this test knows /usr/local/bin/votestream-init (deploy/init.sh, Dockerfile stage init)", svc.Command)
	}
	run := func(extra ...string) ([]byte, error) {
		cmd := exec.Command("sh", filepath.Join(root, "deploy", "init.sh"))
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "VOTESTREAM_BIN=" + h.bin,
			"VOTESTREAM_HOME=" + h.state, "VOTESTREAM_IMPORT=" + h.importDir, "VOTESTREAM_EVIDENCE=" + h.evidence,
			"VOTESTREAM_LOG_DIR=" + h.logDir, "VOTESTREAM_RUN_AS="}
		for k, v := range svc.Environment {
			cmd.Env = append(cmd.Env, k+"="+resolve(t, v))
		}
		cmd.Env = append(cmd.Env, extra...)
		return cmd.CombinedOutput()
	}
	if out, err := run(); err == nil || !strings.Contains(string(out), "no reference data: put the night's") {
		t.Errorf("init without reference data: %v\n%s\nwant a refusal naming deploy/import/ref", err, out)
	}
	newsrooms := "VOTESTREAM_NEWSROOMS=Thai PBS, ไทยรัฐ"
	staffCSV := "id,role,constituency,name\r\nwr-1,war_room,,สมศรี ใจดี, ห้องปฏิบัติการ\r\ndesk-1,desk,,Desk One\r\n"
	if err := os.WriteFile(filepath.Join(h.importDir, "staff.csv"), []byte(staffCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run("VOTESTREAM_DEMO_COUNTRY=1", newsrooms); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(h.state, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	keys, newsroomKeys, logKey, staffFile := read("keys"), read("newsroom-keys"), read("log.key"), read("staff.json")
	for _, id := range []string{"wr-1", "desk-1"} {
		if login := read("staff-logins/" + id + ".txt"); !strings.Contains(login, "token: vt") || !strings.Contains(login, "otpauth://") {
			t.Errorf("staff-logins/%s.txt has no token and otpauth URI:\n%s", id, login)
		}
		if fi, err := os.Stat(filepath.Join(h.state, "staff-logins", id+".png")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("staff-logins/%s.png: %v, want a file of mode 0600", id, err)
		}
	}
	if !strings.Contains(staffFile, "สมศรี ใจดี, ห้องปฏิบัติการ") {
		t.Errorf("staff.json lacks the war room member's whole name:\n%s", staffFile)
	}
	if !strings.Contains(read("log.key.pub"), "log.example.org/log") {
		t.Errorf("log.key.pub does not name the origin of env.example:\n%s", read("log.key.pub"))
	}
	if !strings.Contains(read("ref/stations.csv"), "station_id") {
		t.Error("init wrote no ref/stations.csv")
	}
	for _, n := range []string{" Thai PBS\n", " ไทยรัฐ\n"} {
		if strings.Count(newsroomKeys, n) != 1 {
			t.Errorf("newsroom-keys has %q %d times, want once:\n%s", n, strings.Count(newsroomKeys, n), newsroomKeys)
		}
	}
	if out, err := run(newsrooms); err != nil {
		t.Fatalf("init again: %v\n%s", err, out)
	}
	if read("keys") != keys || read("newsroom-keys") != newsroomKeys || read("log.key") != logKey || read("staff.json") != staffFile {
		t.Error("a second init changed the token keys, the newsroom keys, the log's key or the staff's authenticator secrets")
	}
}

// ready says whether the role, at the addresses it was given, serves: ingest's readiness,
// the feed's caught-up gauge, consolidate and sink a member of their consumer group.
func (h *deployHost) ready(role string, addrs map[string]string) bool {
	get := func(url string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if role == "ingest" || role == "console" {
		code, _ := get("http://" + addrs["--listen"] + "/readyz")
		return code == http.StatusOK
	}
	code, metrics := get("http://" + addrs["--metrics"] + "/metrics")
	if code != http.StatusOK {
		return false
	}
	switch role {
	case "consolidate", "sink":
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		groups, err := h.adm.DescribeGroups(ctx, h.kafka.Prefix+role)
		if err != nil {
			return false
		}
		g, ok := groups[h.kafka.Prefix+role]
		return ok && g.State == "Stable" && len(g.Members) == 1 && strings.Contains(metrics, "\nvotestream_kafka_reachable 1\n")
	case "feed":
		return strings.Contains(metrics, "\nvotestream_feed_ready 1\n")
	default:
		return strings.Contains(metrics, "votestream_"+role+"_")
	}
}

func (h *deployHost) runRole(t *testing.T, role string, svc composeService) {
	args, addrs := h.roleArgs(t, svc.Command)
	if args[0] != role {
		t.Fatalf("service %s runs %q", role, args[0])
	}
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.roleEnv(t, role, svc)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	deadline := time.After(90 * time.Second)
	poll := time.NewTicker(200 * time.Millisecond) // polling a separate process's HTTP answer
	defer poll.Stop()
	for !h.ready(role, addrs) {
		select {
		case err := <-exited:
			t.Fatalf("%s %v exited before serving: %v\n%s", role, args, err, out.String())
		case <-deadline:
			t.Fatalf("%s %v does not serve after 90 s\n%s", role, args, out.String())
		case <-poll.C:
		}
	}
	if role == "console" {
		h.signIn(t, addrs["--listen"])
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Errorf("%s exited %d on SIGTERM, want 0\n%s", role, ee.ExitCode(), out.String())
		} else if err != nil {
			t.Error(err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s still runs 30 s after SIGTERM\n%s", role, out.String())
	}
}

// signIn signs the war room member init enrolled in to the console at addr, with the token
// init wrote to staff-logins/ and the authenticator code of the enrolment file: the keys
// init made and the console's command line fit together.
func (h *deployHost) signIn(t *testing.T, addr string) {
	t.Helper()
	login, err := os.ReadFile(filepath.Join(h.state, "staff-logins", "wr-1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var tok string
	for _, line := range strings.Split(string(login), "\n") {
		if v, ok := strings.CutPrefix(line, "token: "); ok {
			tok = v
		}
	}
	code, err := exec.Command(h.bin, "staff", "code", "wr-1", "--staff", filepath.Join(h.state, "staff.json")).Output()
	if err != nil {
		t.Fatalf("staff code wr-1: %v", err)
	}
	body, _ := json.Marshal(map[string]string{"token": tok, "code": strings.TrimSpace(string(code))})
	resp, err := http.Post("http://"+addr+"/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"war_room"`) {
		t.Errorf("console sign-in of wr-1 with init's token: %d %s, want 200 as war_room", resp.StatusCode, b)
	}
	// Behind the proxy the request is plain HTTP, yet the browser's session cookie must only
	// ever travel over TLS.
	if cs := resp.Cookies(); len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly {
		t.Errorf("console session cookies %v: want one, Secure and HttpOnly", cs)
	}
}
