package deploycheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gopkg.in/yaml.v3"
)

// root is the repository, from this package's folder.
var root = filepath.Join("..", "..")

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// metricLabels maps a metric name to its label names.
type metricLabels map[string][]string

// exportedMetrics reads every non-test Go file of the repository for the metrics the code
// registers: prometheus.New* calls with an Opts literal (Namespace, Subsystem, Name as string
// literals) and their label list, and prometheus.NewDesc with a literal name. Histograms and
// summaries add their _bucket/_sum/_count series.
func exportedMetrics(t *testing.T) metricLabels {
	t.Helper()
	out := metricLabels{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "var" || d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !isIdent(sel.X, "prometheus") || !strings.HasPrefix(sel.Sel.Name, "New") || len(call.Args) == 0 {
				return true
			}
			if sel.Sel.Name == "NewDesc" {
				if name, ok := stringLit(call.Args[0]); ok && len(call.Args) >= 3 {
					out[name] = stringList(call.Args[2])
				}
				return true
			}
			opts, kind := optsLiteral(call.Args[0])
			if opts == nil {
				return true
			}
			var ns, sub, name string
			for _, e := range opts.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				v, _ := stringLit(kv.Value)
				switch {
				case isIdent(kv.Key, "Namespace"):
					ns = v
				case isIdent(kv.Key, "Subsystem"):
					sub = v
				case isIdent(kv.Key, "Name"):
					name = v
				}
			}
			if name == "" {
				return true
			}
			fq := prometheus.BuildFQName(ns, sub, name)
			var labels []string
			if len(call.Args) >= 2 {
				labels = stringList(call.Args[1])
			}
			out[fq] = labels
			switch kind {
			case "HistogramOpts":
				out[fq+"_bucket"] = append(slices.Clone(labels), "le")
				out[fq+"_sum"], out[fq+"_count"] = labels, labels
			case "SummaryOpts":
				out[fq] = append(slices.Clone(labels), "quantile")
				out[fq+"_sum"], out[fq+"_count"] = labels, labels
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every role's registry has the Go runtime and process collectors (cmd/votestream's
	// newRegistry): their names come from the collectors themselves.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		out[mf.GetName()] = nil
	}
	return out
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

func stringList(e ast.Expr) []string {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil
	}
	var out []string
	for _, el := range cl.Elts {
		if s, ok := stringLit(el); ok {
			out = append(out, s)
		}
	}
	return out
}

func optsLiteral(e ast.Expr) (*ast.CompositeLit, string) {
	if u, ok := e.(*ast.UnaryExpr); ok {
		e = u.X
	}
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, ""
	}
	sel, ok := cl.Type.(*ast.SelectorExpr)
	if !ok || !isIdent(sel.X, "prometheus") || !strings.HasSuffix(sel.Sel.Name, "Opts") {
		return nil, ""
	}
	return cl, sel.Sel.Name
}

// externalMetrics are the series of the exporters docker-compose.yml runs beside the roles,
// which no code of ours exports: each is allowed only when its exporter's service and scrape
// job exist. Names and labels as node_exporter's filesystem and meminfo collectors and
// Prometheus itself (up) document them.
var externalMetrics = map[string]struct {
	service, job string
	labels       []string
}{
	"node_filesystem_avail_bytes":    {"node-exporter", "node", []string{"device", "fstype", "mountpoint"}},
	"node_filesystem_size_bytes":     {"node-exporter", "node", []string{"device", "fstype", "mountpoint"}},
	"node_memory_MemAvailable_bytes": {"node-exporter", "node", nil},
	"node_memory_MemTotal_bytes":     {"node-exporter", "node", nil},
	"up":                             {"", "", nil},
}

var (
	selectorRE   = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}`)
	matcherRE    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	groupingRE   = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	stringRE     = regexp.MustCompile(`"(\\.|[^"\\])*"`)
	rangeRE      = regexp.MustCompile(`\[[^\]]*\]`)
	numberRE     = regexp.MustCompile(`\b\d+(\.\d+)?([eE][+-]?\d+)?\b`)
	identRE      = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promqlKeywds = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
)

// exprMetrics returns the metric names a PromQL expression selects, each with the label
// names its matchers use. It knows PromQL only as far as our rules use it: selectors,
// functions, aggregations with by/on, binary operators, ranges and numbers.
func exprMetrics(expr string) map[string][]string {
	out := map[string][]string{}
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range matcherRE.FindAllStringSubmatch(stringRE.ReplaceAllString(m[2], `""`), -1) {
			out[m[1]] = append(out[m[1]], l[1])
		}
	}
	rest := stringRE.ReplaceAllString(expr, `""`)
	rest = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(rest, " ")
	rest = groupingRE.ReplaceAllString(rest, " ")
	rest = rangeRE.ReplaceAllString(rest, " ")
	rest = numberRE.ReplaceAllString(rest, " ")
	for _, id := range identRE.FindAllString(rest, -1) {
		if strings.HasSuffix(id, "(") || slices.Contains(promqlKeywds, id) {
			continue // a function or aggregation, or a keyword
		}
		if _, ok := out[id]; !ok {
			out[id] = nil
		}
	}
	return out
}

