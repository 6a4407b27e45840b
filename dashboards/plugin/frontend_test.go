package plugin

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"votestream/dashboards/live"
	"votestream/schemas"
)

// TestPluginJSON checks the manifest Grafana reads against what the back end is: the id
// the binary registers under, the executable the Makefile builds, a streaming back end,
// and the fields Grafana's plugin.json schema requires.
func TestPluginJSON(t *testing.T) {
	raw, err := os.ReadFile("src/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Type, Name, ID, Executable, Category string
		Backend, Streaming, Metrics          bool
		Info                                 struct {
			Keywords []string
			Logos    struct{ Small, Large string }
			Version  string
			Updated  string
		}
		Dependencies struct{ GrafanaDependency string }
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("plugin.json: %v", err)
	}
	if m.Type != "datasource" || m.ID != live.PluginID || !regexp.MustCompile(`^[0-9a-z]+-([0-9a-z]+-)?datasource$`).MatchString(m.ID) {
		t.Errorf("type %q id %q: want a datasource with id %q in Grafana's id form", m.Type, m.ID, live.PluginID)
	}
	if !m.Backend || !m.Streaming || !m.Metrics {
		t.Errorf("backend %v streaming %v metrics %v: all must be true", m.Backend, m.Streaming, m.Metrics)
	}
	if _, err := os.Stat(filepath.Join("cmd", m.Executable, "main.go")); err != nil {
		t.Errorf("executable %q is not a command under cmd/: %v", m.Executable, err)
	}
	if m.Name == "" || len(m.Info.Keywords) == 0 || m.Dependencies.GrafanaDependency == "" ||
		!regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(m.Info.Version) ||
		!regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(m.Info.Updated) {
		t.Errorf("plugin.json misses a field Grafana's schema requires: %+v", m)
	}
	for _, logo := range []string{m.Info.Logos.Small, m.Info.Logos.Large} {
		if _, err := os.Stat(filepath.Join("src", logo)); err != nil {
			t.Errorf("logo %q: %v", logo, err)
		}
	}
}

