package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/dashboards/live"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// These tests run the data source as Grafana would (its instance factory, QueryData,
// CheckHealth, the stream handlers with the SDK's StreamSender) on a fresh topic set of the
// real broker, with records produced the way the processors produce them.

// at is a time of the test night: 18:00 Bangkok plus minutes.
func at(minutes int) time.Time {
	return time.Date(2026, 3, 8, 11, 0, 0, 0, time.UTC).Add(time.Duration(minutes) * time.Minute)
}

func estimate(id string, minute int, reported int, shares ...[3]float64) schemas.Estimate {
	e := schemas.Estimate{
		EstimateID: id, DataTime: at(minute), ComputedAt: at(minute).Add(2 * time.Second),
		StationsReported: reported, StationsTotal: 100, EligibleReported: int64(reported) * 500, EligibleTotal: 50000,
		Constituencies: []schemas.ConstituencyEstimate{
			{ConstituencyID: "C2", LeaderNo: 2, WinProbability: 0.7, Call: schemas.CallLeading, StationsReported: 3, StationsTotal: 10,
				Candidates: []schemas.CandidateEstimate{
					{CandidateNo: 1, CountedVotes: 300, ProjectedVotes: 900, WinProbability: 0.3},
					{CandidateNo: 2, CountedVotes: 280, ProjectedVotes: 1000, WinProbability: 0.7},
					{CandidateNo: 3, CountedVotes: 20, ProjectedVotes: 60},
				}},
			{ConstituencyID: "C1", LeaderNo: 1, WinProbability: 0.99, Call: schemas.CallCalled, StationsReported: 10, StationsTotal: 10},
			{ConstituencyID: "C3", LeaderNo: 0, Call: schemas.CallTooEarly, StationsTotal: 10},
		},
	}
	for i, s := range shares {
		e.Parties = append(e.Parties, schemas.PartyEstimate{
			PartyNo: i + 1, Share: s[0], ShareLo: s[1], ShareHi: s[2], Seats: int(s[0] * 100),
			CountedVotes: int64(s[0] * 10000), ProjectedVotes: int64(s[0] * 40000),
		})
	}
	return e
}

func result(station, ballot string, version int64, status schemas.Status, open ...string) schemas.StationResult {
	return schemas.StationResult{
		StationID: station, ConstituencyID: "C" + station[1:2], Ballot: ballot, Version: version, Status: status,
		Stage: schemas.StageProgress, Votes: map[string]int{"1": 10}, Anomalies: open,
		Sources:   []schemas.Source{{SubmissionID: "sub-" + station, VolunteerID: "v1", Org: "org", Stage: schemas.StageProgress, Hash: "h"}},
		CountedAt: at(0), UpdatedAt: at(int(version)),
	}
}

func anomaly(id, code string, sev schemas.Severity, station, ballot string, minute int) schemas.Anomaly {
	return schemas.Anomaly{
		AnomalyID: id, Code: code, Severity: sev, StationID: station, ConstituencyID: "C" + station[1:2],
		Ballot: ballot, VolunteerID: "v1", Message: "ข้อความ " + id, DetectedAt: at(minute),
	}
}

