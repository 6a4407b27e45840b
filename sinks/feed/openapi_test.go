package feed

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"votestream/schemas"
)

// apiDoc is the part of openapi.json the tests read.
type apiDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]any `json:"schemas"`
		Responses map[string]any `json:"responses"`
	} `json:"components"`
}

func loadAPIDoc(t *testing.T) apiDoc {
	t.Helper()
	var doc apiDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	return doc
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadAPIDoc(t)
	routed := map[string]bool{}
	for _, ep := range endpoints {
		routed[ep.pattern] = true
		ops, ok := doc.Paths[ep.pattern]
		if _, get := ops["get"]; !ok || !get {
			t.Errorf("route GET %s is not documented", ep.pattern)
		}
	}
	for path, ops := range doc.Paths {
		if !routed[path] {
			t.Errorf("documented %s is not routed", path)
		}
		for method := range ops {
			if method != "get" {
				t.Errorf("documented %s %s: the feed serves GET (and HEAD) only", method, path)
			}
		}
	}
	var codes []string
	for c := range codeStatus {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var documented []string
	for _, c := range doc.Components.Schemas["Error"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)["enum"].([]any) {
		documented = append(documented, c.(string))
	}
	slices.Sort(documented)
	if !slices.Equal(codes, documented) {
		t.Errorf("error codes in code %v\ndocumented %v", codes, documented)
	}
}

// TestOpenAPIMatchesAnswers checks the real answers of every endpoint, refusals included,
// against the schemas openapi.json gives for their status.
func TestOpenAPIMatchesAnswers(t *testing.T) {
	doc := loadAPIDoc(t)
	clock := newFakeClock(pollsClose.Add(-time.Hour))
	f := newTestFeed(t, func(c *Config) { c.Now, c.PollsClose, c.RateBurst = clock.Now, pollsClose, 1000 })
	f.markReady()
	srv := serve(t, f)
	check := func(path, key string, wantStatus int) {
		t.Helper()
		resp, body := get(t, srv.URL+path, key)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s: %d, want %d: %s", path, resp.StatusCode, wantStatus, body)
		}
		route := path
		if i := strings.IndexByte(route, '?'); i >= 0 {
			route = route[:i]
		}
		for _, ep := range endpoints {
			if pat := ep.pattern; pat == route || strings.HasSuffix(pat, "/{id}") && strings.HasPrefix(route, strings.TrimSuffix(pat, "{id}")) {
				route = pat
			}
		}
		schema := doc.responseSchema(t, route, resp.StatusCode)
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: not JSON: %v", path, err)
		}
		if err := doc.validate(schema, v, "$"); err != nil {
			t.Errorf("%s (%d) does not match its schema: %v\n%s", path, resp.StatusCode, err, body)
		}
	}
	results := []string{"/v1/feed/summary", "/v1/feed/parties", "/v1/feed/constituencies", "/v1/feed/constituencies?province=CMI",
		"/v1/feed/constituencies/BKK_1", "/v1/feed/stations/BKK_1_001", "/v1/feed/stations/CMI_1_002",
		"/v1/feed/regions", "/v1/feed/provinces", "/v1/feed/provinces/CMI", "/v1/feed/changes"}
	for _, p := range results {
		check(p, keyNation, 403) // before polls close
	}
	clock.Set(pollsClose)
	for _, p := range results { // nothing reported yet: the nulls must be allowed
		check(p, keyNation, 200)
	}
	f.applyResult(res("BKK_1_001", cons, 1, corr, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 1))
	f.applyResult(res("BKK_1_002", cons, 2, disp, fin, 400, 4, 6, map[string]int{"1": 100}, 2))
	f.applyResult(res("CMI_1_001", pl, 1, verif, prog, 600, 10, 5, map[string]int{"29": 400, "31": 150, "7": 35}, 3))
	f.applyEstimate(estimate("e1", 3, 4, proj("BKK_1", 2, 0.8, schemas.CallLikely)))
	for _, p := range results {
		check(p, keyNation, 200)
	}
	// The change cursor: its start answer, a page with a result, an estimate and a
	// withdrawal, and its refusals.
	var start ChangesAnswer
	_, body := get(t, srv.URL+"/v1/feed/changes", keyNation)
	if err := json.Unmarshal(body, &start); err != nil {
		t.Fatal(err)
	}
	check("/v1/feed/changes", keyNation, 200)
	f.applyResult(res("BKK_1_002", cons, 3, prov, fin, 400, 4, 6, map[string]int{"1": 100}, 5))
	f.applyEstimate(estimate("e2", 5, 6, proj("BKK_1", 1, 0.6, schemas.CallLeading)))
	f.applyInputs([]input{{tombstone: [2]string{"CMI_1_001", pl}}})
	check("/v1/feed/changes?since="+start.NextCursor, keyNation, 200)
	check("/v1/feed/changes?since=nope", keyNation, 400)
	check("/v1/feed/changes?since=0badc0de-1", keyNation, 410)
	check("/v1/feed/summary", "", 401)
	check("/v1/feed/stations/NOPE", keyNation, 404)
	check("/v1/feed/provinces/NOPE", keyNation, 404)
	check("/v1/feed/constituencies?province=XYZ", keyNation, 400)
	check("/healthz", "", 200)
	check("/readyz", "", 200)
	check("/openapi.json", "", 200)
}

