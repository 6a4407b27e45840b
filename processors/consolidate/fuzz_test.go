package consolidate

import (
	"encoding/json"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// FuzzDecodeAndApply feeds arbitrary record values to the runner's decoder for each input
// topic and applies whatever it accepts: nothing a record carries may panic the role, and
// every result it publishes must be well formed.
func FuzzDecodeAndApply(f *testing.F) {
	rules := testRules(f)
	cfg := DefaultConfig()
	cfg.Seeds = []string{"127.0.0.1:1"}
	cfg.Rules = *rules
	cfg.Logger = quietLogger()
	cons, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	seed := func(topic uint8, v any) {
		js, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(topic, js)
	}
	seed(0, f1(report("0b6c0d59-1d52-4a53-9c51-ff0b5d2f7a10", "S01", c, final, "alice", "OrgA", 30)).evidence(hShared).r)
	seed(0, p1(report("0b6c0d59-1d52-4a53-9c51-ff0b5d2f7a11", "S02", pl, prog, "บุญมี", "องค์กร", 12)).r)
	seed(0, fA(report("x", "S03", c, final, "v", "", -600)).r)
	rev := review("r1", "lead-1", schemas.RoleDistrictLead, 50)
	rev.AcceptSubmissionID = "0b6c0d59-1d52-4a53-9c51-ff0b5d2f7a10"
	seed(1, rev)
	rev2 := review("r2", "war-1", schemas.RoleWarRoom, 51)
	rev2.BallotsCast, rev2.Invalid, rev2.NoVote, rev2.Votes = ip(500), ip(10), ip(5), map[string]int{"1": 485}
	seed(1, rev2)
	seed(2, schemas.Official{OfficialID: "o1", StationID: "S01", Ballot: c, BallotsCast: 500, Invalid: 10, NoVote: 5,
		Votes: map[string]int{"1": 240, "2": 160, "3": 85}, EnteredBy: "lead-1", Role: schemas.RoleDistrictLead, ReceivedAt: minute(90)})
	f.Add(uint8(0), []byte(`{"submission_id":"a","station_id":"S01","ballot":"constituency","stage":"final","votes":{"01":3,"-1":2}}`))
	f.Add(uint8(0), []byte(`{"station_id":"S01","ballots_cast":-5,"votes":null}`))
	f.Add(uint8(2), []byte(`[]`))

	schemaOf := [Inputs]string{schemas.SchemaReport, schemas.SchemaReview, schemas.SchemaOfficial}
	f.Fuzz(func(t *testing.T, topic uint8, value []byte) {
		tp := int(topic % Inputs)
		r := &kgo.Record{Topic: cons.in[tp], Value: value, Headers: kgorecord.Headers(schemas.EnvelopeHeaders(schemaOf[tp]))}
		in, err := cons.decode(tp, r)
		if err != nil {
			return
		}
		l := NewLedger(rules)
		l.AddPartition(0)
		// Twice: the second is a duplicate and must publish no result.
		for round := range 2 {
			for _, o := range l.Apply(0, in) {
				if o.Result == nil {
					continue
				}
				if round == 1 {
					t.Fatalf("a re-delivery published %+v", o.Result)
				}
				res := o.Result
				switch {
				case res.Version < 1, res.Status == "", res.Stage == "", res.StationID != in.StationID():
					t.Fatalf("malformed result %+v", res)
				}
				if _, _, err := schemas.Encode(res); err != nil {
					t.Fatal(err)
				}
			}
			l.Commit()
		}
	})
}