// produce writes messages to their topics (the contract's, under the test's prefix) and
// waits for the broker's acknowledgement.
func produce(t *testing.T, env *testenv.KafkaEnv, cl *kgo.Client, msgs ...any) {
	t.Helper()
	var recs []*kgo.Record
	for _, m := range msgs {
		topic := map[string]string{
			"schemas.Estimate": schemas.TopicEstimates, "schemas.StationResult": schemas.TopicStationResults,
			"schemas.Anomaly": schemas.TopicAnomalies,
		}[fmt.Sprintf("%T", m)]
		if tomb, ok := m.(tombstone); ok {
			recs = append(recs, &kgo.Record{Topic: env.Topic(schemas.TopicStationResults), Key: []byte(tomb)})
			continue
		}
		r, err := kgorecord.New(env.Topic(topic), m)
		if err != nil {
			t.Fatalf("record for %T: %v", m, err)
		}
		recs = append(recs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// tombstone is a deletion on station-results.v1, by key.
type tombstone string

// newDatasource builds the data source through its instance factory with settings as
// Grafana stores them, and disposes of it when the test ends.
func newDatasource(t *testing.T, jsonData string, secure map[string]string) *Datasource {
	t.Helper()
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{
		UID: "vs-test", JSONData: json.RawMessage(jsonData), DecryptedSecureJSONData: secure,
	})
	if err != nil {
		t.Fatalf("NewDatasource: %v", err)
	}
	d := inst.(*Datasource)
	t.Cleanup(d.Dispose)
	return d
}

func kafkaSettings(env *testenv.KafkaEnv) string {
	return fmt.Sprintf(`{"brokers":%q,"topicPrefix":%q}`, strings.Join(env.Seeds, ","), env.Prefix)
}

// waitFor waits, on the source's change notifications, until cond holds of its progress.
func waitFor(t *testing.T, s *Source, what string, cond func(Progress) bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		changed := s.Changed()
		p := s.Progress()
		if cond(p) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; progress %+v", what, p)
		}
	}
}

// query runs one panel query through QueryData and returns its single frame.
func query(t *testing.T, d *Datasource, q live.Query, from, to time.Time) *data.Frame {
	t.Helper()
	raw, _ := json.Marshal(q)
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "vs-test"}},
		Queries:       []backend.DataQuery{{RefID: "A", JSON: raw, TimeRange: backend.TimeRange{From: from, To: to}}},
	})
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	r := resp.Responses["A"]
	if r.Error != nil {
		t.Fatalf("query %+v: %v", q, r.Error)
	}
	if len(r.Frames) != 1 {
		t.Fatalf("query %+v: %d frames, want 1", q, len(r.Frames))
	}
	return r.Frames[0]
}

// column returns a field's values as []any, failing when it is absent.
func column(t *testing.T, f *data.Frame, name string) []any {
	t.Helper()
	fl, i := f.FieldByName(name)
	if i < 0 {
		t.Fatalf("frame %s: no field %s (fields %v)", f.Name, name, fieldNames(f))
	}
	out := make([]any, fl.Len())
	for i := range out {
		v, ok := fl.ConcreteAt(i)
		if !ok {
			v = nil // a null of a nullable field
		}
		out[i] = v
	}
	return out
}

func fieldNames(f *data.Frame) []string {
	var out []string
	for _, fl := range f.Fields {
		out = append(out, fl.Name)
	}
	return out
}

func wantColumn(t *testing.T, f *data.Frame, name string, want ...any) {
	t.Helper()
	got := column(t, f, name)
	if fmt.Sprintf("%v", got) != fmt.Sprintf("%v", want) {
		t.Errorf("frame %s field %s = %v, want %v", f.Name, name, got, want)
	}
}