// responseSchema finds the JSON schema documented for route's GET answer of status.
func (d apiDoc) responseSchema(t *testing.T, route string, status int) any {
	t.Helper()
	var op struct {
		Responses map[string]any `json:"responses"`
	}
	if err := json.Unmarshal(d.Paths[route]["get"], &op); err != nil {
		t.Fatalf("%s: %v", route, err)
	}
	r, ok := op.Responses[fmt.Sprint(status)].(map[string]any)
	if !ok {
		t.Fatalf("GET %s: status %d not documented", route, status)
	}
	if ref, ok := r["$ref"].(string); ok {
		r = d.Components.Responses[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
	}
	content, _ := r["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		t.Fatalf("GET %s %d: no application/json schema", route, status)
	}
	return media["schema"]
}

// validate checks v against the subset of JSON Schema openapi.json uses: $ref, allOf,
// oneOf, type, const, enum, required, properties, items, additionalProperties.
func (d apiDoc) validate(schema any, v any, at string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: bad schema %v", at, schema)
	}
	if ref, ok := s["$ref"].(string); ok {
		return d.validate(d.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")], v, at)
	}
	for _, sub := range asList(s["allOf"]) {
		if err := d.validate(sub, v, at); err != nil {
			return err
		}
	}
	if one := asList(s["oneOf"]); len(one) > 0 {
		var errs []string
		for _, sub := range one {
			if err := d.validate(sub, v, at); err == nil {
				errs = nil
				break
			} else {
				errs = append(errs, err.Error())
			}
		}
		if errs != nil {
			return fmt.Errorf("%s: matches no oneOf: %s", at, strings.Join(errs, "; "))
		}
	}
	if c, ok := s["const"]; ok && c != v {
		return fmt.Errorf("%s: %v, want %v", at, v, c)
	}
	if enum, ok := s["enum"]; ok && !slices.Contains(asList(enum), v) {
		return fmt.Errorf("%s: %v not in %v", at, v, enum)
	}
	if typ, ok := s["type"]; ok {
		types := asList(typ)
		if len(types) == 0 {
			types = []any{typ}
		}
		if !slices.ContainsFunc(types, func(t any) bool { return hasType(v, t.(string)) }) {
			return fmt.Errorf("%s: %T %v is not %v", at, v, v, typ)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		for _, k := range asList(s["required"]) {
			if _, ok := obj[k.(string)]; !ok {
				return fmt.Errorf("%s: no %q", at, k)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, pv := range obj {
			if ps, ok := props[k]; ok {
				if err := d.validate(ps, pv, at+"."+k); err != nil {
					return err
				}
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				if err := d.validate(ap, pv, at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	if arr, ok := v.([]any); ok && s["items"] != nil {
		for i, item := range arr {
			if err := d.validate(s["items"], item, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

func hasType(v any, typ string) bool {
	switch typ {
	case "null":
		return v == nil
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == float64(int64(n))
	}
	return false
}

func TestOpenAPIServed(t *testing.T) {
	f := newTestFeed(t, nil) // not ready, and under no embargo check: the document is always there
	srv := serve(t, f)
	resp, body := get(t, srv.URL+"/openapi.json", "")
	if resp.StatusCode != http.StatusOK || !json.Valid(body) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s", resp.StatusCode, resp.Header)
	}
}

// TestOpenAPIValidatorRefuses: the checker above can fail, so its silence means something.
func TestOpenAPIValidatorRefuses(t *testing.T) {
	doc := loadAPIDoc(t)
	summary := map[string]any{"$ref": "#/components/schemas/SummaryAnswer"}
	f := newTestFeed(t, nil)
	f.markReady()
	var good map[string]any
	if err := json.Unmarshal([]byte(mustJSON(t, f.view.Summary())), &good); err != nil {
		t.Fatal(err)
	}
	if err := doc.validate(summary, good, "$"); err != nil {
		t.Fatalf("a real summary refused: %v", err)
	}
	for name, mutate := range map[string]func(m map[string]any){
		"official":       func(m map[string]any) { m["unofficial"] = false },
		"no attribution": func(m map[string]any) { delete(m, "attribution") },
		"version string": func(m map[string]any) { m["version"] = "7" },
		"turnout text":   func(m map[string]any) { m["counted"].(map[string]any)["partylist"].(map[string]any)["turnout"] = "x" },
		"estimate array": func(m map[string]any) { m["estimate"] = []any{} },
	} {
		var bad map[string]any
		_ = json.Unmarshal([]byte(mustJSON(t, good)), &bad)
		mutate(bad)
		if err := doc.validate(summary, bad, "$"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
