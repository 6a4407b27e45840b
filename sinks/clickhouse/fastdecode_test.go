package clickhouse

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/kgorecord"
)

// sampleValues are records as consolidate and ingest write them, and a few as they could
// be written by another encoder.
func sampleValues(t testing.TB) (results, reports [][]byte) {
	at := time.Date(2023, 5, 14, 18, 40, 0, 0, time.UTC)
	res := schemas.StationResult{
		StationID: "BKK_1_0042", ConstituencyID: "BKK_1", Ballot: "partylist", Version: 3,
		Status: schemas.StatusCorroborated, Stage: schemas.StageFinal, BallotsCast: 420, Invalid: 10, NoVote: 5,
		Votes: map[string]int{"1": 200, "7": 105, "12": 100},
		Sources: []schemas.Source{
			{SubmissionID: "0b0e6d3c-0000-4000-8000-000000000001", VolunteerID: "v1", Org: "iLaw", Stage: schemas.StageFinal, Hash: "sha256:ab"},
			{SubmissionID: "0b0e6d3c-0000-4000-8000-000000000002", VolunteerID: "v2", Org: "ทีมอาสา", Stage: schemas.StageProgress, Hash: "sha256:cd"},
		},
		Anomalies: []string{"SPREAD"}, DecidedBy: "lead-3", CountedAt: at, UpdatedAt: at.Add(time.Minute),
	}
	bare := schemas.StationResult{StationID: "CNX_2_0001", Ballot: "constituency", Version: 1, CountedAt: at.In(time.FixedZone("ICT", 7*3600))}
	sub := schemas.Submission{SubmissionID: "0b0e6d3c-0000-4000-8000-000000000003", StationID: "BKK_1_0042", Ballot: "constituency",
		Stage: schemas.StageProgress, CountedAt: at, BallotsCast: 300, Invalid: 3, NoVote: 2, Votes: map[string]int{"2": 150, "1": 145},
		Evidence: []string{"sha256:0123"}}
	rep := schemas.Report{Submission: sub, VolunteerID: "v9", Org: "o", Role: schemas.RoleStation, ReceivedAt: at, Hash: "sha256:ee", Person: "p1"}
	noVotes := schemas.Report{Submission: schemas.Submission{SubmissionID: "x", StationID: "s"}}
	for _, v := range []any{res, bare} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, b)
	}
	for _, r := range []schemas.Report{rep, noVotes} {
		b, _, err := schemas.Encode(&r)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, b)
	}
	return results, reports
}

// The values our encoders write take the fast way, with the general way's rows, also when
// one arena serves many records (as in a poll) and the rows are read afterwards.
func TestFastDecodeTakesOurRecords(t *testing.T) {
	results, reports := sampleValues(t)
	var a arena
	rc, pc := newResultColumns(0), newReportColumns(0)
	for range 3 {
		for _, v := range results {
			var r resultRow
			if !decodeResult(string(v), &r, &a) {
				t.Errorf("fast reader refused %s", v)
			}
			rc.add(&r)
		}
		for _, v := range reports {
			var r reportRow
			if !decodeReport(string(v), &r, &a) {
				t.Errorf("fast reader refused %s", v)
			}
			pc.add(&r)
		}
	}
	for i := range rc.len() {
		v := results[i%len(results)]
		var m schemas.StationResult
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatal(err)
		}
		want, err := chtable.StationResultRow(m)
		if err != nil {
			t.Fatal(err)
		}
		sameRow(t, v, columnRow(rc.columns(), i), want)
	}
	for i := range pc.len() {
		v := reports[i%len(reports)]
		var m schemas.Report
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatal(err)
		}
		want, err := chtable.ReportRow(m)
		if err != nil {
			t.Fatal(err)
		}
		sameRow(t, v, columnRow(pc.columns(), i), want)
	}
}

// Forms outside the plain one go the general way, which still decodes them.
func TestFastDecodeLeavesTheRest(t *testing.T) {
	results, _ := sampleValues(t)
	plain := string(results[0])
	for name, v := range map[string]string{
		"escape":            strings.Replace(plain, `"BKK_1"`, `"BKK\u005f1"`, 1),
		"unknown field":     strings.Replace(plain, `{`, `{"extra":1,`, 1),
		"repeated field":    strings.Replace(plain, `{`, `{"version":9,`, 1),
		"other case":        strings.Replace(plain, `"station_id"`, `"Station_ID"`, 1),
		"vote leading zero": strings.Replace(plain, `"7":`, `"07":`, 1),
		"float":             strings.Replace(plain, `"invalid":10`, `"invalid":10.0`, 1),
		"negative":          strings.Replace(plain, `"invalid":10`, `"invalid":-10`, 1),
		"over UInt32":       strings.Replace(plain, `"invalid":10`, `"invalid":4294967296`, 1),
		"trailing data":     plain + `{}`,
		"null source":       strings.Replace(plain, `"sources":[`, `"sources":[null,`, 1),
	} {
		var r resultRow
		if decodeResult(v, &r, new(arena)) {
			t.Errorf("%s: fast reader took %s", name, v)
		}
		checkResult(t, []byte(v))
	}
}