func TestQueryDataFromKafka(t *testing.T) {
	env := testenv.Kafka(t)
	cl := env.Client(t, kgo.UnknownTopicRetries(-1)) // fresh topics reach the metadata late on a busy broker; produce is bounded by its context
	cb, pl := "constituency", "partylist"
	produce(t, env, cl,
		estimate("e1", 0, 10, [3]float64{0.40, 0.38, 0.42}, [3]float64{0.35, 0.33, 0.37}, [3]float64{0.25, 0.23, 0.27}),
		estimate("e2", 10, 20, [3]float64{0.41, 0.40, 0.42}, [3]float64{0.36, 0.35, 0.37}, [3]float64{0.23, 0.22, 0.24}),
		estimate("e1", 0, 10, [3]float64{0.40, 0.38, 0.42}), // the same run published again: ignored
		result("S1", cb, 1, schemas.StatusProvisional, schemas.AnomalyArith),
		result("S1", cb, 2, schemas.StatusCorroborated), // ARITH no longer open on S1
		result("S2", pl, 3, schemas.StatusDisputed, schemas.AnomalyConflict),
		result("S2", pl, 2, schemas.StatusProvisional), // stale version: ignored
		result("S3", pl, 1, schemas.StatusVerified),
		result("S4", pl, 1, schemas.StatusProvisional),
		tombstone(schemas.StationResultKey("S4", pl)), // compaction deleted S4's result
		anomaly("a-arith", schemas.AnomalyArith, schemas.SeveritySoft, "S1", cb, 1),
		anomaly("a-conflict", schemas.AnomalyConflict, schemas.SeverityHard, "S2", pl, 3),
		anomaly("a-conflict", schemas.AnomalyConflict, schemas.SeverityHard, "S2", pl, 3), // re-delivered
		anomaly("a-early", schemas.AnomalyEarly, schemas.SeverityInfo, "S9", "", 5),       // no result yet: open
	)
	d := newDatasource(t, kafkaSettings(env), nil)
	waitFor(t, d.src, "catch-up", func(p Progress) bool { return p.CaughtUp })
	now := at(35)
	d.now = func() time.Time { return now }

	t.Run("shares", func(t *testing.T) {
		f := query(t, d, live.Query{QueryType: live.Shares, Top: 2}, at(-60), at(60))
		if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesWide || f.Meta.Channel != "ds/vs-test/shares/top=2" {
			t.Fatalf("meta = %+v, want a wide time series on channel ds/vs-test/shares/top=2", f.Meta)
		}
		wantColumn(t, f, "time", at(0), at(10))
		wantColumn(t, f, "share_1", 0.40, 0.41)
		wantColumn(t, f, "share_lo_1", 0.38, 0.40)
		wantColumn(t, f, "share_hi_2", 0.37, 0.37)
		if _, i := f.FieldByName("share_3"); i >= 0 {
			t.Errorf("top=2 kept party 3, the third by share")
		}
		fl, _ := f.FieldByName("share_hi_1")
		if fl.Config.Custom["fillBelowTo"] != "party 1 low" {
			t.Errorf("share_hi_1 config %+v: want its band filled down to party 1 low", fl.Config.Custom)
		}
		// The time range cuts the history.
		f = query(t, d, live.Query{QueryType: live.Shares}, at(5), at(60))
		wantColumn(t, f, "time", at(10))
		wantColumn(t, f, "share_3", 0.23)
	})
	t.Run("parties", func(t *testing.T) {
		f := query(t, d, live.Query{QueryType: live.Parties}, at(-60), at(60))
		wantColumn(t, f, "party_no", 1, 2, 3)
		wantColumn(t, f, "party", "party 1", "party 2", "party 3")
		wantColumn(t, f, "share", 0.41, 0.36, 0.23)
		wantColumn(t, f, "seats", 41, 36, 23)
		if len(f.Meta.Notices) == 0 || !strings.Contains(f.Meta.Notices[0].Text, "estimate e2") {
			t.Errorf("notices %+v: want the estimate e2 named", f.Meta.Notices)
		}
	})
	t.Run("seats", func(t *testing.T) {
		f := query(t, d, live.Query{QueryType: live.Seats}, time.Time{}, time.Time{})
		wantColumn(t, f, "party_no", 1, 2, 3)
		wantColumn(t, f, "list_seats", 41, 36, 23)
		wantColumn(t, f, "constituency_seats", 0, 0, 0) // no reference data: leaders not mapped
		var warned bool
		for _, n := range f.Meta.Notices {
			warned = warned || strings.Contains(n.Text, "2 projected constituency leaders are not counted")
		}
		if !warned {
			t.Errorf("notices %+v: want the 2 unmapped leaders told", f.Meta.Notices)
		}
	})
	t.Run("reporting", func(t *testing.T) {
		f := query(t, d, live.Query{QueryType: live.Reporting}, at(-60), at(60))
		wantColumn(t, f, "stations_reported", 10, 20)
		wantColumn(t, f, "eligible_reported", 5000, 10000)
	})
	t.Run("statuses", func(t *testing.T) {
		f := query(t, d, live.Query{QueryType: live.Statuses}, time.Time{}, time.Time{})
		wantColumn(t, f, "ballot", "constituency", "partylist")
		wantColumn(t, f, "provisional", 0, 0) // S4 deleted
		wantColumn(t, f, "corroborated", 1, 0)
		wantColumn(t, f, "disputed", 0, 1)
		wantColumn(t, f, "verified", 0, 1)
		wantColumn(t, f, "reported", 1, 1)
	})
	t.Run("constituencies and calls", func(t *testing.T) {
		f := query(t, d, live.Query{QueryType: live.Constituencies}, time.Time{}, time.Time{})
		wantColumn(t, f, "constituency_id", "C1", "C2", "C3")
		wantColumn(t, f, "leader_no", 1, 2, 0)
		wantColumn(t, f, "call", "called", "leading", "too_early")
		f = query(t, d, live.Query{QueryType: live.Constituencies, Call: "leading"}, time.Time{}, time.Time{})
		wantColumn(t, f, "constituency_id", "C2")
		f = query(t, d, live.Query{QueryType: live.Calls}, time.Time{}, time.Time{})
		wantColumn(t, f, "call", "too_early", "leading", "likely", "called")
		wantColumn(t, f, "constituencies", 1, 1, 0, 1)
	})
	t.Run("candidates", func(t *testing.T) {
		f := query(t, d, live.Query{QueryType: live.Candidates, Constituency: "C2"}, time.Time{}, time.Time{})
		if f.Meta.Channel != "ds/vs-test/candidates/constituency=C2" {
			t.Errorf("channel %q", f.Meta.Channel)
		}
		wantColumn(t, f, "constituency_id", "C2", "C2", "C2")
		wantColumn(t, f, "candidate_no", 2, 1, 3) // most projected votes first
		wantColumn(t, f, "counted_votes", 280, 300, 20)
		wantColumn(t, f, "projected_votes", 1000, 900, 60)
		wantColumn(t, f, "win_probability", 0.7, 0.3, 0)
		wantColumn(t, f, "leader", true, false, false)
		f = query(t, d, live.Query{QueryType: live.Candidates, Constituency: "C3"}, time.Time{}, time.Time{})
		if f.Rows() != 0 {
			t.Errorf("C3 (no candidates in the estimate): %d rows", f.Rows())
		}
		f = query(t, d, live.Query{QueryType: live.Candidates}, time.Time{}, time.Time{})
		if f.Rows() != 3 {
			t.Errorf("every constituency: %d rows, want C2's 3", f.Rows())
		}
	})
	t.Run("anomalies", func(t *testing.T) {
		f := query(t, d, live.Query{QueryType: live.Anomalies}, time.Time{}, time.Time{})
		wantColumn(t, f, "anomaly_id", "a-conflict", "a-early") // a-arith closed by S1's version 2
		wantColumn(t, f, "age", 32*60, 30*60)
		wantColumn(t, f, "message", "ข้อความ a-conflict", "ข้อความ a-early")
		f = query(t, d, live.Query{QueryType: live.Anomalies, Severity: "info"}, time.Time{}, time.Time{})
		wantColumn(t, f, "anomaly_id", "a-early")
		f = query(t, d, live.Query{QueryType: live.AnomalyCounts}, time.Time{}, time.Time{})
		if got := column(t, f, "code"); len(got) != len(schemas.AnomalyCodes) {
			t.Errorf("by code: %d rows, want every code (%d)", len(got), len(schemas.AnomalyCodes))
		}
		codes := column(t, f, "code")
		totals := column(t, f, "total")
		for i, c := range codes {
			want := map[any]int64{schemas.AnomalyConflict: 1, schemas.AnomalyEarly: 1}[c]
			if totals[i] != want {
				t.Errorf("code %v: total %v, want %d", c, totals[i], want)
			}
		}
		f = query(t, d, live.Query{QueryType: live.AnomalyCounts, GroupBy: live.ByAge}, time.Time{}, time.Time{})
		wantColumn(t, f, "age", "under 5 min", "5-15 min", "15-60 min", "1-3 h", "over 3 h")
		wantColumn(t, f, "hard", 0, 0, 1, 0, 0)
		wantColumn(t, f, "info", 0, 0, 1, 0, 0)
	})
	t.Run("dashboard panels", func(t *testing.T) {
		// Every live panel of the generated dashboards, its target as Grafana sends it: the
		// front end's applyTemplateVariables has put C2 for $constituency.
		n := 0
		for _, p := range dashboardLivePanels(t) {
			n++
			tg := json.RawMessage(strings.ReplaceAll(string(p.target), `"$constituency"`, `"C2"`))
			resp, _ := d.QueryData(context.Background(), &backend.QueryDataRequest{
				PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: p.uid}},
				Queries:       []backend.DataQuery{{RefID: "A", JSON: tg, TimeRange: backend.TimeRange{From: at(-360), To: at(60)}}},
			})
			r := resp.Responses["A"]
			if r.Error != nil || len(r.Frames) != 1 || r.Frames[0].Rows() == 0 || r.Frames[0].Meta.Channel == "" {
				t.Errorf("%s panel %q: error %v, frames %v: want one live frame with rows", p.file, p.title, r.Error, r.Frames)
			}
		}
		if n == 0 {
			t.Error("no panel of the generated dashboards uses the live data source")
		}
	})
	t.Run("bad queries", func(t *testing.T) {
		for _, raw := range []string{`{"queryType":"nope"}`, `{"queryType":"seats","top":3}`, `{"queryType":"anomalies","code":"NOPE"}`,
			`{"queryType":"anomaly_counts","groupBy":"province"}`, `{"queryType":`} {
			resp, _ := d.QueryData(context.Background(), &backend.QueryDataRequest{
				Queries: []backend.DataQuery{{RefID: "B", JSON: json.RawMessage(raw)}},
			})
			if r := resp.Responses["B"]; r.Error == nil || r.Status != backend.StatusBadRequest {
				t.Errorf("query %s: error %v status %v, want a bad request", raw, r.Error, r.Status)
			}
		}
	})
}

