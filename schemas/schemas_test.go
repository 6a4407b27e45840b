package schemas_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"votestream/schemas"
)

// Go -> JSON -> Go gives back the same value, for every message type.
func TestRoundTrip(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			b, err := json.Marshal(s.value)
			if err != nil {
				t.Fatal(err)
			}
			back := reflect.New(reflect.TypeOf(s.value))
			if err := json.Unmarshal(b, back.Interface()); err != nil {
				t.Fatal(err)
			}
			if got := back.Elem().Interface(); !reflect.DeepEqual(got, s.value) {
				t.Errorf("round trip changed the value\n got %#v\nwant %#v\njson %s", got, s.value, b)
			}
		})
	}
}

// A time in Bangkok survives the trip as the same instant, and the wire keeps its offset.
func TestRoundTripTimeZone(t *testing.T) {
	bkk := time.FixedZone("ICT", 7*3600)
	s := sampleSubmission()
	s.CountedAt = time.Date(2023, 5, 14, 17, 52, 3, 0, bkk)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"counted_at":"2023-05-14T17:52:03+07:00"`) {
		t.Errorf("counted_at not written as RFC 3339 with its offset: %s", b)
	}
	var back schemas.Submission
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.CountedAt.Equal(time.Date(2023, 5, 14, 10, 52, 3, 0, time.UTC)) {
		t.Errorf("counted_at = %v, want 10:52:03 UTC", back.CountedAt)
	}
}

// JSON written by hand in the contract's words -> Go -> JSON keeps every field: the Go
// names are the contract's snake_case names.
func TestContractFieldNames(t *testing.T) {
	cases := []struct {
		name string
		into any
		doc  string
	}{
		{"submission (DESIGN.md §4)", &schemas.Submission{}, `{"submission_id":"6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23","station_id":"BKK_1_0042","ballot":"constituency","stage":"final","counted_at":"2023-05-14T17:52:00+07:00","ballots_cast":512,"invalid":9,"no_vote":4,"votes":{"1":230,"2":180,"7":89},"evidence":["` + hashA + `"]}`},
		{"report", &schemas.Report{}, `{"submission_id":"6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23","station_id":"S1","ballot":"partylist","stage":"progress","counted_at":"2023-05-14T17:20:00+07:00","ballots_cast":100,"invalid":0,"no_vote":0,"votes":{"31":100},"volunteer_id":"v1","org":"o1","role":"station","received_at":"2023-05-14T10:20:01Z","hash":"` + hashB + `"}`},
		{"receipt", &schemas.Receipt{}, `{"submission_id":"x","hash":"` + hashA + `","received_at":"2023-05-14T10:20:01Z","duplicate":true}`},
		{"estimate", &schemas.Estimate{}, `{"estimate_id":"e1","data_time":"2023-05-14T12:00:00Z","computed_at":"2023-05-14T12:00:02Z","stations_reported":1,"stations_total":2,"eligible_reported":500,"eligible_total":1000,"parties":[{"party_no":31,"counted_votes":200,"projected_votes":400,"share":0.5,"share_lo":0.4,"share_hi":0.6,"seats":50}],"constituencies":[{"constituency_id":"BKK_1","leader_no":7,"win_probability":0.6,"call":"leading","stations_reported":1,"stations_total":2,"eligible_reported":500,"eligible_total":1000,"candidates":[{"candidate_no":7,"counted_votes":200,"projected_votes":410}]}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(c.doc), c.into); err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(c.into)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			_ = json.Unmarshal([]byte(c.doc), &want)
			_ = json.Unmarshal(out, &got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("fields lost or renamed\n got %s\nwant %s", out, c.doc)
			}
		})
	}
}

// Every Go value made for these tests conforms to its JSON Schema.
func TestSamplesConform(t *testing.T) {
	for _, s := range samples() {
		if s.schema == "" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			b, err := json.Marshal(s.value)
			if err != nil {
				t.Fatal(err)
			}
			if err := schemas.Validate(s.schema, b); err != nil {
				t.Errorf("%s does not conform: %v\n%s", s.name, err, b)
			}
		})
	}
}

