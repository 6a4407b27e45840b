package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"gopkg.in/yaml.v3"

	"votestream/dashboards/live"
)

// TestGeneratedFilesUpToDate is the "checked as code" rule: the committed JSON is exactly
// what the builders produce.
func TestGeneratedFilesUpToDate(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		disk, err := os.ReadFile(f.Name)
		if err != nil {
			t.Errorf("%s: %v; run `go generate ./dashboards` (go run ./dashboards/cmd/gen) and commit the output", f.Name, err)
			continue
		}
		if !bytes.Equal(disk, f.Data) {
			t.Errorf("dashboards/%s differs from what the code builds: run `go generate ./dashboards` (go run ./dashboards/cmd/gen) and commit the output", f.Name)
		}
	}
}

func TestExpand(t *testing.T) {
	r := TimeRange{
		From: time.Date(2023, 5, 14, 17, 0, 0, 0, time.FixedZone("ICT", 7*3600)), // 10:00 UTC = 1684058400
		To:   time.Date(2023, 5, 14, 20, 0, 0, 0, time.FixedZone("ICT", 7*3600)), // 13:00 UTC = 1684069200
	}
	vars := map[string]string{"constituency": "BKK_1", "odd": "it's"}
	tests := []struct {
		name, sql, want string
		err             error
	}{
		{"no macros", "SELECT 1", "SELECT 1", nil},
		{"time filter", "SELECT 1 FROM t WHERE $__timeFilter(received_at)",
			"SELECT 1 FROM t WHERE received_at >= toDateTime(1684058400) AND received_at <= toDateTime(1684069200)", nil},
		{"time filter, spaces and qualified column", "WHERE $__timeFilter( s.t ) AND $__timeFilter(u)",
			"WHERE s.t >= toDateTime(1684058400) AND s.t <= toDateTime(1684069200) AND u >= toDateTime(1684058400) AND u <= toDateTime(1684069200)", nil},
		{"variable", "WHERE c = ${constituency:singlequote}", "WHERE c = 'BKK_1'", nil},
		{"quote in a value", "WHERE c = ${odd:singlequote}", `WHERE c = 'it\'s'`, nil},
		{"variable without a value", "WHERE c = ${province:singlequote}", "", ErrUnknownMacro},
		{"bare variable", "WHERE c = '$constituency'", "", ErrUnknownMacro},
		{"raw variable", "WHERE c = '${constituency}'", "", ErrUnknownMacro},
		{"unsupported macro", "SELECT $__timeInterval(t)", "", ErrUnknownMacro},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expand(tc.sql, r, vars)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestPanelsRunNamedQueries ties the built dashboards to the named queries the ClickHouse
// test runs: every target's SQL is one of them, each of them is on a panel (or the
// variable), and each expands with only the documented macros.
func TestPanelsRunNamedQueries(t *testing.T) {
	dsType, dsUID := provisionedDatasource(t)
	if dsType != DatasourceType || dsUID != DatasourceUID {
		t.Fatalf("provisioning declares %s/%s, the dashboards use %s/%s", dsType, dsUID, DatasourceType, DatasourceUID)
	}
	for _, c := range []struct {
		name    string
		build   func() (dashboard.Dashboard, error)
		queries []Query
		live    []live.Query
	}{
		{"war room", WarRoom, WarRoomQueries(), WarRoomLiveQueries()},
		{"constituency", Constituency, ConstituencyQueries(), ConstituencyLiveQueries()},
		{"anomalies", Anomalies, nil, AnomaliesLiveQueries()},
		{"field", Field, FieldQueries(), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := c.build()
			if err != nil {
				t.Fatal(err)
			}
			if d.Timezone == nil || *d.Timezone != "Asia/Bangkok" {
				t.Errorf("time zone %v, want Asia/Bangkok", d.Timezone)
			}
			var used []string
			var usedLive []live.Query
			for _, v := range d.Templating.List {
				if v.Query != nil && v.Query.String != nil {
					used = append(used, *v.Query.String)
				}
			}
			ids := map[uint32]bool{}
			for _, p := range d.Panels {
				if p.Panel == nil {
					t.Fatalf("unexpected row panel")
				}
				if p.Panel.Id == nil || ids[*p.Panel.Id] {
					t.Errorf("panel %v: missing or repeated id", p.Panel.Title)
				} else {
					ids[*p.Panel.Id] = true
				}
				if len(p.Panel.Targets) != 1 {
					t.Errorf("panel %v has %d targets, want 1", *p.Panel.Title, len(p.Panel.Targets))
				}
				for _, dq := range p.Panel.Targets {
					if lt, ok := dq.(LiveTarget); ok {
						checkLiveTarget(t, *p.Panel.Title, lt, c.live)
						usedLive = append(usedLive, lt.Query)
						continue
					}
					tg, ok := dq.(Target)
					if !ok {
						t.Fatalf("panel %v: target %T, want dashboards.Target", *p.Panel.Title, dq)
					}
					if *tg.Datasource.Uid != DatasourceUID || *tg.Datasource.Type != DatasourceType {
						t.Errorf("panel %v: data source %v/%v", *p.Panel.Title, *tg.Datasource.Type, *tg.Datasource.Uid)
					}
					q := findQuery(c.queries, tg.RawSQL)
					if q == nil {
						t.Errorf("panel %v runs SQL that is not a named query", *p.Panel.Title)
						continue
					}
					if *p.Panel.Title != q.Title || tg.Format != q.Format {
						t.Errorf("panel %v (format %d) runs query %s titled %q (format %d)", *p.Panel.Title, tg.Format, q.Name, q.Title, q.Format)
					}
					used = append(used, tg.RawSQL)
				}
			}
			for _, q := range c.live {
				if !slices.Contains(usedLive, q) {
					t.Errorf("live query %+v is on no panel", q)
				}
			}
			for _, q := range c.queries {
				if !slices.Contains(used, q.SQL) {
					t.Errorf("query %s is on no panel", q.Name)
				}
				if _, err := Expand(q.SQL, TimeRange{From: time.Unix(0, 0), To: time.Unix(1, 0)}, map[string]string{ConstituencyVariable: "X"}); err != nil {
					t.Errorf("query %s: %v", q.Name, err)
				}
			}
		})
	}
}

// checkLiveTarget: a panel on the live data source names the provisioned one, asks a query
// the plugin accepts as it stands (defaults spelt out, so the channel is canonical), and
// one of the dashboard's listed live queries.
func checkLiveTarget(t *testing.T, title string, lt LiveTarget, listed []live.Query) {
	t.Helper()
	typ, uid := provisionedLiveDatasource(t)
	if *lt.Datasource.Type != typ || *lt.Datasource.Uid != uid || typ != live.PluginID || uid != live.DatasourceUID {
		t.Errorf("panel %s: live data source %v/%v, provisioned %s/%s, plugin %s/%s", title,
			*lt.Datasource.Type, *lt.Datasource.Uid, typ, uid, live.PluginID, live.DatasourceUID)
	}
	checked := lt.Query
	if err := checked.Check(); err != nil || checked != lt.Query {
		t.Errorf("panel %s: live query %+v: %v (checked form %+v)", title, lt.Query, err, checked)
	}
	if !slices.Contains(listed, lt.Query) {
		t.Errorf("panel %s: live query %+v is not a listed live query", title, lt.Query)
	}
}

func TestLiveTargetRefusesABadQuery(t *testing.T) {
	_, err := timeseries.NewPanelBuilder().Title("bad").WithTarget(NewLiveTarget(live.Query{QueryType: live.Seats, Top: 3})).Build()
	var be cog.BuildErrors
	if !errors.As(err, &be) || len(be) != 1 || !strings.Contains(be[0].Message, "seats does not take top") {
		t.Fatalf("err %v, want one build error saying seats takes no top", err)
	}
}

// provisionedLiveDatasource reads the live data source Grafana is provisioned with.
func provisionedLiveDatasource(t *testing.T) (typ, uid string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "datasources", "votestream-live.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Datasources []struct {
			Type     string `yaml:"type"`
			UID      string `yaml:"uid"`
			JSONData struct {
				Brokers string `yaml:"brokers"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Datasources) != 1 || doc.Datasources[0].JSONData.Brokers == "" {
		t.Fatalf("votestream-live.yaml: want one data source with brokers, got %+v", doc.Datasources)
	}
	return doc.Datasources[0].Type, doc.Datasources[0].UID
}

func TestTargetWithoutSQLFailsTheBuild(t *testing.T) {
	_, err := table.NewPanelBuilder().Title("empty").WithTarget(NewTarget(Query{Format: FormatTable})).Build()
	var be cog.BuildErrors
	if !errors.As(err, &be) || len(be) != 1 || be[0].Message != ErrEmptySQL.Error() {
		t.Fatalf("err %v, want one build error saying %q", err, ErrEmptySQL)
	}
}

func findQuery(qs []Query, sql string) *Query {
	for i := range qs {
		if qs[i].SQL == sql {
			return &qs[i]
		}
	}
	return nil
}

// provisionedDatasource reads the data source Grafana is provisioned with.
func provisionedDatasource(t *testing.T) (typ, uid string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("provisioning", "datasources", "clickhouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Datasources []struct {
			Type string `yaml:"type"`
			UID  string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Datasources) != 1 {
		t.Fatalf("%d provisioned data sources, want 1", len(doc.Datasources))
	}
	return doc.Datasources[0].Type, doc.Datasources[0].UID
}

// TestComposeMountsDashboardsAndPlugin: Grafana in docker-compose.yml sees every generated
// dashboard (mounted one by one) and runs the image of the Dockerfile's grafana stage, which
// builds the plugin with build.sh (as `make plugin` does) into Grafana's plugins path, outside
// the data volume, and allows it unsigned by its id.
func TestComposeMountsDashboardsAndPlugin(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Build       any               `yaml:"build"` // "." or {context, target}
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	g, ok := doc.Services["grafana"]
	if !ok {
		t.Fatal("docker-compose.yml has no grafana service")
	}
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		want := "./dashboards/" + f.Name + ":/var/lib/grafana/dashboards/votestream/" + f.Name + ":ro"
		if !slices.Contains(g.Volumes, want) {
			t.Errorf("grafana volumes %v: missing %s", g.Volumes, want)
		}
	}
	for _, v := range g.Volumes {
		if strings.Contains(v, "/plugins") {
			t.Errorf("grafana volume %s: the plugin comes with the image, a mount would hide it", v)
		}
	}
	if b, ok := g.Build.(map[string]any); !ok || b["context"] != "." || b["target"] != "grafana" {
		t.Errorf("grafana build %v: want context . target grafana", g.Build)
	}
	if !slices.Contains(strings.Split(g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"], ","), live.PluginID) {
		t.Errorf("GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS = %q: want %s allowed", g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"], live.PluginID)
	}

	stages := dockerStages(t)
	if len(stages) == 0 || stages[len(stages)-1].name == "grafana" || stages[len(stages)-1].name == "plugin" {
		t.Fatalf("Dockerfile stages %v: the roles' image must stay last (compose's plain `build: .`)", stages)
	}
	body := map[string]string{}
	for _, st := range stages {
		body[st.name] = st.body
	}
	const pluginsPath = "/var/lib/grafana-plugins"
	for stage, wants := range map[string][]string{
		"plugin": {"dashboards/plugin/build.sh /out/" + live.PluginID + " "},
		"grafana": {
			"GF_PATHS_PLUGINS=" + pluginsPath,
			"GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=" + live.PluginID,
			"COPY --from=plugin --chown=472:0 /out/" + live.PluginID + " " + pluginsPath + "/" + live.PluginID + "\n",
		},
	} {
		b, ok := body[stage]
		if !ok {
			t.Errorf("Dockerfile has no stage %s", stage)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(b, w) {
				t.Errorf("Dockerfile stage %s lacks %q", stage, w)
			}
		}
	}
	if !strings.HasPrefix(body["grafana"], "FROM grafana/grafana-oss:") {
		t.Errorf("Dockerfile stage grafana is not built on grafana-oss: %.60s", body["grafana"])
	}
}

type dockerStage struct{ name, body string }

// dockerStages splits the Dockerfile at its FROM lines, naming each stage by its AS.
func dockerStages(t *testing.T) []dockerStage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerStage
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if strings.HasPrefix(line, "FROM ") {
			f := strings.Fields(line)
			name := ""
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				name = f[3]
			}
			out = append(out, dockerStage{name: name})
		}
		if len(out) > 0 {
			out[len(out)-1].body += line
		}
	}
	return out
}

// TestPipelinePanels: every pipeline-health panel runs one listed PromQL query, under its
// title, on the Prometheus data source; every listed query is on a panel.
func TestPipelinePanels(t *testing.T) {
	d, err := Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if p.Panel == nil || len(p.Panel.Targets) != 1 {
			t.Fatalf("panel %+v: want one panel with one target", p)
		}
		raw, err := json.Marshal(p.Panel.Targets[0])
		if err != nil {
			t.Fatal(err)
		}
		var tg struct {
			Expr       string
			Datasource struct{ Type, UID string }
		}
		if err := json.Unmarshal(raw, &tg); err != nil {
			t.Fatal(err)
		}
		if tg.Datasource.Type != PrometheusType || tg.Datasource.UID != PrometheusUID {
			t.Errorf("panel %s: data source %+v", *p.Panel.Title, tg.Datasource)
		}
		i := slices.IndexFunc(PipelineQueries(), func(q PromQuery) bool { return q.Expr == tg.Expr })
		if i < 0 || PipelineQueries()[i].Title != *p.Panel.Title {
			t.Errorf("panel %s runs %q, not its listed query", *p.Panel.Title, tg.Expr)
			continue
		}
		used[tg.Expr] = true
	}
	for _, q := range PipelineQueries() {
		if !used[q.Expr] {
			t.Errorf("query %q is on no panel", q.Title)
		}
	}
}

// TestStationLinksIntoTheConsole: the open anomalies' station ids open the review console's
// station page, at the address of a dashboard variable whose default is the console's own
// default, on the route the console's page reads (console/web/app.js).
func TestStationLinksIntoTheConsole(t *testing.T) {
	d, err := Anomalies()
	if err != nil {
		t.Fatal(err)
	}
	var def string
	for _, v := range d.Templating.List {
		if v.Name == ConsoleVariable && v.Query != nil && v.Query.String != nil {
			def = *v.Query.String
		}
	}
	if def != DefaultConsoleURL {
		t.Errorf("variable %s defaults to %q, want %q", ConsoleVariable, def, DefaultConsoleURL)
	}
	raw, err := os.ReadFile(filepath.Join("..", "console", "web", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `location.hash.match(/^#\/station\/(.+)$/)`) {
		t.Error(`console/web/app.js no longer routes #/station/<id>: fix consoleLink`)
	}
	link, _ := json.Marshal(consoleLink().Value)
	if !strings.Contains(string(link), `"url":"${console}/#/station/${__value.raw}"`) {
		t.Errorf("console link %s", link)
	}
	var linked bool
	for _, p := range d.Panels {
		for _, o := range p.Panel.FieldConfig.Overrides {
			for _, prop := range o.Properties {
				if m, _ := json.Marshal(o.Matcher); strings.Contains(string(m), `"options":"station_id"`) && prop.Id == "links" {
					linked = true
				}
			}
		}
	}
	if !linked {
		t.Error("no panel links station_id")
	}
}
