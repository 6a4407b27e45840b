package schemas_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"votestream/schemas"
)

// The canonical form and its hash, worked by hand: the expected hashes come from sha256sum
// over the expected bytes, not from this package.
func TestCanonicalJSONByHand(t *testing.T) {
	cases := []struct {
		name string
		sub  schemas.Submission
		json string
		hash string
	}{
		{
			name: "DESIGN.md example, evidence sorted, time to UTC",
			sub: func() schemas.Submission {
				s := sampleSubmission()
				s.CountedAt = time.Date(2023, 5, 14, 17, 52, 0, 0, time.FixedZone("ICT", 7*3600))
				return s
			}(),
			json: `{"station_id":"BKK_1_0042","ballot":"constituency","stage":"final","counted_at":"2023-05-14T10:52:00Z","ballots_cast":512,"invalid":9,"no_vote":4,"votes":{"1":230,"2":180,"7":89},"evidence":["` + hashB + `","` + hashA + `"]}`,
			hash: "sha256:8f31f6f9a09f9bdf4c1ba1e2e525eb727dacd342f9f7b9f849efbd3fa0eba94c",
		},
		{
			name: "numeric key order, zero votes dropped, no evidence, half a second",
			sub: schemas.Submission{
				SubmissionID: "00000000-0000-0000-0000-000000000000", StationID: "S1", Ballot: "partylist",
				Stage: schemas.StageProgress, CountedAt: time.Date(2023, 5, 14, 10, 20, 0, 5e8, time.UTC),
				BallotsCast: 100, Votes: map[string]int{"31": 25, "10": 35, "2": 40, "7": 0},
			},
			json: `{"station_id":"S1","ballot":"partylist","stage":"progress","counted_at":"2023-05-14T10:20:00.5Z","ballots_cast":100,"invalid":0,"no_vote":0,"votes":{"2":40,"10":35,"31":25},"evidence":[]}`,
			hash: "sha256:87a7c529267ec01579298ef60ef1a9a34e9a4f98002b51a58cf95518598f1be0",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(schemas.CanonicalJSON(c.sub)); got != c.json {
				t.Errorf("CanonicalJSON\n got %s\nwant %s", got, c.json)
			}
			if got := schemas.CanonicalHash(c.sub); got != c.hash {
				t.Errorf("CanonicalHash = %s, want %s", got, c.hash)
			}
		})
	}
}

// Documents that say the same thing differently decode to the same hash; documents that
// differ in any reported figure do not.
func TestCanonicalHashInvariance(t *testing.T) {
	base := `{"submission_id":"6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23","station_id":"BKK_1_0042","ballot":"constituency","stage":"final","counted_at":"2023-05-14T17:52:00+07:00","ballots_cast":512,"invalid":9,"no_vote":4,"votes":{"1":230,"2":180,"7":89},"evidence":["` + hashA + `","` + hashB + `"]}`
	same := map[string]string{
		"keys reordered and spaced": `{
			"votes": { "7": 89, "2": 180, "1": 230 },
			"evidence": ["` + hashB + `", "` + hashA + `"],
			"no_vote": 4, "invalid": 9, "ballots_cast": 512,
			"counted_at": "2023-05-14T17:52:00+07:00", "stage": "final", "ballot": "constituency",
			"station_id": "BKK_1_0042", "submission_id": "6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23"
		}`,
		"counted_at in UTC":              strings.Replace(base, "2023-05-14T17:52:00+07:00", "2023-05-14T10:52:00Z", 1),
		"counted_at in another zone":     strings.Replace(base, "2023-05-14T17:52:00+07:00", "2023-05-14T12:52:00+02:00", 1),
		"counted_at with zero fraction":  strings.Replace(base, "2023-05-14T17:52:00+07:00", "2023-05-14T17:52:00.000+07:00", 1),
		"an explicit zero for candidate": strings.Replace(base, `"7":89}`, `"7":89,"5":0}`, 1),
		"another submission id":          strings.Replace(base, "6f1c2b9e", "11111111", 1),
	}
	differ := map[string]string{
		"one vote moved":         strings.Replace(base, `"1":230,"2":180`, `"1":229,"2":181`, 1),
		"ballots cast":           strings.Replace(base, `"ballots_cast":512`, `"ballots_cast":513`, 1),
		"invalid and no_vote":    strings.Replace(base, `"invalid":9,"no_vote":4`, `"invalid":4,"no_vote":9`, 1),
		"votes under another no": strings.Replace(base, `"7":89`, `"8":89`, 1),
		"other ballot":           strings.Replace(base, `"ballot":"constituency"`, `"ballot":"partylist"`, 1),
		"progress, not final":    strings.Replace(base, `"stage":"final"`, `"stage":"progress"`, 1),
		"a second later":         strings.Replace(base, "17:52:00+07:00", "17:52:01+07:00", 1),
		"a millisecond later":    strings.Replace(base, "17:52:00+07:00", "17:52:00.001+07:00", 1),
		"one photo fewer":        strings.Replace(base, `,"`+hashB+`"`, "", 1),
		"other station":          strings.Replace(base, "BKK_1_0042", "BKK_1_0043", 1),
	}
	want := hashOf(t, base)
	for name, doc := range same {
		if got := hashOf(t, doc); got != want {
			t.Errorf("%s: hash %s, want %s as for the base document", name, got, want)
		}
	}
	for name, doc := range differ {
		if got := hashOf(t, doc); got == want {
			t.Errorf("%s: same hash as the base document", name)
		}
	}
}

func hashOf(t *testing.T, doc string) string {
	t.Helper()
	s, err := schemas.DecodeSubmission([]byte(doc))
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return schemas.CanonicalHash(s)
}

// The hash does not depend on the evidence slice's order nor change it.
func TestCanonicalHashLeavesInputAlone(t *testing.T) {
	s := sampleSubmission()
	s.Evidence = []string{hashA, hashB}
	_ = schemas.CanonicalHash(s)
	if s.Evidence[0] != hashA {
		t.Error("CanonicalHash reordered the caller's evidence")
	}
}

func ExampleCanonicalHash() {
	s := schemas.Submission{
		SubmissionID: "6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23",
		StationID:    "S1",
		Ballot:       "partylist",
		Stage:        schemas.StageProgress,
		CountedAt:    time.Date(2023, 5, 14, 17, 20, 0, 5e8, time.FixedZone("ICT", 7*3600)),
		BallotsCast:  100,
		Votes:        map[string]int{"31": 25, "10": 35, "2": 40},
	}
	fmt.Println(string(schemas.CanonicalJSON(s)))
	fmt.Println(schemas.CanonicalHash(s))
	// Output:
	// {"station_id":"S1","ballot":"partylist","stage":"progress","counted_at":"2023-05-14T10:20:00.5Z","ballots_cast":100,"invalid":0,"no_vote":0,"votes":{"2":40,"10":35,"31":25},"evidence":[]}
	// sha256:87a7c529267ec01579298ef60ef1a9a34e9a4f98002b51a58cf95518598f1be0
}