// The Go types and the schema files name the same properties, and a property the schema
// requires is one Go always writes (no omitempty), and the reverse.
func TestGoTypesMatchSchemaFiles(t *testing.T) {
	cases := []struct {
		typ     any
		file    string
		pointer string // into the file, "" for the root
	}{
		{schemas.Submission{}, "submission.v1", ""},
		{schemas.Report{}, "report.v1", ""},
		{schemas.StationResult{}, "station-result.v1", ""},
		{schemas.Source{}, "station-result.v1", "source"},
		{schemas.Anomaly{}, "anomaly.v1", ""},
		{schemas.Estimate{}, "estimate.v1", ""},
		{schemas.PartyEstimate{}, "estimate.v1", "party"},
		{schemas.ConstituencyEstimate{}, "estimate.v1", "constituency"},
		{schemas.CandidateEstimate{}, "estimate.v1", "candidate"},
		{schemas.SeatRange{}, "estimate.v1", "seat_range"},
		{schemas.Review{}, "review.v1", ""},
		{schemas.Official{}, "official.v1", ""},
		{schemas.Evidence{}, "evidence.v1", ""},
		{schemas.Checkpoint{}, "checkpoint.v1", ""},
	}
	for _, c := range cases {
		name := reflect.TypeOf(c.typ).Name()
		t.Run(name, func(t *testing.T) {
			raw, err := schemas.JSONSchema(c.file)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			node := doc
			if c.pointer != "" {
				node = doc["$defs"].(map[string]any)[c.pointer].(map[string]any)
			}
			props, required := schemaProps(doc, node)
			always, optional := goFields(reflect.TypeOf(c.typ))
			goAll := append(slices.Clone(always), optional...)
			sort.Strings(goAll)
			if !slices.Equal(props, goAll) {
				t.Errorf("properties differ\nschema %v\n    go %v", props, goAll)
			}
			if !slices.Equal(required, always) {
				t.Errorf("required differs from Go's always-written fields\nschema %v\n    go %v", required, always)
			}
		})
	}
}

// schemaProps gathers the properties and required names of a node and of the local $ref
// it extends (review and official extend their $defs/body).
func schemaProps(doc, node map[string]any) (props, required []string) {
	for n := node; n != nil; {
		for k := range n["properties"].(map[string]any) {
			props = append(props, k)
		}
		for _, r := range asSlice(n["required"]) {
			required = append(required, r.(string))
		}
		ref, _ := n["$ref"].(string)
		n = nil
		if name, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
			n = doc["$defs"].(map[string]any)[name].(map[string]any)
		}
	}
	sort.Strings(props)
	sort.Strings(required)
	return props, required
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// goFields lists a struct's JSON names, split into those always written and those with omitempty.
func goFields(t reflect.Type) (always, optional []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			a, o := goFields(f.Type)
			always, optional = append(always, a...), append(optional, o...)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if strings.Contains(opts, "omitempty") {
			optional = append(optional, name)
		} else {
			always = append(always, name)
		}
	}
	sort.Strings(always)
	sort.Strings(optional)
	return always, optional
}

