package deploycheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestPipelineDashboardUsesExportedMetrics: every PromQL of the pipeline-health dashboard
// reads metrics our code registers (or Prometheus' own ALERTS), matches and groups them
// only by labels they have, and queries the Prometheus data source the deployment
// provisions. Like the alert check, this reads the code's registrations, not a running
// /metrics.
func TestPipelineDashboardUsesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "dashboards", "pipeline-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					Type string `json:"type"`
					UID  string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var provisioned struct {
		Datasources []struct {
			Type string `yaml:"type"`
			UID  string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	loadYAML(t, "deploy/grafana/datasources/votestream.yaml", &provisioned)
	promUIDs := map[string]bool{}
	for _, d := range provisioned.Datasources {
		if d.Type == "prometheus" {
			promUIDs[d.UID] = true
		}
	}
	exported := exportedMetrics(t)
	grouping := regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			n++
			if tg.Datasource.Type != "prometheus" || !promUIDs[tg.Datasource.UID] {
				t.Errorf("panel %q: data source %s/%s is not a provisioned Prometheus", p.Title, tg.Datasource.Type, tg.Datasource.UID)
			}
			expr := strings.ReplaceAll(tg.Expr, "$__rate_interval", "5m")
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: a Grafana variable other than $__rate_interval in %s", p.Title, tg.Expr)
			}
			var has []string
			for metric, used := range exprMetrics(expr) {
				if metric == "ALERTS" { // Prometheus' own series of its alerts
					continue
				}
				labels, ok := exported[metric]
				if !ok {
					t.Errorf("panel %q: metric %s is exported by no code of ours", p.Title, metric)
					continue
				}
				checkLabels(t, p.Title, metric, used, labels)
				has = append(has, labels...)
			}
			for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
				for _, l := range strings.Split(g[1], ",") {
					l = strings.TrimSpace(l)
					if l != "le" && l != "job" && l != "instance" && !slices.Contains(has, l) {
						t.Errorf("panel %q: groups by %q, which none of its metrics has (%v)", p.Title, l, has)
					}
				}
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d queries on the pipeline-health dashboard", n)
	}
}
