package deploycheck

import (
	"bytes"
	"encoding/xml"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type prometheusConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

// prometheusTargets maps each job of deploy/prometheus.yml to its targets (host:port).
func prometheusTargets(t *testing.T) map[string][]string {
	t.Helper()
	var cfg prometheusConfig
	loadYAML(t, "deploy/prometheus.yml", &cfg)
	out := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			out[sc.JobName] = append(out[sc.JobName], s.Targets...)
		}
		for _, d := range sc.DNSSDConfigs {
			for _, n := range d.Names {
				out[sc.JobName] = append(out[sc.JobName], n+":"+strconv.Itoa(d.Port))
			}
		}
	}
	return out
}

func prometheusJobs(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for j := range prometheusTargets(t) {
		out[j] = true
	}
	return out
}

// TestDeployFilesParse: every YAML and XML file of the deployment is well-formed, and YAML
// has no key twice (yaml.v3 refuses duplicates into a node tree).
func TestDeployFilesParse(t *testing.T) {
	files := []string{"docker-compose.yml"}
	err := filepath.WalkDir(filepath.Join(root, "deploy"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	parsed := 0
	for _, rel := range files {
		raw, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(rel) {
		case ".yml", ".yaml":
			var n yaml.Node
			if err := yaml.Unmarshal(raw, &n); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
			parsed++
		case ".xml":
			dec := xml.NewDecoder(bytes.NewReader(raw))
			for {
				if _, err := dec.Token(); err != nil {
					if err.Error() != "EOF" {
						t.Errorf("%s: %v", rel, err)
					}
					break
				}
			}
			parsed++
		}
	}
	if parsed < 8 {
		t.Errorf("parsed only %d deployment files of %v", parsed, files)
	}
}

// TestPrometheusScrapesEveryRole: each long-running role of docker-compose.yml is scraped on
// the port its command line serves metrics on, and the exporters' services exist.
func TestPrometheusScrapesEveryRole(t *testing.T) {
	var compose composeFile
	loadYAML(t, "docker-compose.yml", &compose)
	targets := prometheusTargets(t)
	for _, role := range longRunningRoles {
		svc, ok := compose.Services[role]
		if !ok {
			t.Errorf("docker-compose.yml has no service %s", role)
			continue
		}
		addr := flagValue(svc.Command, "--metrics")
		if role == "ingest" {
			addr = flagValue(svc.Command, "--listen") // ingest serves /metrics on its listener
		}
		if addr == "" || !strings.HasPrefix(addr, ":") {
			t.Errorf("%s: metrics on %q; want \":PORT\" (all interfaces), or Prometheus cannot reach it", role, addr)
			continue
		}
		want := role + addr
		if got := targets[role]; len(got) != 1 || got[0] != want {
			t.Errorf("prometheus.yml job %s scrapes %v, want %s", role, got, want)
		}
	}
	for job, svc := range map[string]string{"clickhouse": "clickhouse", "node": "node-exporter"} {
		if len(targets[job]) == 0 {
			t.Errorf("prometheus.yml has no job %s", job)
		}
		if _, ok := compose.Services[svc]; !ok {
			t.Errorf("docker-compose.yml has no service %s for job %s", svc, job)
		}
	}
	prom := compose.Services["prometheus"]
	for _, f := range []string{"./deploy/prometheus.yml", "./deploy/alerts.yml"} {
		if !strings.Contains(strings.Join(prom.Volumes, " "), f+":") {
			t.Errorf("the prometheus service does not mount %s", f)
		}
	}
}

// TestComposeRestartsRoles: every long-running service restarts on failure; the one-shot
// init and migrate do not.
func TestComposeRestartsRoles(t *testing.T) {
	var compose composeFile
	loadYAML(t, "docker-compose.yml", &compose)
	for name, svc := range compose.Services {
		oneShot := name == "init" || name == "migrate"
		switch {
		case oneShot && svc.Restart != "no":
			t.Errorf("%s: restart %q, want \"no\" (it runs once)", name, svc.Restart)
		case !oneShot && svc.Restart != "unless-stopped" && svc.Restart != "always" && svc.Restart != "on-failure":
			t.Errorf("%s: restart %q, want it restarted on failure", name, svc.Restart)
		}
	}
}

// tool finds a validation tool; without it the test skips, unless the services are required
// (make test, CI), where scripts/test installs it and its absence is a failure.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("VOTESTREAM_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s not found: apt-get install %s (scripts/test does)", name, pkg)
	}
	t.Skipf("%s not found (apt-get install %s); scripts/test installs it", name, pkg)
	return ""
}

