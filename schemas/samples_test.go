package schemas_test

import (
	"time"

	"votestream/schemas"
)

// Real-looking messages of one constituency (BKK_1) on election night. Times are UTC so that
// a JSON round trip gives back an identical time.Time; time zones are tested on their own.

var (
	closeUTC = time.Date(2023, 5, 14, 10, 0, 0, 0, time.UTC) // 17:00 in Bangkok
	hashA    = "sha256:" + repeat("a1", 32)
	hashB    = "sha256:" + repeat("0f", 32)
)

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func intp(n int) *int { return &n }

func sampleSubmission() schemas.Submission {
	return schemas.Submission{
		SubmissionID: "6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23",
		StationID:    "BKK_1_0042",
		Ballot:       "constituency",
		Stage:        schemas.StageFinal,
		CountedAt:    closeUTC.Add(52 * time.Minute),
		BallotsCast:  512,
		Invalid:      9,
		NoVote:       4,
		Votes:        map[string]int{"1": 230, "2": 180, "7": 89},
		Evidence:     []string{hashA, hashB},
	}
}

func sampleReport() schemas.Report {
	return schemas.Report{
		Submission:  sampleSubmission(),
		VolunteerID: "vol-000917",
		Org:         "ilaw",
		Role:        schemas.RoleStation,
		ReceivedAt:  closeUTC.Add(53 * time.Minute),
		Hash:        "sha256:" + repeat("5c", 32),
	}
}

func sampleStationResult() schemas.StationResult {
	return schemas.StationResult{
		StationID:      "BKK_1_0042",
		ConstituencyID: "BKK_1",
		Ballot:         "partylist",
		Version:        3,
		Status:         schemas.StatusCorroborated,
		Stage:          schemas.StageFinal,
		BallotsCast:    512,
		Invalid:        11,
		NoVote:         6,
		Votes:          map[string]int{"29": 201, "31": 240, "37": 54},
		Sources: []schemas.Source{
			{SubmissionID: "6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23", VolunteerID: "vol-000917", Org: "ilaw", Stage: schemas.StageFinal, Hash: hashA},
			{SubmissionID: "0b7d5a1c-8e2f-4f3a-b6c9-1d2e3f4a5b6c", VolunteerID: "vol-044120", Org: "we-watch", Stage: schemas.StageFinal, Hash: hashB},
		},
		Anomalies: []string{schemas.AnomalyBallotGap},
		CountedAt: closeUTC.Add(50 * time.Minute),
		UpdatedAt: closeUTC.Add(55 * time.Minute),
	}
}

func sampleAnomaly() schemas.Anomaly {
	return schemas.Anomaly{
		AnomalyID:      "ARITH-BKK_1_0042-constituency-5c5c5c5c",
		Code:           schemas.AnomalyArith,
		Severity:       schemas.SeverityHard,
		StationID:      "BKK_1_0042",
		ConstituencyID: "BKK_1",
		Ballot:         "constituency",
		VolunteerID:    "vol-000917",
		Submissions:    []string{"6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23"},
		Message:        "votes 499 + invalid 9 + no_vote 4 = 512, but ballots_cast is 520",
		Evidence:       map[string]string{"sum": "512", "ballots_cast": "520"},
		DetectedAt:     closeUTC.Add(53 * time.Minute),
	}
}

func sampleEstimate() schemas.Estimate {
	return schemas.Estimate{
		EstimateID:       "est-20230514T120000Z-0007",
		DataTime:         closeUTC.Add(2 * time.Hour),
		ComputedAt:       closeUTC.Add(2*time.Hour + 3*time.Second),
		StationsReported: 41877,
		StationsTotal:    95137,
		EligibleReported: 21504311,
		EligibleTotal:    52287045,
		Parties: []schemas.PartyEstimate{
			{PartyNo: 31, CountedVotes: 5012345, ProjectedVotes: 14100000, Share: 0.378, ShareLo: 0.371, ShareHi: 0.385, Seats: 39},
			{PartyNo: 29, CountedVotes: 3401234, ProjectedVotes: 10900000, Share: 0.292, ShareLo: 0.286, ShareHi: 0.298, Seats: 30},
		},
		Constituencies: []schemas.ConstituencyEstimate{
			{
				ConstituencyID: "BKK_1", LeaderNo: 7, WinProbability: 0.93, Call: schemas.CallLikely,
				StationsReported: 180, StationsTotal: 241, EligibleReported: 98000, EligibleTotal: 131000,
				Candidates: []schemas.CandidateEstimate{
					{CandidateNo: 1, CountedVotes: 20100, ProjectedVotes: 26800},
					{CandidateNo: 7, CountedVotes: 31050, ProjectedVotes: 41300},
				},
			},
			{ConstituencyID: "MSN_1", Call: schemas.CallTooEarly, StationsTotal: 260, EligibleTotal: 140000},
		},
	}
}

