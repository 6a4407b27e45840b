package parquet

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// FuzzTake feeds records of any content to the snapshot and the row builders: whatever is
// on the topics, the export skips what it cannot read and never panics.
func FuzzTake(f *testing.F) {
	const topic = "station-results.v1"
	seed := func(v any) {
		r, err := kgorecord.New(topic, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(r.Key), r.Value, string(r.Headers[1].Value))
	}
	seed(result("BKK_1_001", "BKK_1", "partylist", 3, schemas.StatusCorroborated, schemas.StageFinal, 400, 5, 3,
		map[string]int{"31": 250, "29": 100, "7": 42}, time.Date(2023, 5, 14, 18, 20, 0, 0, time.UTC), "ARITH"))
	seed(schemas.Anomaly{AnomalyID: "a1", Code: "ARITH", Severity: "hard", StationID: "CMI_1_001", Message: "คะแนนไม่ตรง",
		Evidence: map[string]string{"sum": "510"}})
	seed(schemas.Estimate{EstimateID: "e1", Parties: []schemas.PartyEstimate{{PartyNo: 31, Seats: 50}},
		Constituencies: []schemas.ConstituencyEstimate{{ConstituencyID: "BKK_1", Candidates: []schemas.CandidateEstimate{{CandidateNo: 1}}}}})
	f.Add("BKK_1_001/partylist", []byte(nil), "")
	f.Add("no-ballot", []byte(nil), "")
	f.Add("k", []byte(`{"station_id":"S","ballot":"partylist","version":1,"votes":{"x":1,"-3":2}}`), "station-result.v1")

	c := &election.Country{Provinces: []election.Province{{ID: "BKK", NameTH: "กรุงเทพมหานคร", NameEN: "Bangkok", Region: "central"}},
		Constituencies: []election.Constituency{{ID: "BKK_1", ProvinceID: "BKK", Number: 1, EligibleVoters: 100, Stations: 1}},
		Stations:       []election.Station{{ID: "BKK_1_001", ConstituencyID: "BKK_1", Subdistrict: "พระนคร", Number: 1, EligibleVoters: 100}},
		Parties:        []election.Party{{No: 31, NameTH: "ก้าวไกล", NameEN: "Move Forward"}}}
	if err := c.Index(); err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, key string, value []byte, schema string) {
		rec := &kgo.Record{Topic: topic, Key: []byte(key), Value: value, Headers: []kgo.RecordHeader{
			{Key: "content-type", Value: []byte("application/json")}, {Key: "schema", Value: []byte(schema)}}}
		s := newSnapshot()
		s.take(rec, topic, log)
		for _, sr := range s.results.Sorted() {
			row := stationRow(c, sr)
			for i := 1; i < len(row.Votes); i++ {
				if row.Votes[i-1].Number > row.Votes[i].Number {
					t.Fatalf("votes not sorted: %v", row.Votes)
				}
			}
		}
		anomalyRows(c, s.anomalies)
		estimateRows(c, s.estimate)
		if kept := len(s.results) + len(s.anomalies); kept > 1 || (kept == 1 && s.estimate != nil) {
			t.Fatalf("one record kept as %d results/anomalies and estimate %v", kept, s.estimate != nil)
		}
	})
}