func runTool(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// TestPromtool: Prometheus's own checker accepts the configuration and the rules, and the
// rules pass their unit tests (deploy/alerts_test.yml).
func TestPromtool(t *testing.T) {
	p := tool(t, "promtool", "prometheus")
	dir := filepath.Join(root, "deploy")
	runTool(t, dir, nil, p, "check", "config", "prometheus.yml")
	runTool(t, dir, nil, p, "check", "rules", "alerts.yml")
	runTool(t, dir, nil, p, "test", "rules", "alerts_test.yml")
}

// TestAlertmanagerConfig: amtool accepts deploy/alertmanager.yml. Debian's amtool (0.25)
// predates webhook url_file (Alertmanager 0.26; compose runs 0.28): the copy it checks has a
// url in its place, everything else as written.
func TestAlertmanagerConfig(t *testing.T) {
	a := tool(t, "amtool", "prometheus-alertmanager")
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("url_file: /import/alert-webhook-url")) {
		t.Fatal("alertmanager.yml does not read its webhook from /import/alert-webhook-url")
	}
	cp := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(cp, bytes.ReplaceAll(raw, []byte("url_file: /import/alert-webhook-url"), []byte("url: https://chat.example.org/hook")), 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, "", nil, a, "check-config", cp)
}

// TestCaddyfile: Caddy accepts the proxy's configuration with the host names of
// deploy/env.example, and the file keeps /metrics private.
func TestCaddyfile(t *testing.T) {
	c := tool(t, "caddy", "caddy")
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "env.example"))
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(raw), "\n") {
		k, _, ok := strings.Cut(line, "=")
		if ok && (strings.HasSuffix(k, "_HOST") || k == "VOTESTREAM_ACME_EMAIL") {
			env = append(env, line)
		}
	}
	if len(env) < 7 {
		t.Fatalf("env.example names %d hosts and the ACME e-mail, want 6 and 1: %v", len(env), env)
	}
	runTool(t, filepath.Join(root, "deploy"), env, c, "validate", "--adapter", "caddyfile", "--config", "Caddyfile")
	caddyfile, err := os.ReadFile(filepath.Join(root, "deploy", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"@metrics path /metrics", "respond @metrics 404", "{$VOTESTREAM_INGEST_HOST}", "{$VOTESTREAM_FEED_HOST}", "{$VOTESTREAM_CONSOLE_HOST}", "{$VOTESTREAM_REVIEW_HOST}", "reverse_proxy console:8070", "flush_interval -1"} {
		if !bytes.Contains(caddyfile, []byte(want)) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
}

// TestEveryRoleWatched: the alerts that watch processes (down, memory) name every
// long-running role of docker-compose.yml, so a role added there is not silently unwatched.
func TestEveryRoleWatched(t *testing.T) {
	var rules ruleFile
	loadYAML(t, "deploy/alerts.yml", &rules)
	exprs := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs[r.Alert] = r.Expr
		}
	}
	for _, alert := range []string{"VotestreamRoleDown", "VotestreamProcessMemoryHigh"} {
		m := regexp.MustCompile(`job=~"([^"]+)"`).FindStringSubmatch(exprs[alert])
		if m == nil {
			t.Errorf("%s does not select jobs by job=~: %q", alert, exprs[alert])
			continue
		}
		jobs := strings.Split(m[1], "|")
		for _, role := range longRunningRoles {
			if !slices.Contains(jobs, role) {
				t.Errorf("%s does not watch role %s (jobs %v)", alert, role, jobs)
			}
		}
	}
}

// TestPublicRolesBehindTLS: every role that serves people (ingest, the feed, the review
// console, the transparency log) is reached through Caddy on its own host name, at the port
// its compose command line listens on; nothing else of theirs is published.
func TestPublicRolesBehindTLS(t *testing.T) {
	var compose composeFile
	loadYAML(t, "docker-compose.yml", &compose)
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	caddyfile := string(raw)
	proxy := compose.Services["proxy"]
	for role, host := range map[string]string{"ingest": "INGEST", "feed": "FEED", "console": "REVIEW", "evidencelog": "LOG"} {
		svc := compose.Services[role]
		listen := flagValue(svc.Command, "--listen")
		port, ok := strings.CutPrefix(listen, ":")
		if !ok {
			t.Errorf("%s listens on %q; want :PORT for the proxy to reach it", role, listen)
			continue
		}
		site := "{$VOTESTREAM_" + host + "_HOST} {"
		i := strings.Index(caddyfile, site)
		if i < 0 {
			t.Errorf("Caddyfile has no site %s for %s", site, role)
			continue
		}
		block := caddyfile[i:]
		if j := strings.Index(block[len(site):], "\n{$"); j >= 0 {
			block = block[:len(site)+j]
		}
		if !strings.Contains(block, "reverse_proxy "+role+":"+port) && !strings.Contains(block, "dynamic a "+role+" "+port) {
			t.Errorf("Caddyfile site %s does not proxy to %s:%s:\n%s", site, role, port, block)
		}
		if _, ok := proxy.Environment["VOTESTREAM_"+host+"_HOST"]; !ok {
			t.Errorf("the proxy service is not given VOTESTREAM_%s_HOST", host)
		}
		if _, ok := proxy.DependsOn[role]; !ok {
			t.Errorf("the proxy does not depend on %s", role)
		}
		if len(svc.Ports) > 0 {
			t.Errorf("%s publishes %v itself; public roles go through the proxy", role, svc.Ports)
		}
	}
}
