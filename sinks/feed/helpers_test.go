package feed

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// smallCountry is election/testdata/small: BKK_1 (stations BKK_1_001 520, _002 480, _003
// 500 eligible; candidates 1 party 29, 2 party 31, 3 party 7; 1,500 eligible), BKK_2
// (BKK_2_001 450, _002 450; candidates 1 party 31, 2 party 29; 900 eligible), CMI_1
// (CMI_1_001 700, _002 500; candidates 1 party 29, 2 party 31, 3 party 7; 1,200
// eligible). Parties 31 ก้าวไกล, 29 เพื่อไทย, 7 ภูมิใจไทย.
func smallCountry(t testing.TB) *election.Country {
	t.Helper()
	c, err := election.LoadCountry(os.DirFS(filepath.Join("..", "..", "election", "testdata", "small")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// t0 is 18:00 on election night, Thai time.
var t0 = time.Date(2023, 5, 14, 11, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// res builds a station result; the constituency id is the station id's first two parts.
func res(station, ballot string, version int64, status schemas.Status, stage schemas.Stage, cast, invalid, noVote int, votes map[string]int, minute int) schemas.StationResult {
	cid := station
	if len(station) > 4 {
		cid = station[:len(station)-4]
	}
	return schemas.StationResult{
		StationID: station, ConstituencyID: cid, Ballot: ballot, Version: version, Status: status, Stage: stage,
		BallotsCast: cast, Invalid: invalid, NoVote: noVote, Votes: votes,
		Sources:   []schemas.Source{{SubmissionID: "s-" + station, VolunteerID: "v1", Org: "org1", Stage: stage, Hash: "sha256:00"}},
		CountedAt: at(minute - 5), UpdatedAt: at(minute),
	}
}

const (
	cons = "constituency"
	pl   = "partylist"
)

var (
	prov  = schemas.StatusProvisional
	corr  = schemas.StatusCorroborated
	disp  = schemas.StatusDisputed
	verif = schemas.StatusVerified
	prog  = schemas.StageProgress
	fin   = schemas.StageFinal
)
