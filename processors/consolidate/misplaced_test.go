package consolidate

import (
	"io"
	"log/slog"
	"testing"

	"votestream/election"
	place "votestream/internal/partition"
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