// livePanel is one panel target of a generated dashboard on the live data source, as
// Grafana sends it.
type livePanel struct {
	file, title, uid string
	target           json.RawMessage
}

// dashboardLivePanels reads every live panel target of the generated dashboards.
func dashboardLivePanels(t *testing.T) []livePanel {
	t.Helper()
	var out []livePanel
	for _, file := range []string{"../war-room.json", "../constituency.json", "../anomalies.json"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Panels []struct {
				Title   string
				Targets []json.RawMessage
			}
		}
		if err := json.Unmarshal(raw, &dash); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, p := range dash.Panels {
			for _, tg := range p.Targets {
				var ref struct{ Datasource struct{ Type, UID string } }
				if err := json.Unmarshal(tg, &ref); err != nil || ref.Datasource.Type != live.PluginID {
					continue
				}
				out = append(out, livePanel{file: file, title: p.Title, uid: ref.Datasource.UID, target: tg})
			}
		}
	}
	return out
}

// packets is the SDK's StreamPacketSender for a test: every packet on a channel.
type packets chan *backend.StreamPacket

func (p packets) Send(pk *backend.StreamPacket) error { p <- pk; return nil }

// nextFrame waits for the stream's next message and decodes its frame.
func nextFrame(t *testing.T, p packets) *data.Frame {
	t.Helper()
	select {
	case pk := <-p:
		var f data.Frame
		if err := json.Unmarshal(pk.Data, &f); err != nil {
			t.Fatalf("stream packet %s: %v", pk.Data, err)
		}
		return &f
	case <-time.After(60 * time.Second):
		t.Fatalf("no stream message within 60 s")
	}
	return nil
}