// TestFrontEndContract: the query editor offers exactly the query types and parameter
// values package live accepts.
func TestFrontEndContract(t *testing.T) {
	js, err := os.ReadFile("src/module.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)/\* contract \*/(.*)/\* end contract \*/`).FindSubmatch(js)
	if m == nil {
		t.Fatal("module.js: no /* contract */ ... /* end contract */ literal")
	}
	var got struct {
		QueryTypes []live.QueryType
		Params     map[live.QueryType][]string
		GroupBys   []live.GroupBy
		Severities []schemas.Severity
		Codes      []string
		Calls      []schemas.CallState
	}
	if err := json.Unmarshal(m[1], &got); err != nil {
		t.Fatalf("module.js contract is not JSON: %v", err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"queryTypes", got.QueryTypes, live.QueryTypes},
		{"params", got.Params, live.Params},
		{"groupBys", got.GroupBys, live.GroupBys},
		{"severities", got.Severities, live.Severities},
		{"codes", got.Codes, schemas.AnomalyCodes},
		{"calls", got.Calls, schemas.CallStates},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("module.js %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestFrontEndModule loads module.js in node with stand-ins for Grafana's packages: it
// must define a DataSourcePlugin with both editors, keep only the parameters a query type
// takes, and stream tables by replacing and time series by appending.
func TestFrontEndModule(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the module's syntax and behaviour are not checked here")
	}
	script := `
const fs = require('fs');
let mod;
global.define = (deps, factory) => {
  if (JSON.stringify(deps) !== JSON.stringify(['react', '@grafana/data', '@grafana/runtime', '@grafana/ui'])) throw new Error('deps ' + deps);
  class DataSourcePlugin { constructor(ds) { this.ds = ds; } setConfigEditor(c) { this.config = c; return this; } setQueryEditor(q) { this.query = q; return this; } }
  class DataSourceWithBackend { constructor(s) { this.settings = s; this.streamOptionsProvider = null; } }
  mod = factory({ createElement: (type, props, ...children) => ({ type, props, children }) }, { DataSourcePlugin }, { DataSourceWithBackend, getTemplateSrv: () => ({ replace: (v) => v.replace('$c', 'C1') }) },
    { InlineField: 'InlineField', InlineFieldRow: 'InlineFieldRow', Select: 'Select', Input: 'Input', InlineSwitch: 'InlineSwitch', SecretInput: 'SecretInput' });
};
eval(fs.readFileSync('src/module.js', 'utf8'));
const p = mod.plugin, t = mod._test;
const ds = new p.ds({ uid: 'x' });
const labels = (el) => !el || typeof el !== 'object' ? [] : (el.type === 'InlineField' ? [el.props.label] : []).concat(...(el.children || []).map(labels));
let changed = null;
const editor = (q) => labels(p.query({ query: q, onChange: (n) => { changed = n; }, onRunQuery: () => {} }));
const counts = editor({ queryType: 'anomaly_counts', groupBy: 'age' });
const seatsEditor = editor({ queryType: 'seats' });
const config = labels(p.config({ options: { jsonData: {}, secureJsonFields: { saslPassword: true } }, onOptionsChange: () => {} }));
const out = {
  editors: typeof p.config === 'function' && typeof p.query === 'function',
  streamSet: ds.streamOptionsProvider === t.streamOptions,
  defaultQuery: ds.getDefaultQuery(),
  filterBad: ds.filterQuery({ queryType: 'nope' }), filterHidden: ds.filterQuery({ queryType: 'seats', hide: true }),
  templated: ds.applyTemplateVariables({ queryType: 'anomalies', constituency: '$c' }, {}),
  cleanSeats: t.clean({ queryType: 'seats', top: 3, code: 'ARITH', refId: 'A' }),
  cleanShares: t.clean({ queryType: 'shares', top: 0, severity: 'hard' }),
  cleanCounts: t.clean({ queryType: 'anomaly_counts', groupBy: 'age', code: '', severity: 'hard', call: 'called' }),
  countsEditor: counts, seatsEditor: seatsEditor, config: config,
  replace: t.streamOptions({ maxDataPoints: 10 }, { meta: { custom: { live: 'replace' } } }).action,
  append: t.streamOptions({ maxDataPoints: 10, rangeRaw: { to: 'now' }, range: { from: 1000, to: 4000 } }, { meta: { custom: { live: 'append' } } }),
};
console.log(JSON.stringify(out));
`
	cmd := exec.Command(node, "-e", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("node output %s: %v", stdout, err)
	}
	want := map[string]string{
		"editors":      `true`,
		"streamSet":    `true`,
		"defaultQuery": `{"queryType":"parties"}`,
		"filterBad":    `false`,
		"filterHidden": `false`,
		"templated":    `{"constituency":"C1","queryType":"anomalies"}`,
		"cleanSeats":   `{"queryType":"seats","refId":"A"}`,
		"cleanShares":  `{"queryType":"shares"}`,
		"cleanCounts":  `{"groupBy":"age","queryType":"anomaly_counts","severity":"hard"}`,
		"countsEditor": `["Query","Group by","Code","Severity","Constituency"]`,
		"seatsEditor":  `["Query"]`,
		"config":       `["Kafka brokers","Topic prefix","Reference data","Estimates kept","Anomaly refresh (s)","TLS","SASL","SASL user","SASL password"]`,
		"replace":      `"replace"`,
		"append":       `{"action":"append","maxDelta":3000,"maxLength":20000}`,
	}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		if string(g) != w {
			t.Errorf("module.js %s = %s, want %s", k, g, w)
		}
	}
	if strings.TrimSpace(stderr.String()) != "" {
		t.Errorf("node wrote to stderr: %s", stderr.String())
	}
}
