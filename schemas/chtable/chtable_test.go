package chtable_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"votestream/election"
	"votestream/schemas"
	"votestream/schemas/chtable"
)

var at = time.Date(2023, 5, 14, 10, 52, 0, 0, time.UTC)

func TestReportRow(t *testing.T) {
	r := schemas.Report{
		Submission: schemas.Submission{
			SubmissionID: "6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23", StationID: "BKK_1_0042", Ballot: "constituency",
			Stage: schemas.StageFinal, CountedAt: at, BallotsCast: 512, Invalid: 9, NoVote: 4,
			Votes: map[string]int{"10": 1, "2": 180, "1": 318},
		},
		VolunteerID: "vol-1", Org: "ilaw", Role: "station", ReceivedAt: at.Add(time.Minute), Hash: "sha256:00",
	}
	got, err := chtable.ReportRow(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		"6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23", "BKK_1_0042", "constituency", "final", at,
		uint32(512), uint32(9), uint32(4), []uint16{1, 2, 10}, []uint32{318, 180, 1}, []string{},
		"vol-1", "ilaw", "station", at.Add(time.Minute), "sha256:00",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row\n got %#v\nwant %#v", got, want)
	}
	if len(got) != len(chtable.Submissions.Columns) {
		t.Errorf("%d values for %d columns", len(got), len(chtable.Submissions.Columns))
	}
}

func TestReviewRowNulls(t *testing.T) {
	five := 5
	got, err := chtable.ReviewRow(schemas.Review{ReviewID: "r1", StationID: "S", Ballot: "partylist", AcceptSubmissionID: "x", NoVote: &five, Reason: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if got[4].(*uint32) != nil || got[5].(*uint32) != nil || *got[6].(*uint32) != 5 {
		t.Errorf("figures %v %v %v, want nil nil 5", got[4], got[5], got[6])
	}
	if !reflect.DeepEqual(got[7], []uint16{}) || !reflect.DeepEqual(got[8], []uint32{}) {
		t.Errorf("no votes should be empty arrays, got %#v %#v", got[7], got[8])
	}
	if got[12].(time.Time).Unix() != 0 {
		t.Errorf("an unset received_at should be stored as the epoch, got %v", got[12])
	}
}

func TestAnomalyEvidenceSorted(t *testing.T) {
	got, err := chtable.AnomalyRow(schemas.Anomaly{AnomalyID: "a", Evidence: map[string]string{"sum": "512", "ballots_cast": "520"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got[9], []string{"ballots_cast", "sum"}) || !reflect.DeepEqual(got[10], []string{"520", "512"}) {
		t.Errorf("evidence %v %v", got[9], got[10])
	}
}

func TestOutOfRange(t *testing.T) {
	cases := map[string]func() error{
		"negative count": func() error {
			_, err := chtable.OfficialRow(schemas.Official{OfficialID: "o", Invalid: -1})
			return err
		},
		"vote key not a number": func() error {
			_, err := chtable.StationResultRow(schemas.StationResult{Votes: map[string]int{"x": 1}})
			return err
		},
		"vote key above UInt16": func() error {
			_, err := chtable.StationResultRow(schemas.StationResult{Votes: map[string]int{"70000": 1}})
			return err
		},
		"negative version": func() error {
			_, err := chtable.StationResultRow(schemas.StationResult{Version: -1})
			return err
		},
		"negative projected votes": func() error {
			_, _, _, err := chtable.EstimateRows(schemas.Estimate{Parties: []schemas.PartyEstimate{{PartyNo: 1, ProjectedVotes: -3}}})
			return err
		},
		"party number above UInt16": func() error {
			_, err := chtable.PartyRow(election.Party{No: 1 << 20}, at)
			return err
		},
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, chtable.ErrOutOfRange) {
			t.Errorf("%s: %v, want ErrOutOfRange", name, err)
		}
	}
}

// Every message maps to rows with exactly one value per column of its table.
func TestMessageRowsWidth(t *testing.T) {
	n := 7
	msgs := []any{
		schemas.Report{},
		&schemas.StationResult{Sources: []schemas.Source{{SubmissionID: "s"}}},
		schemas.Anomaly{},
		&schemas.Estimate{
			Parties:        []schemas.PartyEstimate{{PartyNo: 31}, {PartyNo: 29}},
			Constituencies: []schemas.ConstituencyEstimate{{ConstituencyID: "C", Candidates: []schemas.CandidateEstimate{{CandidateNo: 1}}}},
		},
		schemas.Review{BallotsCast: &n},
		schemas.Official{},
		schemas.Evidence{},
		&schemas.Checkpoint{Cosigners: []string{"w"}},
		schemas.FieldEvent{},
		&schemas.Incident{},
		schemas.Refusal{},
		schemas.Call{},
	}
	for _, m := range msgs {
		rows, err := chtable.MessageRows(m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		for _, r := range rows {
			for _, row := range r.Rows {
				if len(row) != len(r.Table.Columns) {
					t.Errorf("%T -> %s: %d values for %d columns", m, r.Table.Name, len(row), len(r.Table.Columns))
				}
			}
		}
	}
	if rows, _ := chtable.MessageRows(msgs[3]); len(rows) != 4 || len(rows[1].Rows) != 2 || len(rows[2].Rows) != 1 || len(rows[3].Rows) != 1 {
		t.Errorf("estimate rows: %d tables", len(rows))
	}
	if _, err := chtable.MessageRows((*schemas.Report)(nil)); err == nil {
		t.Error("nil report accepted")
	}
	if _, err := chtable.MessageRows(schemas.Submission{}); err == nil {
		t.Error("a bare submission has no table and must be refused")
	}
	for _, f := range []func() ([]any, error){
		func() ([]any, error) { return chtable.ConstituencyRow(election.Constituency{ID: "C"}, at) },
		func() ([]any, error) { return chtable.StationRow(election.Station{ID: "S", Urban: true}, at) },
		func() ([]any, error) { return chtable.PartyRow(election.Party{No: 1}, at) },
		func() ([]any, error) { return chtable.CandidateRow(election.Candidate{ConstituencyID: "C", No: 1}, at) },
	} {
		if _, err := f(); err != nil {
			t.Error(err)
		}
	}
}

func TestInsertQuery(t *testing.T) {
	got := chtable.Parties.InsertQuery("vs")
	if want := "INSERT INTO `vs`.parties (party_no, name_th, name_en, loaded_at)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := chtable.Parties.InsertQuery(""); got != "INSERT INTO parties (party_no, name_th, name_en, loaded_at)" {
		t.Errorf("unqualified: %q", got)
	}
}