func TestRunStreamFromKafka(t *testing.T) {
	env := testenv.Kafka(t)
	cl := env.Client(t, kgo.UnknownTopicRetries(-1)) // fresh topics reach the metadata late on a busy broker; produce is bounded by its context
	produce(t, env, cl, estimate("e1", 0, 10, [3]float64{0.5, 0.45, 0.55}, [3]float64{0.5, 0.45, 0.55}))
	d := newDatasource(t, kafkaSettings(env), nil)
	d.minPeriod = 0
	waitFor(t, d.src, "catch-up", func(p Progress) bool { return p.CaughtUp })

	run := func(path string) (packets, func()) {
		p := make(packets, 16)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- d.RunStream(ctx, &backend.RunStreamRequest{Path: path}, backend.NewStreamSender(p))
		}()
		return p, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("RunStream %s: %v", path, err)
			}
		}
	}
	shares, stopShares := run("shares")
	defer stopShares()
	parties, stopParties := run("parties")
	defer stopParties()
	anomalies, stopAnomalies := run("anomalies/severity=hard")
	defer stopAnomalies()

	// A new estimate: the shares stream appends its one row, the parties stream replaces
	// its table.
	produce(t, env, cl, estimate("e2", 5, 20, [3]float64{0.55, 0.5, 0.6}, [3]float64{0.45, 0.4, 0.5}))
	f := nextFrame(t, shares)
	wantColumn(t, f, "time", at(5))
	wantColumn(t, f, "share_1", 0.55)
	wantColumn(t, f, "share_hi_2", 0.5)
	if c, _ := json.Marshal(f.Meta.Custom); string(c) != `{"live":"append"}` {
		t.Errorf("shares meta.custom %s, want append", c)
	}
	f = nextFrame(t, parties)
	wantColumn(t, f, "party_no", 1, 2)
	wantColumn(t, f, "share", 0.55, 0.45)
	if c, _ := json.Marshal(f.Meta.Custom); string(c) != `{"live":"replace"}` {
		t.Errorf("parties meta.custom %s, want replace", c)
	}

	// An older estimate arriving late changes the latest nothing and adds no row after the
	// panel's last: the shares stream stays quiet; a third party in the next estimate
	// changes the columns, so the whole history is sent again.
	produce(t, env, cl, estimate("e0", -5, 5, [3]float64{0.5, 0.4, 0.6}, [3]float64{0.5, 0.4, 0.6}))
	f = nextFrame(t, parties) // the late estimate still is a change of the night for tables
	wantColumn(t, f, "share", 0.55, 0.45)
	produce(t, env, cl, estimate("e3", 10, 30, [3]float64{0.5, 0.45, 0.55}, [3]float64{0.4, 0.35, 0.45}, [3]float64{0.1, 0.05, 0.15}))
	f = nextFrame(t, shares)
	wantColumn(t, f, "time", at(-5), at(0), at(5), at(10))
	wantColumn(t, f, "share_3", nil, nil, nil, 0.1)

	// A hard anomaly on a station with no result yet is open; the filter keeps the soft one out.
	produce(t, env, cl,
		anomaly("a1", schemas.AnomalyConflict, schemas.SeverityHard, "S1", "partylist", 6),
		anomaly("a2", schemas.AnomalyArith, schemas.SeveritySoft, "S1", "partylist", 6))
	f = nextFrame(t, anomalies)
	for f.Rows() == 0 { // a1 and a2 may arrive in two fetches; a2 alone changes nothing shown
		f = nextFrame(t, anomalies)
	}
	wantColumn(t, f, "anomaly_id", "a1")
	// Its station's result without CONFLICT closes it: the table is sent again, empty.
	produce(t, env, cl, result("S1", "partylist", 1, schemas.StatusProvisional))
	for f = nextFrame(t, anomalies); f.Rows() != 0; f = nextFrame(t, anomalies) {
		// a message for a2 alone may still be on its way; it shows a1 and nothing else
		wantColumn(t, f, "anomaly_id", "a1")
	}
	if len(shares) != 0 {
		t.Errorf("shares stream sent %d messages with no new estimate", len(shares))
	}
}