// Bad documents are refused, each by the keyword that should catch it.
func TestSchemasRejectBadDocuments(t *testing.T) {
	type edit func(m map[string]any)
	set := func(k string, v any) edit { return func(m map[string]any) { m[k] = v } }
	del := func(k string) edit { return func(m map[string]any) { delete(m, k) } }
	cases := []struct {
		name     string
		schema   string
		base     any
		edit     edit
		keyword  string
		location string
	}{
		{"unknown property", schemas.SchemaSubmission, sampleSubmission(), set("volunteer_id", "v9"), "additionalProperties", ""},
		{"missing ballots_cast", schemas.SchemaSubmission, sampleSubmission(), del("ballots_cast"), "required", ""},
		{"missing votes", schemas.SchemaSubmission, sampleSubmission(), del("votes"), "required", ""},
		{"null votes", schemas.SchemaSubmission, sampleSubmission(), set("votes", nil), "type", "/votes"},
		{"third ballot", schemas.SchemaSubmission, sampleSubmission(), set("ballot", "senate"), "enum", "/ballot"},
		{"unknown stage", schemas.SchemaSubmission, sampleSubmission(), set("stage", "draft"), "enum", "/stage"},
		{"negative invalid", schemas.SchemaSubmission, sampleSubmission(), set("invalid", -1), "minimum", "/invalid"},
		{"fractional ballots", schemas.SchemaSubmission, sampleSubmission(), set("ballots_cast", 511.5), "type", "/ballots_cast"},
		{"count as a string", schemas.SchemaSubmission, sampleSubmission(), set("no_vote", "4"), "type", "/no_vote"},
		{"absurd count", schemas.SchemaSubmission, sampleSubmission(), set("ballots_cast", 1000001), "maximum", "/ballots_cast"},
		{"vote key with a leading zero", schemas.SchemaSubmission, sampleSubmission(), set("votes", map[string]any{"07": 89}), "pattern", "/votes"},
		{"vote key of four digits", schemas.SchemaSubmission, sampleSubmission(), set("votes", map[string]any{"1000": 1}), "pattern", "/votes"},
		{"vote key by name", schemas.SchemaSubmission, sampleSubmission(), set("votes", map[string]any{"ก้าวไกล": 1}), "pattern", "/votes"},
		{"negative votes", schemas.SchemaSubmission, sampleSubmission(), set("votes", map[string]any{"1": -5}), "minimum", "/votes/1"},
		{"upper-case evidence", schemas.SchemaSubmission, sampleSubmission(), set("evidence", []any{"sha256:" + strings.ToUpper(repeat("a1", 32))}), "pattern", "/evidence/0"},
		{"evidence of another hash", schemas.SchemaSubmission, sampleSubmission(), set("evidence", []any{"md5:d41d8cd98f00b204e9800998ecf8427e"}), "pattern", "/evidence/0"},
		{"evidence twice", schemas.SchemaSubmission, sampleSubmission(), set("evidence", []any{hashA, hashA}), "uniqueItems", "/evidence"},
		{"counted_at not a time", schemas.SchemaSubmission, sampleSubmission(), set("counted_at", "yesterday"), "format", "/counted_at"},
		{"counted_at without offset", schemas.SchemaSubmission, sampleSubmission(), set("counted_at", "2023-05-14T17:52:00"), "format", "/counted_at"},
		{"submission_id not a UUID", schemas.SchemaSubmission, sampleSubmission(), set("submission_id", "42"), "pattern", "/submission_id"},
		{"empty station", schemas.SchemaSubmission, sampleSubmission(), set("station_id", ""), "minLength", "/station_id"},
		{"report without hash", schemas.SchemaReport, sampleReport(), del("hash"), "required", ""},
		{"report with unknown role", schemas.SchemaReport, sampleReport(), set("role", "admin"), "enum", "/role"},
		{"report with anonymous volunteer", schemas.SchemaReport, sampleReport(), set("volunteer_id", ""), "minLength", "/volunteer_id"},
		{"result with unknown status", schemas.SchemaStationResult, sampleStationResult(), set("status", "final"), "enum", "/status"},
		{"result with negative version", schemas.SchemaStationResult, sampleStationResult(), set("version", -1), "minimum", "/version"},
		{"result with a bad vote key", schemas.SchemaStationResult, sampleStationResult(), set("votes", map[string]any{"x": 1}), "pattern", "/votes"},
		{"result with an unknown anomaly", schemas.SchemaStationResult, sampleStationResult(), set("anomalies", []any{"WEIRD"}), "enum", "/anomalies/0"},
		{"anomaly with unknown code", schemas.SchemaAnomaly, sampleAnomaly(), set("code", "FOO"), "enum", "/code"},
		{"anomaly with unknown severity", schemas.SchemaAnomaly, sampleAnomaly(), set("severity", "fatal"), "enum", "/severity"},
		{"estimate without data_time", schemas.SchemaEstimate, sampleEstimate(), del("data_time"), "required", ""},
		{"share above 1", schemas.SchemaEstimate, sampleEstimate(), func(m map[string]any) {
			m["parties"].([]any)[0].(map[string]any)["share_hi"] = 1.2
		}, "maximum", "/parties/0/share_hi"},
		{"unknown call", schemas.SchemaEstimate, sampleEstimate(), func(m map[string]any) {
			m["constituencies"].([]any)[0].(map[string]any)["call"] = "maybe"
		}, "enum", "/constituencies/0/call"},
		{"review accepting and correcting", schemas.SchemaReview, sampleReviewAccept(), set("ballots_cast", 512), "oneOf", ""},
		{"review doing neither", schemas.SchemaReview, sampleReviewAccept(), del("accept_submission_id"), "oneOf", ""},
		{"review without reason", schemas.SchemaReview, sampleReviewFigures(), del("reason"), "required", ""},
		{"review by a station volunteer", schemas.SchemaReview, sampleReviewFigures(), set("role", "station"), "enum", "/role"},
		{"review with unknown property", schemas.SchemaReview, sampleReviewFigures(), set("comment", "x"), "unevaluatedProperties", "/comment"},
		{"review request naming its reviewer", schemas.SchemaReviewRequest, reviewRequest(), set("reviewer_id", "someone-else"), "unevaluatedProperties", "/reviewer_id"},
		{"official without votes", schemas.SchemaOfficial, sampleOfficial(), del("votes"), "required", ""},
		{"official request naming its author", schemas.SchemaOfficialRequest, officialRequest(), set("entered_by", "x"), "unevaluatedProperties", "/entered_by"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := toMap(t, c.base)
			c.edit(m)
			doc, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			err = schemas.Validate(c.schema, doc)
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %v\n%s", err, doc)
			}
			if !errors.Is(err, schemas.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if ve.Keyword != c.keyword || ve.Location != c.location {
				t.Errorf("caught by %q at %q, want %q at %q: %v", ve.Keyword, ve.Location, c.keyword, c.location, err)
			}
		})
	}
}