func TestExprMetrics(t *testing.T) {
	got := exprMetrics(`sum by (job) (rate(a_total{code=~"5..", route!="x{y}"}[5m])) / on (job) sum(rate(b_total[5m])) > 1.5e9 and up == 0`)
	want := map[string][]string{"a_total": {"code", "route"}, "b_total": nil, "up": nil}
	if len(got) != len(want) {
		t.Fatalf("exprMetrics = %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("exprMetrics[%s] = %v, want %v", k, got[k], v)
		}
	}
}

// anchors are the GitHub anchors of a Markdown file's headings.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	strip := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		out[strings.ReplaceAll(strip.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return out
}

func loadYAML(t *testing.T, rel string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// TestAlertsUseExportedMetrics: every alert has a severity, a summary and a runbook entry
// that exists in docs/operations.md, and every metric it reads is exported by our code (with
// the labels it matches on) or by an exporter the deployment runs and scrapes.
func TestAlertsUseExportedMetrics(t *testing.T) {
	var rules ruleFile
	loadYAML(t, "deploy/alerts.yml", &rules)
	var compose composeFile
	loadYAML(t, "docker-compose.yml", &compose)
	jobs := prometheusJobs(t)
	ops, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	runbook := anchors(string(ops))
	exported := exportedMetrics(t)
	for _, m := range []string{"votestream_kafka_consumer_lag_records", "votestream_ingest_requests_total", "process_resident_memory_bytes"} {
		if _, ok := exported[m]; !ok {
			t.Fatalf("the scan of the code misses %s: the scan is broken", m)
		}
	}

	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("group %s: a rule without alert or expr: %+v", g.Name, r)
				continue
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			want := "docs/operations.md#" + strings.ToLower(r.Alert)
			if r.Annotations["runbook"] != want {
				t.Errorf("%s: runbook %q, want %q", r.Alert, r.Annotations["runbook"], want)
			} else if !runbook[strings.ToLower(r.Alert)] {
				t.Errorf("%s: docs/operations.md has no heading %q for its runbook", r.Alert, r.Alert)
			}
			for metric, used := range exprMetrics(r.Expr) {
				if ext, ok := externalMetrics[metric]; ok {
					if ext.service != "" {
						if _, ok := compose.Services[ext.service]; !ok {
							t.Errorf("%s: reads %s, but docker-compose.yml runs no %s", r.Alert, metric, ext.service)
						}
						if !jobs[ext.job] {
							t.Errorf("%s: reads %s, but prometheus.yml has no job %s", r.Alert, metric, ext.job)
						}
					}
					checkLabels(t, r.Alert, metric, used, ext.labels)
					continue
				}
				labels, ok := exported[metric]
				if !ok {
					t.Errorf("%s: metric %s is exported by no code of ours and no exporter of the deployment", r.Alert, metric)
					continue
				}
				checkLabels(t, r.Alert, metric, used, labels)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d rules in deploy/alerts.yml", n)
	}
}

func checkLabels(t *testing.T, alert, metric string, used, has []string) {
	t.Helper()
	for _, l := range used {
		if l != "job" && l != "instance" && !slices.Contains(has, l) { // job, instance: added by the scrape
			t.Errorf("%s: matches %s on label %q, which it does not have (it has %v)", alert, metric, l, has)
		}
	}
}

// TestAlertsCoverTheIssue: the alerts the night needs exist (issue 14: consumer lag, refusal
// and error rates, a dependency away, disk, memory, the estimate stale, dead letters).
func TestAlertsCoverTheIssue(t *testing.T) {
	var rules ruleFile
	loadYAML(t, "deploy/alerts.yml", &rules)
	have := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			have[r.Alert] = r.Expr
		}
	}
	for _, need := range []struct{ alert, metric string }{
		{"VotestreamConsumerLagHigh", "votestream_kafka_consumer_lag_records"},
		{"VotestreamDeadLetters", "votestream_consolidate_dead_letters_total"},
		{"VotestreamDeadLetters", "votestream_sink_dead_letters_total"},
		{"VotestreamIngestErrors", `code=~"5.."`},
		{"VotestreamIngestThrottling", `code="429"`},
		{"VotestreamIngestRefusals", "votestream_ingest_items_total"},
		{"VotestreamKafkaUnreachable", "votestream_kafka_reachable"},
		{"VotestreamClickHouseDown", `up{job="clickhouse"}`},
		{"VotestreamRoleDown", "up{"},
		{"VotestreamDiskFilling", "node_filesystem_avail_bytes"},
		{"VotestreamMemoryLow", "node_memory_MemAvailable_bytes"},
		{"VotestreamEstimateStale", "votestream_estimate_published_total"},
	} {
		if !strings.Contains(have[need.alert], need.metric) {
			t.Errorf("alert %s missing or not reading %s", need.alert, need.metric)
		}
	}
}