func TestSubscribePublishRules(t *testing.T) {
	d := &Datasource{log: log.DefaultLogger}
	for path, want := range map[string]backend.SubscribeStreamStatus{
		"shares":                            backend.SubscribeStreamStatusOK,
		"shares/top=5":                      backend.SubscribeStreamStatusOK,
		"anomaly_counts/groupBy=code":       backend.SubscribeStreamStatusOK,
		"anomaly_counts":                    backend.SubscribeStreamStatusNotFound, // groupBy must be spelt out
		"anomalies/constituency.hex=e0b881": backend.SubscribeStreamStatusOK,
		"anomalies/constituency=ก":          backend.SubscribeStreamStatusNotFound,
		"seats/top=5":                       backend.SubscribeStreamStatusNotFound,
		"nope":                              backend.SubscribeStreamStatusNotFound,
		"anomalies/code=ARITH/code=EARLY":   backend.SubscribeStreamStatusNotFound,
	} {
		resp, err := d.SubscribeStream(context.Background(), &backend.SubscribeStreamRequest{Path: path})
		if err != nil || resp.Status != want {
			t.Errorf("SubscribeStream(%q) = %v, %v; want %v", path, resp.Status, err, want)
		}
	}
	resp, err := d.PublishStream(context.Background(), &backend.PublishStreamRequest{Path: "shares", Data: json.RawMessage(`{}`)})
	if err != nil || resp.Status != backend.PublishStreamStatusPermissionDenied {
		t.Errorf("PublishStream = %v, %v; want permission denied", resp.Status, err)
	}
}

