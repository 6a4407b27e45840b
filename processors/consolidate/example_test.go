package consolidate_test

import (
	"fmt"
	"time"

	"votestream/election"
	"votestream/processors/consolidate"
	"votestream/schemas"
)

// Two volunteers of different organisations photograph the same final form: the result is
// corroborated. A third, of a third organisation, who keyed one figure wrong, raises CONFLICT:
// the result is flagged for review but stays corroborated (one source alone cannot take a
// corroborated count away) until the district lead accepts one of the forms.
func ExampleRules_Apply() {
	country := &election.Country{
		Provinces:      []election.Province{{ID: "P", NameTH: "พี", NameEN: "P", Region: "north"}},
		Constituencies: []election.Constituency{{ID: "P_1", ProvinceID: "P", Number: 1, EligibleVoters: 600, Stations: 1}},
		Stations:       []election.Station{{ID: "P_1_0001", ConstituencyID: "P_1", Subdistrict: "X", Number: 1, EligibleVoters: 600}},
		Parties:        []election.Party{{No: 1, NameTH: "หนึ่ง", NameEN: "One"}, {No: 2, NameTH: "สอง", NameEN: "Two"}},
	}
	if err := country.Index(); err != nil {
		panic(err)
	}
	rules := consolidate.DefaultRules()
	rules.Country = country
	at := time.Date(2023, 5, 14, 18, 0, 0, 0, consolidate.BangkokTime)
	form := func(id, volunteer, org string, votes1 int) consolidate.Input {
		r, err := consolidate.NewReport(schemas.Report{
			Submission: schemas.Submission{SubmissionID: id, StationID: "P_1_0001", Ballot: "partylist", Stage: schemas.StageFinal,
				CountedAt: at, BallotsCast: 400, Invalid: 5, NoVote: 5, Votes: map[string]int{"1": votes1, "2": 390 - votes1}},
			VolunteerID: volunteer, Org: org, Role: schemas.RoleStation, ReceivedAt: at,
		}, country)
		if err != nil {
			panic(err)
		}
		at = at.Add(time.Minute)
		return consolidate.Input{Report: r}
	}
	st, _ := rules.NewStation("P_1_0001")
	show := func(out []consolidate.Output) {
		for _, o := range out {
			switch {
			case o.Anomaly != nil:
				fmt.Println("anomaly", o.Anomaly.Code, o.Anomaly.Severity)
			case o.Result != nil:
				by := ""
				if o.Result.DecidedBy != "" {
					by = " by " + o.Result.DecidedBy
				}
				fmt.Printf("result v%d %s %v %v%s\n", o.Result.Version, o.Result.Status, o.Result.Votes, o.Result.Anomalies, by)
			}
		}
	}
	var out []consolidate.Output
	st, out = rules.Apply(st, form("a", "alice", "WeWatch", 250))
	show(out)
	st, out = rules.Apply(st, form("b", "bob", "iLaw", 250))
	show(out)
	st, out = rules.Apply(st, form("c", "carol", "ThaiPBS", 205))
	show(out)
	rev, _ := consolidate.NewReview(schemas.Review{ReviewID: "r", StationID: "P_1_0001", Ballot: "partylist",
		AcceptSubmissionID: "a", Reason: "matches the photo of the posted form", ReviewerID: "lead-7",
		Role: schemas.RoleDistrictLead, ReceivedAt: at}, country)
	_, out = rules.Apply(st, consolidate.Input{Review: rev})
	show(out)
	// Output:
	// result v1 provisional map[1:250 2:140] []
	// result v2 corroborated map[1:250 2:140] []
	// anomaly CONFLICT hard
	// result v3 corroborated map[1:250 2:140] [CONFLICT]
	// result v4 verified map[1:250 2:140] [] by lead-7
}