// FuzzFastDecode: whatever the fast reader takes, encoding/json and chtable take too,
// with the same row. (scripts/fuzz runs it.)
func FuzzFastDecode(f *testing.F) {
	results, reports := sampleValues(f)
	for _, v := range append(results, reports...) {
		f.Add(v)
	}
	f.Add([]byte(`{"votes":{"65535":4294967295,"0":0},"version":9223372036854775807,"counted_at":null,"sources":null}`))
	f.Add([]byte(` {"station_id" : "ก\u0e01" , "anomalies":[] } `))
	f.Add([]byte(`{"counted_at":"2023-05-14T25:00:00Z"}`))
	f.Add([]byte(`{"votes":{"1":1,"1":2}}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		checkResult(t, value)
		checkReport(t, value)
	})
}

func checkResult(t *testing.T, value []byte) {
	t.Helper()
	var r resultRow
	if !decodeResult(string(value), &r, new(arena)) {
		return
	}
	var m schemas.StationResult
	if err := json.Unmarshal(value, &m); err != nil {
		t.Fatalf("fast reader took %q; encoding/json: %v", value, err)
	}
	want, err := chtable.StationResultRow(m)
	if err != nil {
		t.Fatalf("fast reader took %q; chtable: %v", value, err)
	}
	var c resultColumns
	c.add(&r)
	sameRow(t, value, columnRow(c.columns(), 0), want)
}

func checkReport(t *testing.T, value []byte) {
	t.Helper()
	var r reportRow
	if !decodeReport(string(value), &r, new(arena)) {
		return
	}
	var m schemas.Report
	if err := json.Unmarshal(value, &m); err != nil {
		t.Fatalf("fast reader took %q; encoding/json: %v", value, err)
	}
	want, err := chtable.ReportRow(m)
	if err != nil {
		t.Fatalf("fast reader took %q; chtable: %v", value, err)
	}
	var c reportColumns
	c.add(&r)
	sameRow(t, value, columnRow(c.columns(), 0), want)
}

// columnRow is row i of columns.
func columnRow(cols []any, i int) []any {
	row := make([]any, len(cols))
	for j, c := range cols {
		row[j] = reflect.ValueOf(c).Index(i).Interface()
	}
	return row
}

func sameRow(t *testing.T, value []byte, got, want []any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%q: %d columns, chtable has %d", value, len(got), len(want))
	}
	for i := range got {
		if gt, ok := got[i].(time.Time); ok {
			wt, ok := want[i].(time.Time)
			_, go1 := gt.Zone()
			_, wo := wt.Zone()
			if !ok || !gt.Equal(wt) || go1 != wo {
				t.Fatalf("%q: column %d is %v, chtable has %v", value, i, got[i], want[i])
			}
			continue
		}
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%q: column %d is %#v, chtable has %#v", value, i, got[i], want[i])
		}
	}
}

// plainSchema takes only envelopes schemas.RecordSchema reads the same way.
func TestPlainSchema(t *testing.T) {
	h := func(kv ...string) []kgo.RecordHeader {
		var out []kgo.RecordHeader
		for i := 0; i < len(kv); i += 2 {
			out = append(out, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return out
	}
	for _, c := range []struct {
		headers []kgo.RecordHeader
		plain   bool
	}{
		{h("content-type", "application/json", "schema", "report.v1"), true},
		{h("schema", "station-result.v1", "flags", "SPREAD", "content-type", "application/json"), true},
		{h("content-type", "application/json", "schema", "anomaly.v1"), false},
		{h("content-type", "application/json", "schema", "report.v1.2"), false},
		{h("content-type", "application/json", "schema", "report.v1", "schema", "anomaly.v1"), false},
		{h("content-type", "application/json", "Schema", "anomaly.v1", "schema", "report.v1"), false},
		{h("Content-Type", "text/plain", "content-type", "application/json", "schema", "report.v1"), false},
		{h("content-type", "application/json; charset=utf-8", "schema", "report.v1"), false},
		{h("schema", "report.v1"), false},
		{h("content-type", "application/json"), false},
	} {
		name, ok := plainSchema(c.headers)
		if ok != c.plain {
			t.Errorf("%v: plain %v, want %v", c.headers, ok, c.plain)
		}
		if !ok {
			continue
		}
		want, err := schemas.RecordSchema(kgorecord.FromHeaders(c.headers))
		if err != nil || want != name {
			t.Errorf("%v: plain schema %q, RecordSchema %q (%v)", c.headers, name, want, err)
		}
	}
}
