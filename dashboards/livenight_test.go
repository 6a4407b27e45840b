package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"votestream/internal/testenv"
)

// EnvLiveNight turns on TestDashboardsOnALiveNight (`make dashboards-check`): minutes of a
// whole pipeline and a Prometheus server, too long for `make test`.
const EnvLiveNight = "VOTESTREAM_DASHBOARDS_CHECK"

// TestDashboardsOnALiveNight runs what Grafana would ask of a real deployment, short of
// Grafana itself (no Grafana server can be had on the development machine): `votestream up`
// replays a simulated night through every role on the real Kafka and ClickHouse; Debian's
// Prometheus scrapes the roles' live /metrics with deploy/alerts.yml loaded, plus a dead
// target named like a role so that an alert of alerts.yml is pending; then every
// pipeline-health query runs through Prometheus' HTTP API, every alert rule must evaluate
// without error, and every ClickHouse panel's SQL runs on the night's database.
func TestDashboardsOnALiveNight(t *testing.T) {
	if os.Getenv(EnvLiveNight) != "1" {
		t.Skipf("set %s=1 (make dashboards-check): minutes of a simulated night and a Prometheus server", EnvLiveNight)
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (apt-get install prometheus): %v", err)
	}
	kafka := testenv.Kafka(t)
	ch := testenv.ClickHouse(t)
	dir := t.TempDir()

	bin := testenv.VotestreamBinary(t)
	metrics := testenv.FreeAddr(t)
	upLog := &testenv.LogBuffer{}
	up := exec.Command(bin, "up",
		"--kafka", strings.Join(kafka.Seeds, ","), "--topic-prefix", kafka.Prefix,
		"--clickhouse", ch.Addr, "--database", ch.Database,
		"--data", filepath.Join(dir, "up"), "--simulate", "--sim-scale", "0.02", "--sim-speed", "600",
		"--listen", testenv.FreeAddr(t), "--feed-listen", testenv.FreeAddr(t),
		"--console-listen", testenv.FreeAddr(t), "--log-listen", testenv.FreeAddr(t),
		"--metrics", metrics, "--memory-limit", "1GiB")
	testenv.StartCommand(t, up, "votestream up", upLog)

	// Prometheus as deploy/prometheus.yml runs it, at a 5 s pace (a scrape asks Kafka for
	// the consumer lag, which takes seconds on a loaded machine): the roles under one job
	// (one process here), and a job named like a role whose target does not answer.
	dead := testenv.FreeAddr(t) // nothing listens there
	rules, err := os.ReadFile(filepath.Join("..", "deploy", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global: {scrape_interval: 5s, scrape_timeout: 5s, evaluation_interval: 5s}
rule_files: [alerts.yml]
scrape_configs:
  - job_name: votestream
    static_configs: [{targets: [%q]}]
  - job_name: evidencelog
    static_configs: [{targets: [%q]}]
`, metrics, dead)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := testenv.FreeAddr(t)
	promLog := &testenv.LogBuffer{}
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	testenv.StartCommand(t, prom, "prometheus", promLog)
	p := promClient{base: "http://" + promAddr}

	// The night is flowing once the feed has published an estimate and the sink has written
	// rows, as Prometheus sees them.
	t.Cleanup(func() {
		if t.Failed() {
			var targets any
			_ = p.get("/api/v1/targets", nil, &targets)
			t.Logf("Prometheus targets: %v", targets)
		}
	})
	testenv.WaitFor(t, "an estimate at the feed and sink rows in Prometheus", 4*time.Minute, func() bool {
		a, errA := p.query("max(votestream_feed_estimate_data_time_seconds) > 0")
		b, errB := p.query("sum(votestream_sink_rows_total) > 0")
		return errA == nil && errB == nil && len(a) > 0 && len(b) > 0
	})
	testenv.WaitFor(t, "the dead target's alert pending", 2*time.Minute, func() bool {
		r, err := p.query(`ALERTS{alertname="VotestreamRoleDown",job="evidencelog"}`)
		return err == nil && len(r) > 0
	})

	t.Run("pipeline health on Prometheus", func(t *testing.T) {
		// What may be empty on a clean night: no failed insert, no dead letter.
		mayBeEmpty := map[string]string{
			SinkInsertErrors.Title: "no insert failed",
			DeadLetters.Title:      "no dead letter",
		}
		for _, q := range PipelineQueries() {
			// Grafana's $__rate_interval is at least four scrape intervals: 30 s keeps six
			// samples in every window.
			expr := strings.ReplaceAll(q.Expr, "$__rate_interval", "30s")
			res, err := p.query(expr)
			if err != nil {
				t.Errorf("panel %q: %v\n%s", q.Title, err, expr)
				continue
			}
			var labels []string
			for _, r := range res {
				labels = append(labels, fmt.Sprint(r.Metric))
			}
			t.Logf("panel %q: %d series %s", q.Title, len(res), strings.Join(labels, " "))
			if len(res) == 0 && mayBeEmpty[q.Title] == "" {
				t.Errorf("panel %q: no series on a live night\n%s", q.Title, expr)
			}
		}
		// The alerts panel shows alerts.yml's rules: the dead "evidencelog" target's alert.
		res, err := p.query(FiringAlerts.Expr)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range res {
			found = found || (r.Metric["alertname"] == "VotestreamRoleDown" && r.Metric["job"] == "evidencelog" &&
				r.Metric["severity"] == "critical" && r.Metric["alertstate"] != "")
		}
		if !found {
			t.Errorf("alerts panel: %v, want VotestreamRoleDown for job evidencelog", res)
		}
	})

	t.Run("alert rules evaluate", func(t *testing.T) {
		var doc struct {
			Groups []struct {
				Name  string
				Rules []struct {
					Name, Health, LastError, Type string
				}
			}
		}
		if err := p.get("/api/v1/rules", nil, &doc); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				n++
				if r.Health != "ok" || r.LastError != "" {
					t.Errorf("rule %s/%s: health %q, error %q", g.Name, r.Name, r.Health, r.LastError)
				}
			}
		}
		want := strings.Count(string(rules), "- alert:")
		if n != want {
			t.Errorf("Prometheus holds %d rules, alerts.yml has %d", n, want)
		}
		t.Logf("%d alert rules evaluated on the live night without error", n)
	})

	t.Run("ClickHouse panels on the night's database", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// The sink writes in batches: wait for the latest estimate's constituencies.
		testenv.WaitFor(t, "the estimate's constituencies in ClickHouse", 2*time.Minute, func() bool {
			rows, err := ch.Conn.Query(ctx, "SELECT count() FROM estimate_constituencies_latest")
			if err != nil {
				return false
			}
			defer rows.Close()
			var n uint64
			return rows.Next() && rows.Scan(&n) == nil && n > 0
		})
		list := queryRows(t, ctx, ch.Conn, ConstituencyList.SQL)
		if len(list) == 0 {
			t.Fatal("no constituency in the night's database")
		}
		// The night is stamped with the simulated election day: a range wide enough for any.
		r := TimeRange{From: time.Now().AddDate(-2, 0, 0), To: time.Now().AddDate(2, 0, 0)}
		vars := map[string]string{ConstituencyVariable: list[0][0]}
		mustHaveRows := map[string]bool{
			StationsReported.Name: true, StationsByStatus.Name: true, ConstituencyProjection.Name: true,
			ConstituencyCandidates.Name: true, ConstituencyStations.Name: true,
		}
		for _, q := range append(append(WarRoomQueries(), ConstituencyQueries()...), FieldQueries()...) {
			sql, err := Expand(q.SQL, r, vars)
			if err != nil {
				t.Fatal(err)
			}
			rows := queryRows(t, ctx, ch.Conn, sql)
			t.Logf("query %s: %d rows", q.Name, len(rows))
			if mustHaveRows[q.Name] && len(rows) == 0 {
				t.Errorf("query %s: no rows on a live night", q.Name)
			}
		}
	})
}

// promClient asks a Prometheus server's HTTP API.
type promClient struct{ base string }

type promSample struct {
	Metric map[string]string `json:"metric"`
}

// query runs an instant query and returns its series; a Prometheus error is an error.
func (p promClient) query(expr string) ([]promSample, error) {
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", data.ResultType)
	}
	return data.Result, nil
}

func (p promClient) get(path string, q url.Values, into any) error {
	u := p.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: HTTP %d: %w", path, resp.StatusCode, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s: %s", path, env.ErrorType, env.Error)
	}
	return json.Unmarshal(env.Data, into)
}
