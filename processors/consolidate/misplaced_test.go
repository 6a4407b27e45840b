package consolidate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	place "votestream/internal/partition"
	"votestream/internal/testenv"
	"votestream/schemas"
)

func TestPlacementCountsMisplacedRecords(t *testing.T) {
	c := &election.Country{
		Provinces:      []election.Province{{ID: "BKK", NameTH: "กรุงเทพมหานคร", NameEN: "Bangkok", Region: "central"}},
		Constituencies: []election.Constituency{{ID: "BKK_1", ProvinceID: "BKK", Number: 1, EligibleVoters: 1500, Stations: 3}},
		Parties:        []election.Party{{No: 1, NameTH: "หนึ่ง", NameEN: "One"}},
		Candidates:     []election.Candidate{{ConstituencyID: "BKK_1", No: 1, Name: "A", PartyNo: 1}},
		Stations: []election.Station{
			{ID: "BKK_1_001", ConstituencyID: "BKK_1", Subdistrict: "X", Number: 1, EligibleVoters: 500},
			{ID: "BKK_1_002", ConstituencyID: "BKK_1", Subdistrict: "X", Number: 2, EligibleVoters: 500},
			{ID: "X9", ConstituencyID: "BKK_1", Subdistrict: "X", Number: 3, EligibleVoters: 500}, // not named after its constituency
		},
	}
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	counted := map[string]int{}
	pl := placement{country: c, partitions: 6, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		count: func(topic string) { counted[topic]++ }}
	right := place.ForConstituency("BKK_1", 6)
	wrong := (right + 1) % 6
	if !pl.check("submissions.v1", right, "BKK_1_001") || !pl.check("submissions.v1", right, "BKK_1_002") {
		t.Error("a record on its constituency's partition was counted as misplaced")
	}
	if pl.check("submissions.v1", wrong, "BKK_1_002") || pl.check("reviews.v1", wrong, "BKK_1_001") {
		t.Error("a record on another partition passed")
	}
	if !pl.check("submissions.v1", wrong, "NOPE_1") {
		t.Error("an unknown station (a dead letter) was counted")
	}
	if counted["submissions.v1"] != 1 || counted["reviews.v1"] != 1 {
		t.Errorf("counted %v, want one per topic", counted)
	}
	if len(pl.logged) != 2 {
		t.Errorf("logged %d constituency-topic pairs, want 2", len(pl.logged))
	}
	if n, ex := misnamedStations(c); n != 1 || ex != "X9" {
		t.Errorf("misnamedStations = %d, %q; want 1, X9", n, ex)
	}
	unknown := placement{country: c, count: func(string) { t.Error("counted before the partition count is known") }}
	unknown.check("submissions.v1", wrong, "BKK_1_001")
}

// TestMisplacedRecordEndToEnd: a report produced by a client without the partitioner, on
// another partition than its constituency's, is consolidated all the same and counted in
// votestream_consolidate_misplaced_records_total; the ones placed by constituency are not.
func TestMisplacedRecordEndToEnd(t *testing.T) {
	env := testenv.Kafka(t)
	c := testCountry(t)
	named := *c
	named.Stations = nil
	for _, s := range c.Stations {
		s.ID = s.ConstituencyID + "_" + s.ID
		named.Stations = append(named.Stations, s)
	}
	if err := named.Index(); err != nil {
		t.Fatal(err)
	}
	ballot := string(election.Ballots[0])
	var placed []*kgo.Record
	for i, st := range []string{"C1_S01", "C1_S02"} {
		rep := report(fmt.Sprintf("p%d", i), st, ballot, schemas.StageFinal, fmt.Sprintf("vol-%d", i), "OrgA", 30+i).figs(500, 10, 5, 240, 160, 85).r
		placed = append(placed, record(t, env, schemas.TopicSubmissions, rep))
	}
	produce(t, env, placed)
	wrong := record(t, env, schemas.TopicSubmissions,
		report("w1", "C1_S03", ballot, schemas.StageFinal, "vol-9", "OrgB", 40).figs(500, 10, 5, 240, 160, 85).r)
	wrong.Partition = (place.ForConstituency("C1", 6) + 1) % 6
	manual := env.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := manual.ProduceSync(ctx, wrong).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(env, &named, "g", "t")
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	stop := start(t, cfg)
	follow(t, env, func(o *outputLog) bool {
		got := o.latest()
		for _, st := range []string{"C1_S01", "C1_S02", "C1_S03"} {
			if _, ok := got[schemas.StationResultKey(st, ballot)]; !ok {
				return false
			}
		}
		return true
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var misplaced float64
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "votestream_consolidate_misplaced_records_total" {
			for _, m := range mf.GetMetric() {
				misplaced += m.GetCounter().GetValue()
			}
		}
	}
	if misplaced != 1 {
		t.Errorf("misplaced records counted: %v, want 1 (the record produced without the partitioner)", misplaced)
	}
}