func sampleReviewAccept() schemas.Review {
	return schemas.Review{
		ReviewID:           "rev-0001",
		StationID:          "BKK_1_0042",
		Ballot:             "constituency",
		AcceptSubmissionID: "6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23",
		Reason:             "photo of the signed form matches this report",
		ReviewerID:         "lead-BKK_1",
		Role:               schemas.RoleDistrictLead,
		ReceivedAt:         closeUTC.Add(70 * time.Minute),
	}
}

func sampleReviewFigures() schemas.Review {
	return schemas.Review{
		ReviewID:    "rev-0002",
		StationID:   "BKK_1_0042",
		Ballot:      "partylist",
		BallotsCast: intp(512),
		Invalid:     intp(11),
		NoVote:      intp(6),
		Votes:       map[string]int{"29": 201, "31": 240, "37": 54},
		Reason:      "both reports mis-keyed; figures read from the form photo",
		ReviewerID:  "warroom-3",
		Role:        schemas.RoleWarRoom,
		ReceivedAt:  closeUTC.Add(80 * time.Minute),
	}
}

func sampleOfficial() schemas.Official {
	return schemas.Official{
		OfficialID:  "off-BKK_1_0042-constituency",
		StationID:   "BKK_1_0042",
		Ballot:      "constituency",
		BallotsCast: 512,
		Invalid:     9,
		NoVote:      4,
		Votes:       map[string]int{"1": 230, "2": 180, "7": 89},
		EnteredBy:   "lead-BKK_1",
		Role:        schemas.RoleDistrictLead,
		ReceivedAt:  closeUTC.Add(3 * time.Hour),
	}
}

func sampleReceipt() schemas.Receipt {
	return schemas.Receipt{
		SubmissionID: "6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23",
		Hash:         hashA,
		ReceivedAt:   closeUTC.Add(53 * time.Minute),
	}
}

// sample is one message with the schema it must conform to.
type sample struct {
	name   string
	schema string // "" when the type has no schema file (Receipt)
	value  any    // a value, not a pointer
}

func samples() []sample {
	return []sample{
		{"submission", schemas.SchemaSubmission, sampleSubmission()},
		{"report", schemas.SchemaReport, sampleReport()},
		{"station result", schemas.SchemaStationResult, sampleStationResult()},
		{"station result, nothing yet", schemas.SchemaStationResult, schemas.StationResult{
			StationID: "NAN_2_0001", ConstituencyID: "NAN_2", Ballot: "constituency", Version: 1,
			Status: schemas.StatusDisputed, Stage: schemas.StageProgress, CountedAt: closeUTC, UpdatedAt: closeUTC,
		}},
		{"anomaly", schemas.SchemaAnomaly, sampleAnomaly()},
		{"anomaly on a volunteer", schemas.SchemaAnomaly, schemas.Anomaly{
			AnomalyID: "SPREAD-vol-000917", Code: schemas.AnomalySpread, Severity: schemas.SeveritySoft,
			VolunteerID: "vol-000917", Message: "reports for 14 stations in 3 constituencies", DetectedAt: closeUTC,
		}},
		{"estimate", schemas.SchemaEstimate, sampleEstimate()},
		{"empty estimate", schemas.SchemaEstimate, schemas.Estimate{EstimateID: "est-0", DataTime: closeUTC, ComputedAt: closeUTC}},
		{"review accepting a source", schemas.SchemaReview, sampleReviewAccept()},
		{"review with figures", schemas.SchemaReview, sampleReviewFigures()},
		{"official", schemas.SchemaOfficial, sampleOfficial()},
		{"receipt", "", sampleReceipt()},
		{"evidence", schemas.SchemaEvidence, schemas.Evidence{
			Evidence: hashA, Bytes: 2483112, VolunteerID: "vol-000917", ReceivedAt: closeUTC.Add(54 * time.Minute),
		}},
		{"checkpoint", schemas.SchemaCheckpoint, sampleCheckpoint()},
	}
}

func sampleCheckpoint() schemas.Checkpoint {
	return schemas.Checkpoint{
		Origin: "log.example.org/votestream-2023", Size: 1048577,
		RootHash:  "x1X3gYZ8Nn2uHjOv4Hq1sQ2aB0dE6fG8hJ9kL0mN1oQ=",
		Note:      "log.example.org/votestream-2023\n1048577\nx1X3gYZ8Nn2uHjOv4Hq1sQ2aB0dE6fG8hJ9kL0mN1oQ=\n\n— log.example.org/votestream-2023 Az3grlgt...\n",
		Cosigners: []string{"witness.ilaw.example"}, PublishedAt: closeUTC.Add(3 * time.Hour),
	}
}
