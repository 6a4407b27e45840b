package dashboards

import (
	"context"
	"testing"
	"time"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/provision"
)

// TestFieldSQLOnClickHouse runs the field dashboard's SQL on a small hand-made roster and
// night: BKK_1 has four stations (S1 iLaw + WeVis, S2 iLaw, S3 claimed by WeVis, S4 none);
// CMI_1 has one, moved to an iLaw volunteer on the night. S1 has reported; a volunteer
// checked in at S2; iLaw's older roster covered S4 but its newest does not.
func TestFieldSQLOnClickHouse(t *testing.T) {
	env := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database); err != nil {
		t.Fatal(err)
	}
	loaded := at("08:00:00")
	var stations [][]any
	for _, s := range []election.Station{
		{ID: "S1", ConstituencyID: "BKK_1", Subdistrict: "a", Number: 1, EligibleVoters: 500},
		{ID: "S2", ConstituencyID: "BKK_1", Subdistrict: "a", Number: 2, EligibleVoters: 500},
		{ID: "S3", ConstituencyID: "BKK_1", Subdistrict: "a", Number: 3, EligibleVoters: 500},
		{ID: "S4", ConstituencyID: "BKK_1", Subdistrict: "a", Number: 4, EligibleVoters: 500},
		{ID: "S5", ConstituencyID: "CMI_1", Subdistrict: "b", Number: 1, EligibleVoters: 500},
	} {
		row, err := chtable.StationRow(s, loaded)
		if err != nil {
			t.Fatal(err)
		}
		stations = append(stations, row)
	}
	insertRows(t, ctx, env, chtable.Stations, stations)
	older, newer := at("09:00:00").Add(-24*time.Hour), at("09:00:00")
	insertRows(t, ctx, env, chtable.Roster, [][]any{
		chtable.RosterRow("iLaw", "iLaw/1", "p1", "station", "S4", "BKK_1", older),
		chtable.RosterRow("iLaw", "iLaw/1", "p1", "station", "S1", "BKK_1", newer),
		chtable.RosterRow("iLaw", "iLaw/2", "p2", "station", "S2", "BKK_1", newer),
		chtable.RosterRow("iLaw", "iLaw/lead", "p3", "district_lead", "", "BKK_1", newer),
		chtable.RosterRow("WeVis", "WeVis/7", "p4", "station", "S1", "BKK_1", newer),
	})
	ev := func(id, kind, vol, org, station, con, status string, when time.Time) []any {
		return chtable.FieldEventRow(schemas.FieldEvent{EventID: id, Kind: kind, VolunteerID: vol, Org: org, StationID: station, ConstituencyID: con, Status: status, At: when})
	}
	insertRows(t, ctx, env, chtable.FieldEvents, [][]any{
		ev("c1", schemas.FieldClaim, "WeVis/9", "WeVis", "S3", "BKK_1", schemas.ClaimRequested, newer),
		ev("c1", schemas.FieldClaim, "WeVis/9", "WeVis", "S3", "BKK_1", schemas.ClaimAccepted, newer),
		ev("a1", schemas.FieldAssign, "iLaw/2", "iLaw", "S5", "CMI_1", "", at("17:30:00")),
		ev("k1", schemas.FieldCheckin, "iLaw/2", "iLaw", "S2", "BKK_1", "", at("16:50:00")),
	})
	row, err := chtable.ReportRow(schemas.Report{
		Submission: schemas.Submission{SubmissionID: "r1", StationID: "S1", Ballot: "constituency", Stage: schemas.StageFinal,
			CountedAt: at("17:40:00"), BallotsCast: 10, Votes: map[string]int{"1": 10}},
		VolunteerID: "iLaw/1", Org: "iLaw", Role: "station", ReceivedAt: at("17:41:00"), Hash: "sha256:00",
	})
	if err != nil {
		t.Fatal(err)
	}
	insertRows(t, ctx, env, chtable.Submissions, [][]any{row})
	insertRows(t, ctx, env, chtable.Incidents, [][]any{
		chtable.IncidentRow(schemas.Incident{IncidentID: "i1", StationID: "S2", ConstituencyID: "BKK_1", Category: schemas.IncidentCountStopped,
			OccurredAt: at("17:50:00"), Text: "หยุดนับ", Evidence: []string{"sha256:01"}, VolunteerID: "iLaw/2", Org: "iLaw", Role: "station", ReceivedAt: at("17:52:00")}),
		chtable.IncidentRow(schemas.Incident{IncidentID: "i0", StationID: "S2", ConstituencyID: "BKK_1", Category: schemas.IncidentOther,
			OccurredAt: at("12:00:00"), Text: "early", Evidence: []string{}, VolunteerID: "iLaw/2", Org: "iLaw", Role: "station", ReceivedAt: at("12:01:00")}),
	})

	tests := []struct {
		q    Query
		want [][]string
	}{
		{FieldCoverage, [][]string{
			{"BKK_1", "4", "1", "2", "1", "1", "0.25"}, // S4 none; S2, S3 one; S1 two (two orgs)
			{"CMI_1", "1", "0", "1", "0", "0", "0"},
		}},
		{FieldChase, [][]string{
			{"BKK_1", "WeVis", "1", "0", "S3"}, // the claimed station
			{"BKK_1", "iLaw", "1", "1", "S2"},  // S1 reported; S2 silent, checked in; S4 only in the older roster
			{"CMI_1", "iLaw", "1", "0", "S5"},  // moved on the night
		}},
		{FieldIncidents, [][]string{
			{"17:52:00", "17:50:00", "count_stopped", "S2", "BKK_1", "iLaw", "หยุดนับ", "1"}, // the 12:01 one is outside the range
		}},
	}
	for _, tc := range tests {
		t.Run(tc.q.Name, func(t *testing.T) {
			sql, err := Expand(tc.q.SQL, nightRange, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := queryRows(t, ctx, env.Conn, sql)
			if show(got) != show(tc.want) {
				t.Fatalf("%s\n got\n%s want\n%s", tc.q.Name, show(got), show(tc.want))
			}
		})
	}
}