// The request schemas accept a body without the token fields.
func TestRequestSchemasAcceptBodies(t *testing.T) {
	for _, c := range []struct {
		schema string
		body   map[string]any
	}{
		{schemas.SchemaReviewRequest, reviewRequest()},
		{schemas.SchemaOfficialRequest, officialRequest()},
	} {
		doc, _ := json.Marshal(c.body)
		if err := schemas.Validate(c.schema, doc); err != nil {
			t.Errorf("%s: %v\n%s", c.schema, err, doc)
		}
	}
}

func reviewRequest() map[string]any {
	return map[string]any{
		"review_id": "rev-0003", "station_id": "BKK_1_0042", "ballot": "constituency",
		"ballots_cast": 512, "invalid": 9, "no_vote": 4, "votes": map[string]any{"1": 230, "2": 180, "7": 89},
		"reason": "figures from the official notice at the district office",
	}
}

func officialRequest() map[string]any {
	return map[string]any{
		"official_id": "off-1", "station_id": "BKK_1_0042", "ballot": "partylist",
		"ballots_cast": 512, "invalid": 11, "no_vote": 6, "votes": map[string]any{"29": 201, "31": 240, "37": 54},
	}
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	if m, ok := v.(map[string]any); ok {
		return m
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJSONSchemaFiles(t *testing.T) {
	for _, name := range []string{"submission.v1", "report.v1.json", "station-result.v1", "anomaly.v1", "estimate.v1", "review.v1", "official.v1", "evidence.v1", "checkpoint.v1"} {
		b, err := schemas.JSONSchema(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var doc struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema = %q, want draft 2020-12", name, doc.Schema)
		}
		if !strings.HasSuffix(doc.ID, "/"+strings.TrimSuffix(name, ".json")+".json") {
			t.Errorf("%s: $id %q does not name the file", name, doc.ID)
		}
	}
	for _, bad := range []string{"submission.v2", "../go.mod", "review.v1#request", ""} {
		if _, err := schemas.JSONSchema(bad); !errors.Is(err, schemas.ErrUnknownSchema) {
			t.Errorf("JSONSchema(%q) = %v, want ErrUnknownSchema", bad, err)
		}
	}
	for _, name := range schemas.SchemaNames {
		if _, err := schemas.Validator(name); err != nil {
			t.Errorf("Validator(%q): %v", name, err)
		}
	}
	if _, err := schemas.Validator("submission.v2"); !errors.Is(err, schemas.ErrUnknownSchema) {
		t.Errorf("Validator(submission.v2) = %v, want ErrUnknownSchema", err)
	}
}
