package console

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"votestream/election"
)

func smallCountry(t testing.TB) *election.Country {
	t.Helper()
	c := &election.Country{
		Provinces:      []election.Province{{ID: "P1", NameTH: "หนึ่ง", NameEN: "One", Region: "central"}},
		Constituencies: []election.Constituency{{ID: "C1", ProvinceID: "P1", Number: 1, EligibleVoters: 1200, Stations: 2}},
		Parties:        []election.Party{{No: 1, NameTH: "ก", NameEN: "A"}, {No: 2, NameTH: "ข", NameEN: "B"}},
		Candidates:     []election.Candidate{{ConstituencyID: "C1", No: 1, Name: "หนึ่ง", PartyNo: 1}, {ConstituencyID: "C1", No: 2, Name: "สอง", PartyNo: 2}},
		Stations: []election.Station{
			{ID: "S1", ConstituencyID: "C1", Subdistrict: "x", Number: 1, EligibleVoters: 600},
			{ID: "S2", ConstituencyID: "C1", Subdistrict: "x", Number: 2, EligibleVoters: 600},
		},
	}
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	return c
}

const csvHead = "station_id,ballot,ballots_cast,invalid,no_vote,number,votes\n"

func TestParseOfficialCSV(t *testing.T) {
	c := smallCountry(t)
	good := "\ufeff" + csvHead +
		"S1,constituency,100,5,5,1,60\n" +
		"S1,constituency,100,5,5,2,30\n" +
		"S1,partylist,100,4,6,2,90\n" +
		"S2,constituency,10,0,0,1,10\n"
	rows, errs := ParseOfficialCSV("ok.csv", strings.NewReader(good), c)
	if errs != nil {
		t.Fatalf("errors on a good file: %v", errs)
	}
	if len(rows) != 3 || rows[0].Votes["1"] != 60 || rows[0].Votes["2"] != 30 || rows[1].Ballot != "partylist" || rows[2].Line != 5 {
		t.Fatalf("rows = %+v", rows)
	}
	again, _ := ParseOfficialCSV("ok.csv", strings.NewReader(good), c)
	if again[0].OfficialID != rows[0].OfficialID || rows[0].OfficialID == rows[1].OfficialID {
		t.Fatalf("ids: %s %s %s; want the same file to give the same ids, each row its own", rows[0].OfficialID, again[0].OfficialID, rows[1].OfficialID)
	}
	changed, _ := ParseOfficialCSV("ok.csv", strings.NewReader(strings.Replace(good, "S2,constituency,10,0,0,1,10", "S2,constituency,11,0,1,1,10", 1)), c)
	if changed[0].OfficialID == rows[0].OfficialID {
		t.Fatal("another file gave the same ids: a corrected file would be taken for a retry")
	}

	for _, tc := range []struct {
		name, body string
		want       []string // prefixes of the errors, in order
	}{
		{"empty", "", []string{"f.csv:1: the file is empty"}},
		{"header", "station,ballot,a,b,c,d,e\n", []string{"f.csv:1: column 1"}},
		{"only header", csvHead, []string{"f.csv:2: no rows"}},
		{"many", csvHead +
			"S1,constituency,100,5,5,1,90\n" + // 2: fine (line 2's sum is checked last)
			"S9,constituency,1,0,0,1,1\n" + // 3
			"S1,senate,1,0,0,1,1\n" + // 4
			"S1,constituency,100,5,5,7,1\n" + // 5: no candidate 7
			"S1,constituency,100,5,5,x,1\n" + // 6
			"S1,constituency,100,5,-1,2,1\n" + // 7
			"S1,constituency,100,6,5,2,1\n" + // 8: totals differ from line 2
			"S1,constituency,100,5,5,1,3\n" + // 9: number 1 twice
			"S2,constituency,700,0,0,1,700\n" + // 10: above eligible
			"S2,partylist,1,0,0\n", // 11: too few columns
			[]string{"f.csv:3:", "f.csv:4:", "f.csv:5:", "f.csv:6:", "f.csv:7:", "f.csv:8:", "f.csv:9:", "f.csv:10:", "f.csv:11:"}},
		{"sum", csvHead + "S1,constituency,100,5,5,1,60\nS1,constituency,100,5,5,2,31\n", []string{"f.csv:2: station S1 constituency: votes + invalid + no_vote = 101"}},
		{"quote", csvHead + "S1,constituency,\"100,5,5,1,60\n", []string{"f.csv:2:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, errs := ParseOfficialCSV("f.csv", strings.NewReader(tc.body), c)
			if rows != nil {
				t.Fatalf("rows %+v from a bad file; want none", rows)
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("errors = %q; want %d starting %q", errs, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(errs[i], w) {
					t.Errorf("error %d = %q; want prefix %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestParseOfficialCSVBoundsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(csvHead)
	for i := 0; i < maxCSVErrors+50; i++ {
		fmt.Fprintf(&b, "X%d,constituency,1,0,0,1,1\n", i)
	}
	_, errs := ParseOfficialCSV("big.csv", strings.NewReader(b.String()), smallCountry(t))
	if len(errs) != maxCSVErrors+1 || !strings.Contains(errs[maxCSVErrors], "and 50 more") {
		t.Fatalf("%d errors, last %q; want %d and a count of the rest", len(errs), errs[len(errs)-1], maxCSVErrors)
	}
}

func FuzzParseOfficialCSV(f *testing.F) {
	c := smallCountry(f)
	f.Add(csvHead + "S1,constituency,100,5,5,1,60\nS1,constituency,100,5,5,2,30\n")
	f.Add(csvHead + "S1,partylist,1,0,0,2,1\n\"S2\",constituency,0,0,0,1,0\n")
	f.Add("\ufeff" + csvHead + "S1,constituency,\"1\"\"\",0,0,1,1\n")
	f.Fuzz(func(t *testing.T, body string) {
		rows, errs := ParseOfficialCSV("f.csv", strings.NewReader(body), c)
		if (rows == nil) == (errs == nil) {
			t.Fatalf("rows %v and errors %v: want exactly one", rows, errs)
		}
		for _, r := range rows {
			sum := r.Invalid + r.NoVote
			for _, v := range r.Votes {
				sum += v
			}
			if sum != r.BallotsCast || r.OfficialID == "" {
				t.Fatalf("accepted row %+v does not add up or has no id", r)
			}
		}
		for _, e := range errs {
			if !strings.HasPrefix(e, "f.csv:") {
				t.Fatalf("error %q without file name", e)
			}
		}
		_ = slices.Clone(errs)
	})
}
