package schemas

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// marshalReport is json.Marshal of a report: the reference AppendJSON must match byte for byte.
func marshalReport(t *testing.T, r Report) ([]byte, error) {
	t.Helper()
	type plain Report // no methods: encoding/json's own reflection
	return json.Marshal(plain(r))
}

func checkReport(t *testing.T, r Report) {
	t.Helper()
	want, wantErr := marshalReport(t, r)
	got, err := r.AppendJSON(nil)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("AppendJSON error %v, json.Marshal error %v", err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON differs from json.Marshal:\n got %s\nwant %s", got, want)
	}
	rc := Receipt{SubmissionID: r.SubmissionID, Hash: r.Hash, ReceivedAt: r.ReceivedAt, Duplicate: r.BallotsCast%2 == 1}
	if r.Invalid%2 == 1 { // the log's fields, present or not, with strings that need escaping
		rc.LeafHash, rc.ProofURL = r.StationID, "https://log.example/proof/"+r.VolunteerID
	}
	wantRc, wantErr := json.Marshal(rc)
	gotRc, err := rc.AppendJSON(nil)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(gotRc, wantRc) {
		t.Fatalf("Receipt.AppendJSON = %s, %v; json.Marshal = %s, %v", gotRc, err, wantRc, wantErr)
	}
}

func TestReportAppendJSONMatchesMarshal(t *testing.T) {
	bkk := time.FixedZone("ICT", 7*3600)
	base := Report{
		Submission: Submission{
			SubmissionID: "6f1c2a0e-2b1d-4c3e-9f00-0123456789ab", StationID: "BKK_1_0042", Ballot: "partylist",
			Stage: StageFinal, CountedAt: time.Date(2023, 5, 14, 17, 40, 0, 0, bkk),
			BallotsCast: 450, Invalid: 12, NoVote: 8, Votes: map[string]int{"10": 5, "2": 140, "31": 0, "1": 30},
		},
		VolunteerID: "org-a/0001", Org: "org-a", Role: RoleStation,
		ReceivedAt: time.Date(2023, 5, 14, 10, 41, 2, 123456000, time.UTC), Hash: "sha256:00ff",
	}
	cases := map[string]func(r *Report){
		"plain":                  func(r *Report) {},
		"evidence and person":    func(r *Report) { r.Evidence = []string{"sha256:bb", "sha256:aa"}; r.Person = "ab12" },
		"empty evidence omitted": func(r *Report) { r.Evidence = []string{} },
		"nil votes":              func(r *Report) { r.Votes = nil },
		"empty votes":            func(r *Report) { r.Votes = map[string]int{} },
		"thai and html":          func(r *Report) { r.Org = "องค์กร <A&B>"; r.VolunteerID = "\"q\"\\\n\u2028" },
		"invalid utf-8":          func(r *Report) { r.StationID = "BKK\xff" },
		"negative counts":        func(r *Report) { r.Invalid = -3; r.Votes = map[string]int{"07": -1, "7": 2} },
		"zero times":             func(r *Report) { r.CountedAt, r.ReceivedAt = time.Time{}, time.Time{} },
		"year beyond 9999":       func(r *Report) { r.CountedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"many votes":             func(r *Report) { r.Votes = map[string]int{}; fillVotes(r.Votes, 120) },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			r := base
			r.Votes = map[string]int{}
			for k, v := range base.Votes {
				r.Votes[k] = v
			}
			change(&r)
			checkReport(t, r)
		})
	}
}

func fillVotes(m map[string]int, n int) {
	for i := range n {
		m[string(rune('0'+i%10))+string(rune('0'+i/10%10))+string(rune('a'+i/100))] = i
	}
}

// FuzzReportAppendJSON checks AppendJSON against json.Marshal on arbitrary strings, numbers
// and times.
func FuzzReportAppendJSON(f *testing.F) {
	f.Add("6f1c2a0e-2b1d-4c3e-9f00-0123456789ab", "BKK_1_0042", "partylist", "org-a/0001", "sha256:aa", "1", 450, int64(1684060800), int64(0), 7*3600)
	f.Add("x", "ผู้สมัคร<&>", "\x00\xff", "", "", "07", -1, int64(-62135596800), int64(999999999), -12*3600)
	f.Add("", "", "", "", "", "", 0, int64(253402300800), int64(1), 86399)
	f.Fuzz(func(t *testing.T, id, station, ballot, volunteer, evidence, voteKey string, n int, sec, nsec int64, offset int) {
		zone := time.FixedZone("z", offset%(48*3600))
		r := Report{
			Submission: Submission{SubmissionID: id, StationID: station, Ballot: ballot, Stage: Stage(ballot),
				CountedAt: time.Unix(sec, nsec).In(zone), BallotsCast: n, Invalid: -n, NoVote: n / 3,
				Votes: map[string]int{voteKey: n, "1": 1}},
			VolunteerID: volunteer, Org: station, Role: ballot, ReceivedAt: time.Unix(sec/2, 0).UTC(), Hash: evidence, Person: voteKey,
		}
		if evidence != "" {
			r.Evidence = []string{evidence, id}
		}
		checkReport(t, r)
	})
}