func TestCheckHealth(t *testing.T) {
	env := testenv.Kafka(t)
	cl := env.Client(t, kgo.UnknownTopicRetries(-1)) // fresh topics reach the metadata late on a busy broker; produce is bounded by its context
	produce(t, env, cl, estimate("e1", 0, 10, [3]float64{1, 1, 1}))
	d := newDatasource(t, kafkaSettings(env), nil)
	waitFor(t, d.src, "catch-up", func(p Progress) bool { return p.CaughtUp })
	res, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil || res.Status != backend.HealthStatusOk || !strings.Contains(res.Message, "Held: 1 estimates") {
		t.Errorf("CheckHealth = %+v, %v; want OK holding 1 estimate", res, err)
	}

	// A prefix with no topics: the health check names the missing topic and the fix.
	missing := newDatasource(t, fmt.Sprintf(`{"brokers":%q,"topicPrefix":"t_absent_%d."}`, env.Seeds[0], time.Now().UnixNano()), nil)
	res, err = missing.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil || res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "votestream migrate") {
		t.Errorf("CheckHealth without topics = %+v, %v; want an error naming votestream migrate", res, err)
	}
	f := query(t, missing, live.Query{QueryType: live.Parties}, time.Time{}, time.Time{})
	if len(f.Meta.Notices) < 2 {
		t.Errorf("query while the topics are missing: notices %+v, want Kafka's error and the partial warning", f.Meta.Notices)
	}
}

func TestSettings(t *testing.T) {
	for _, tc := range []struct {
		json   string
		secure map[string]string
		want   string // in the error; "" = valid
	}{
		{`{"brokers":"k1:9092, k2:9092","topicPrefix":"x."}`, nil, ""},
		{`{}`, nil, "brokers is empty"},
		{`{"brokers":"k1"}`, nil, `broker "k1" is not host:port`},
		{`{"brokers":"k1:9092","saslMechanism":"scram-sha-512","saslUser":"u"}`, nil, "needs saslUser and the secure saslPassword"},
		{`{"brokers":"k1:9092","saslMechanism":"scram-sha-512","saslUser":"u"}`, map[string]string{"saslPassword": "p"}, ""},
		{`{"brokers":"k1:9092","saslMechanism":"GSSAPI","saslUser":"u"}`, map[string]string{"saslPassword": "p"}, "not one of"},
		{`{"brokers":"k1:9092","maxHistory":-1}`, nil, "maxHistory -1"},
		{`{"brokers":"k1:9092","referenceDir":"/nonexistent/ref"}`, nil, "not a folder"},
		{`{"brokers":`, nil, "jsonData"},
	} {
		s, err := LoadSettings(backend.DataSourceInstanceSettings{JSONData: json.RawMessage(tc.json), DecryptedSecureJSONData: tc.secure})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.json, err)
		case tc.want != "" && (!errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want ErrSettings with %q", tc.json, err, tc.want)
		case tc.want == "" && tc.secure != nil && s.SASLPassword != tc.secure["saslPassword"]:
			t.Errorf("%s: password not taken from secureJsonData", tc.json)
		}
	}
	// Bad settings do not fail the factory: every request tells what is wrong.
	d := newDatasource(t, `{"brokers":"nohost"}`, nil)
	res, _ := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "not host:port") {
		t.Errorf("CheckHealth with a bad broker = %+v", res)
	}
}

func TestStreamPathRoundTrip(t *testing.T) {
	for _, q := range []live.Query{
		{QueryType: live.Shares, Top: 7},
		{QueryType: live.AnomalyCounts, GroupBy: live.ByAge, Code: "ARITH", Severity: "hard", Constituency: "กรุงเทพ-1"},
		{QueryType: live.Constituencies, Constituency: "BKK-01", Call: "called"},
	} {
		path := StreamPath(q)
		got, err := ParseStreamPath(path)
		if err != nil || got != q {
			t.Errorf("ParseStreamPath(%q) = %+v, %v; want %+v", path, got, err, q)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_.=/-]+$`).MatchString(path) {
			t.Errorf("path %q is outside Grafana's channel alphabet", path)
		}
	}
}

// FuzzParseStreamPath: channel paths come from browsers. A path either is refused with
// live.ErrQuery or is the canonical path of a valid query.
func FuzzParseStreamPath(f *testing.F) {
	for _, s := range []string{"shares", "shares/top=5", "anomaly_counts/groupBy=code", "anomalies/constituency.hex=e0b881",
		"constituencies/constituency=C1/call=called", "a//b", "shares/top=05", "anomalies/code.hex=41524954"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		q, err := ParseStreamPath(path)
		if err != nil {
			if !errors.Is(err, live.ErrQuery) {
				t.Fatalf("ParseStreamPath(%q): error %v does not wrap live.ErrQuery", path, err)
			}
			return
		}
		if StreamPath(q) != path {
			t.Fatalf("ParseStreamPath(%q) accepted a non-canonical path (canonical %q)", path, StreamPath(q))
		}
		if err := q.Check(); err != nil {
			t.Fatalf("ParseStreamPath(%q) returned a query that fails Check: %v", path, err)
		}
	})
}

// TestBrokerOutageShows stops a private broker under a reading data source: panels and the
// health check say the brokers do not answer, and once the broker is back the reading goes
// on where it was, with no restart of the night.
func TestBrokerOutageShows(t *testing.T) {
	quietSpell = time.Second
	t.Cleanup(func() { quietSpell = 10 * time.Second })
	pk := testenv.OwnKafka(t)
	cl := pk.Client(t, kgo.UnknownTopicRetries(-1))
	produce(t, pk.KafkaEnv, cl, estimate("e1", 0, 10, [3]float64{0.5, 0.45, 0.55}))
	d := newDatasource(t, kafkaSettings(pk.KafkaEnv), nil)
	waitFor(t, d.src, "catch-up", func(p Progress) bool { return p.CaughtUp && p.Estimates == 1 })

	pk.Stop()
	waitFor(t, d.src, "the outage told", func(p Progress) bool {
		return p.Err != nil && strings.Contains(p.Err.Error(), "the brokers do not answer")
	})
	f := query(t, d, live.Query{QueryType: live.Parties}, time.Time{}, time.Time{})
	var told bool
	for _, n := range f.Meta.Notices {
		told = told || strings.HasPrefix(n.Text, "Kafka: the brokers do not answer")
	}
	if !told || f.Rows() != 1 {
		t.Errorf("during the outage: notices %+v, %d rows; want the outage told and what was read shown", f.Meta.Notices, f.Rows())
	}

	pk.Start()
	produce(t, pk.KafkaEnv, cl, estimate("e2", 5, 20, [3]float64{0.6, 0.55, 0.65}))
	waitFor(t, d.src, "the reading to go on", func(p Progress) bool { return p.Err == nil && p.Estimates == 2 })
	if p := d.src.Progress(); p.Readings != 1 {
		t.Errorf("%d readings of the night, want 1: the outage restarted the reading", p.Readings)
	}
}
