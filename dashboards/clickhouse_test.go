package dashboards

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/provision"
)

var bangkok = time.FixedZone("ICT", 7*3600)

// at is a time on election night, 14 May 2023, Bangkok time.
func at(hhmmss string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", "2023-05-14 "+hhmmss, bangkok)
	if err != nil {
		panic(err)
	}
	return t
}

// nightRange is the dashboard time range the test expands $__timeFilter with.
var nightRange = TimeRange{From: at("17:00:00"), To: at("20:00:00")}

// TestPanelSQLOnClickHouse runs every panel's SQL, expanded as Grafana would, on a migrated
// ClickHouse holding a small hand-made night, on a connection whose default database is the
// test's (as the data source's is votestream), and checks the key panels' figures.
//
// The night: BKK_1 has stations S1-S3, CMI_1 has S4-S5, CMI_2 has S6. Candidate numbers
// differ from party numbers, as on the real ballot.
//
//	station ballot        versions (updated_at, status)                      current
//	S1      constituency  17:40 provisional, 17:50 corroborated (re-sent)     corroborated, final
//	S1      partylist     17:45 verified                                      verified, final
//	S2      constituency  17:42 provisional, 17:55 disputed (CONFLICT)        disputed
//	S2      partylist     17:44 disputed (ARITH)                              disputed
//	S3      constituency  18:05 provisional                                   provisional, progress
//	S4      constituency  17:47 verified                                      verified
//	S4      partylist     17:48 disputed, 17:52 corroborated                  corroborated
//	S5, S6  -             nothing
func TestPanelSQLOnClickHouse(t *testing.T) {
	env := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database); err != nil {
		t.Fatal(err)
	}
	loadNight(t, ctx, env)

	run := func(t *testing.T, q Query, constituency string) [][]string {
		t.Helper()
		sql, err := Expand(q.SQL, nightRange, map[string]string{ConstituencyVariable: constituency})
		if err != nil {
			t.Fatal(err)
		}
		return queryRows(t, ctx, env.Conn, sql)
	}

	// Every query runs, for a constituency with results and for one without any.
	for _, q := range WarRoomQueries() {
		t.Run("runs/"+q.Name, func(t *testing.T) { run(t, q, "") })
	}
	for _, q := range ConstituencyQueries() {
		for _, c := range []string{"BKK_1", "CMI_2", "NO_SUCH"} {
			t.Run("runs/"+q.Name+"/"+c, func(t *testing.T) { run(t, q, c) })
		}
	}

	tests := []struct {
		q            Query
		constituency string
		want         [][]string
	}{
		{StationsReported, "", [][]string{
			// S2 is disputed now and left out; S4's party-list result counts from 17:52,
			// when it stopped being disputed.
			{"17:40:00", "constituency", "1"},
			{"17:45:00", "partylist", "1"},
			{"17:47:00", "constituency", "2"},
			{"17:52:00", "partylist", "2"},
			{"18:05:00", "constituency", "3"},
		}},
		{ReportsPerMinute, "", [][]string{
			{"17:39:00", "final", "1"}, // s1 was delivered twice
			{"17:41:00", "progress", "1"},
			{"17:43:00", "final", "1"},
			{"17:44:00", "final", "1"},
			{"17:46:00", "final", "1"},
			{"17:49:00", "final", "1"},
			{"17:51:00", "final", "2"},
			{"17:54:00", "final", "1"},
			{"18:04:00", "progress", "1"},
			// s0 at 16:30 is outside the time range.
		}},
		{StationsByStatus, "", [][]string{
			{"provisional", "1", "0"},  // S3 | -
			{"corroborated", "1", "1"}, // S1 | S4
			{"disputed", "1", "1"},     // S2 | S2
			{"verified", "1", "1"},     // S4 | S1
			{"no result", "2", "3"},    // S5 S6 | S3 S5 S6
		}},
		{AnomaliesByCode, "", [][]string{
			{"ARITH", "1", "1", "0"},
			{"CONFLICT", "1", "0", "0"}, // delivered twice, one flag
			{"EARLY", "0", "0", "1"},    // the 12:00 one is outside the time range
			{"SPREAD", "0", "1", "0"},
			{"TURNOUT_OUTLIER", "0", "1", "0"},
		}},
		{DisputedStations, "", [][]string{
			{"17:55:00", "S2", "BKK_1", "constituency", "CONFLICT", "2", "org-a, org-b", "2"},
			{"17:44:00", "S2", "BKK_1", "partylist", "ARITH", "1", "org-a", "1"},
		}},
		{PartyShares, "", [][]string{ // run e2, not the older e1
			{"1", "พรรคหนึ่ง", "0.45", "0.41", "0.49", "1200", "14000000"},
			{"2", "พรรคสอง", "0.4", "0.36", "0.44", "1100", "12400000"},
			{"3", "party 3", "0.15", "0.12", "0.18", "400", "4700000"},
		}},
		{ProjectedSeats, "", [][]string{
			// party 1: 46 list + CMI_1 (leader candidate 1 is party 1);
			// party 2: 41 list + BKK_1 (leader candidate 1 is party 2).
			{"พรรคหนึ่ง", "46", "1"},
			{"พรรคสอง", "41", "1"},
			{"party 3", "13", "0"},
		}},
		{CallStates, "", [][]string{
			{"too_early", "1"}, {"leading", "1"}, {"likely", "1"}, {"called", "0"},
		}},
		{IngestLag, "", [][]string{
			{"17:50:30", "30"}, // e1: data 17:50:00
			{"18:00:20", "20"}, // e2 (published twice): data 18:00:00
		}},
		{ConstituencyList, "", [][]string{{"BKK_1"}, {"CMI_1"}, {"CMI_2"}}},
		{ConstituencyProjection, "BKK_1", [][]string{
			{"likely", "1", "สมชาย ใจดี", "0.8", "2", "3", "18:00:00"},
		}},
		{ConstituencyStations, "BKK_1", [][]string{
			// reported, disputed, verified, final, total
			{"constituency", "2", "1", "0", "1", "3"}, // S1 S3 | S2 | - | S1
			{"partylist", "1", "1", "1", "1", "3"},    // S1 | S2 | S1 | S1
		}},
		{ConstituencyStations, "CMI_2", [][]string{
			{"constituency", "0", "0", "0", "0", "1"},
			{"partylist", "0", "0", "0", "0", "1"},
		}},
		{ConstituencyCandidates, "BKK_1", [][]string{
			// counted: S1 + S3 (S2 is disputed); projected: run e2.
			{"1", "สมชาย ใจดี", "พรรคสอง", "290", "480"},
			{"2", "สมหญิง รักไทย", "พรรคหนึ่ง", "260", "430"},
			{"3", "Somsak", "party 3", "80", "130"},
		}},
		{ConstituencyAnomalies, "BKK_1", [][]string{
			{"18:05:00", "S3", "constituency", "TURNOUT_OUTLIER", "soft", "turnout far above the constituency"},
			{"17:55:00", "S2", "constituency", "CONFLICT", "hard", "two final counts disagree"},
			{"17:44:00", "S2", "partylist", "ARITH", "hard", "votes do not add up"},
			{"17:39:00", "S1", "constituency", "EARLY", "info", "counted before 17:00"},
		}},
	}
	for _, tc := range tests {
		t.Run("figures/"+tc.q.Name+"/"+tc.constituency, func(t *testing.T) {
			got := run(t, tc.q, tc.constituency)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", show(got), show(tc.want))
			}
		})
	}
}

func show(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("  " + strings.Join(r, " | ") + "\n")
	}
	return b.String()
}

// queryRows runs sql and renders every value as text: times as Bangkok clock time, numbers
// as Go prints them.
func queryRows(t *testing.T, ctx context.Context, conn driver.Conn, sql string) [][]string {
	t.Helper()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out [][]string
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("scan: %v\n%s", err, sql)
		}
		row := make([]string, len(dest))
		for i, d := range dest {
			switch v := reflect.ValueOf(d).Elem().Interface().(type) {
			case time.Time:
				row[i] = v.In(bangkok).Format("15:04:05")
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	return out
}

func insertRows(t *testing.T, ctx context.Context, env *testenv.ClickHouseEnv, tb chtable.Table, rows [][]any) {
	t.Helper()
	if len(rows) == 0 {
		return
	}
	b, err := env.Conn.PrepareBatch(ctx, tb.InsertQuery(""))
	if err != nil {
		t.Fatalf("%s: %v", tb.Name, err)
	}
	defer b.Close()
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			t.Fatalf("%s: append %v: %v", tb.Name, r, err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatalf("%s: send: %v", tb.Name, err)
	}
}

// loadNight inserts the night of TestPanelSQLOnClickHouse through chtable's row mapping,
// as the loader and the sink do.
func loadNight(t *testing.T, ctx context.Context, env *testenv.ClickHouseEnv) {
	t.Helper()
	must := func(row []any, err error) []any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return row
	}
	loaded := at("08:00:00")

	var provinces, constituencies, stations, parties, candidates [][]any
	for _, p := range []election.Province{
		{ID: "BKK", NameTH: "กรุงเทพมหานคร", NameEN: "Bangkok", Region: "central"},
		{ID: "CMI", NameTH: "เชียงใหม่", NameEN: "Chiang Mai", Region: "north"},
	} {
		provinces = append(provinces, chtable.ProvinceRow(p, loaded))
	}
	for _, c := range []election.Constituency{
		{ID: "BKK_1", ProvinceID: "BKK", Number: 1, EligibleVoters: 1500, Stations: 3},
		{ID: "CMI_1", ProvinceID: "CMI", Number: 1, EligibleVoters: 1000, Stations: 2},
		{ID: "CMI_2", ProvinceID: "CMI", Number: 2, EligibleVoters: 450, Stations: 1},
	} {
		constituencies = append(constituencies, must(chtable.ConstituencyRow(c, loaded)))
	}
	for _, s := range []election.Station{
		{ID: "S1", ConstituencyID: "BKK_1", Subdistrict: "Phra Nakhon", Number: 1, EligibleVoters: 500, Urban: true},
		{ID: "S2", ConstituencyID: "BKK_1", Subdistrict: "Phra Nakhon", Number: 2, EligibleVoters: 400, Urban: true},
		{ID: "S3", ConstituencyID: "BKK_1", Subdistrict: "Wang Burapha", Number: 3, EligibleVoters: 600, Urban: true},
		{ID: "S4", ConstituencyID: "CMI_1", Subdistrict: "Si Phum", Number: 1, EligibleVoters: 300, Priority: true},
		{ID: "S5", ConstituencyID: "CMI_1", Subdistrict: "Si Phum", Number: 2, EligibleVoters: 700},
		{ID: "S6", ConstituencyID: "CMI_2", Subdistrict: "Mae Rim", Number: 1, EligibleVoters: 450},
	} {
		stations = append(stations, must(chtable.StationRow(s, loaded)))
	}
	for _, p := range []election.Party{
		{No: 1, NameTH: "พรรคหนึ่ง", NameEN: "Party One"},
		{No: 2, NameTH: "พรรคสอง", NameEN: "Party Two"},
		{No: 3}, // no name: panels fall back to "party 3"
	} {
		parties = append(parties, must(chtable.PartyRow(p, loaded)))
	}
	for _, c := range []election.Candidate{
		{ConstituencyID: "BKK_1", No: 1, Name: "สมชาย ใจดี", PartyNo: 2},
		{ConstituencyID: "BKK_1", No: 2, Name: "สมหญิง รักไทย", PartyNo: 1},
		{ConstituencyID: "BKK_1", No: 3, Name: "Somsak", PartyNo: 3},
		{ConstituencyID: "CMI_1", No: 1, Name: "Malee", PartyNo: 1},
		{ConstituencyID: "CMI_1", No: 2, Name: "Somchai", PartyNo: 2},
		{ConstituencyID: "CMI_2", No: 1, Name: "Arun", PartyNo: 3},
		{ConstituencyID: "CMI_2", No: 2, Name: "Boon", PartyNo: 1},
	} {
		candidates = append(candidates, must(chtable.CandidateRow(c, loaded)))
	}
	insertRows(t, ctx, env, chtable.Provinces, provinces)
	insertRows(t, ctx, env, chtable.Constituencies, constituencies)
	insertRows(t, ctx, env, chtable.Stations, stations)
	insertRows(t, ctx, env, chtable.Parties, parties)
	insertRows(t, ctx, env, chtable.Candidates, candidates)

	// Reports: id, station, ballot, stage, org, received_at. s1 is delivered twice.
	var reports [][]any
	for _, r := range []struct{ id, station, ballot, stage, org, received string }{
		{"s0", "S1", "constituency", "progress", "org-a", "16:30:00"},
		{"s1", "S1", "constituency", "final", "org-a", "17:39:10"},
		{"s1", "S1", "constituency", "final", "org-a", "17:39:10"},
		{"s2", "S2", "constituency", "progress", "org-a", "17:41:05"},
		{"s3", "S2", "partylist", "final", "org-a", "17:43:40"},
		{"s4", "S1", "partylist", "final", "org-a", "17:44:50"},
		{"s5", "S4", "constituency", "final", "org-c", "17:46:10"},
		{"s6", "S1", "constituency", "final", "org-b", "17:49:30"},
		{"s7", "S4", "partylist", "final", "org-c", "17:51:00"},
		{"s8", "S4", "partylist", "final", "org-b", "17:51:40"},
		{"s9", "S2", "constituency", "final", "org-b", "17:54:20"},
		{"s10", "S3", "constituency", "progress", "org-a", "18:04:30"},
	} {
		rep := schemas.Report{
			Submission: schemas.Submission{
				SubmissionID: r.id, StationID: r.station, Ballot: r.ballot, Stage: schemas.Stage(r.stage),
				CountedAt: at(r.received).Add(-2 * time.Minute), BallotsCast: 100, Votes: map[string]int{"1": 100},
			},
			VolunteerID: "v-" + r.id, Org: r.org, Role: schemas.RoleStation, ReceivedAt: at(r.received), Hash: "sha256:" + r.id,
		}
		reports = append(reports, must(chtable.ReportRow(rep)))
	}
	insertRows(t, ctx, env, chtable.Submissions, reports)

	result := func(station, constituency, ballot string, version int64, status schemas.Status, stage schemas.Stage,
		updated string, votes map[string]int, orgs []string, anomalies ...string) []any {
		sum := 0
		for _, n := range votes {
			sum += n
		}
		var sources []schemas.Source
		for i, o := range orgs {
			sources = append(sources, schemas.Source{SubmissionID: fmt.Sprintf("%s-%s-%d", station, ballot, i), VolunteerID: "v", Org: o, Stage: stage})
		}
		return must(chtable.StationResultRow(schemas.StationResult{
			StationID: station, ConstituencyID: constituency, Ballot: ballot, Version: version, Status: status, Stage: stage,
			BallotsCast: sum + 10, Invalid: 6, NoVote: 4, Votes: votes, Sources: sources, Anomalies: anomalies,
			CountedAt: at(updated).Add(-5 * time.Minute), UpdatedAt: at(updated),
		}))
	}
	s1c := map[string]int{"1": 200, "2": 150, "3": 50}
	s1p := map[string]int{"1": 180, "2": 170, "3": 40}
	s2c := map[string]int{"1": 100, "2": 120}
	s3c := map[string]int{"1": 90, "2": 110, "3": 30}
	s4c := map[string]int{"1": 150, "2": 100}
	s4p := map[string]int{"1": 120, "2": 110, "3": 20}
	insertRows(t, ctx, env, chtable.StationResults, [][]any{
		result("S1", "BKK_1", "constituency", 1, schemas.StatusProvisional, schemas.StageFinal, "17:40:00", s1c, []string{"org-a"}),
		result("S1", "BKK_1", "constituency", 2, schemas.StatusCorroborated, schemas.StageFinal, "17:50:00", s1c, []string{"org-a", "org-b"}),
		result("S1", "BKK_1", "constituency", 2, schemas.StatusCorroborated, schemas.StageFinal, "17:50:00", s1c, []string{"org-a", "org-b"}),
		result("S1", "BKK_1", "partylist", 1, schemas.StatusVerified, schemas.StageFinal, "17:45:00", s1p, []string{"org-a"}),
		result("S2", "BKK_1", "constituency", 1, schemas.StatusProvisional, schemas.StageProgress, "17:42:00", s2c, []string{"org-a"}),
		result("S2", "BKK_1", "constituency", 2, schemas.StatusDisputed, schemas.StageFinal, "17:55:00", s2c, []string{"org-a", "org-b"}, "CONFLICT"),
		result("S2", "BKK_1", "partylist", 1, schemas.StatusDisputed, schemas.StageFinal, "17:44:00", s2c, []string{"org-a"}, "ARITH"),
		result("S3", "BKK_1", "constituency", 1, schemas.StatusProvisional, schemas.StageProgress, "18:05:00", s3c, []string{"org-a"}),
		result("S4", "CMI_1", "constituency", 1, schemas.StatusVerified, schemas.StageFinal, "17:47:00", s4c, []string{"org-c"}),
		result("S4", "CMI_1", "partylist", 1, schemas.StatusDisputed, schemas.StageFinal, "17:48:00", s4p, []string{"org-c"}, "OVER_ELIGIBLE"),
		result("S4", "CMI_1", "partylist", 2, schemas.StatusCorroborated, schemas.StageFinal, "17:52:00", s4p, []string{"org-c", "org-b"}),
	})

	var anomalies [][]any
	for _, a := range []schemas.Anomaly{
		{AnomalyID: "a1", Code: "CONFLICT", Severity: schemas.SeverityHard, StationID: "S2", ConstituencyID: "BKK_1", Ballot: "constituency", Message: "two final counts disagree", DetectedAt: at("17:55:00")},
		{AnomalyID: "a1", Code: "CONFLICT", Severity: schemas.SeverityHard, StationID: "S2", ConstituencyID: "BKK_1", Ballot: "constituency", Message: "two final counts disagree", DetectedAt: at("17:55:00")},
		{AnomalyID: "a2", Code: "ARITH", Severity: schemas.SeverityHard, StationID: "S2", ConstituencyID: "BKK_1", Ballot: "partylist", Message: "votes do not add up", DetectedAt: at("17:44:00")},
		{AnomalyID: "a3", Code: "ARITH", Severity: schemas.SeveritySoft, StationID: "S4", ConstituencyID: "CMI_1", Ballot: "partylist", Message: "off by one", DetectedAt: at("17:52:00")},
		{AnomalyID: "a4", Code: "EARLY", Severity: schemas.SeverityInfo, StationID: "S1", ConstituencyID: "BKK_1", Ballot: "constituency", Message: "counted before 17:00", DetectedAt: at("17:39:00")},
		{AnomalyID: "a5", Code: "SPREAD", Severity: schemas.SeveritySoft, VolunteerID: "v9", Message: "reports for 40 stations", DetectedAt: at("18:10:00")},
		{AnomalyID: "a6", Code: "TURNOUT_OUTLIER", Severity: schemas.SeveritySoft, StationID: "S3", ConstituencyID: "BKK_1", Ballot: "constituency", Message: "turnout far above the constituency", DetectedAt: at("18:05:00")},
		{AnomalyID: "a7", Code: "EARLY", Severity: schemas.SeverityInfo, StationID: "S5", ConstituencyID: "CMI_1", Ballot: "partylist", Message: "counted at noon", DetectedAt: at("12:00:00")},
	} {
		anomalies = append(anomalies, must(chtable.AnomalyRow(a)))
	}
	insertRows(t, ctx, env, chtable.Anomalies, anomalies)

	// Two estimate runs; e2 is the latest and is published twice.
	e1 := schemas.Estimate{
		EstimateID: "e1", DataTime: at("17:50:00"), ComputedAt: at("17:50:30"),
		StationsReported: 1, StationsTotal: 6, EligibleReported: 500, EligibleTotal: 2950,
		Parties: []schemas.PartyEstimate{
			{PartyNo: 1, CountedVotes: 180, ProjectedVotes: 15000000, Share: 0.5, ShareLo: 0.4, ShareHi: 0.6, Seats: 50},
			{PartyNo: 2, CountedVotes: 170, ProjectedVotes: 10500000, Share: 0.35, ShareLo: 0.25, ShareHi: 0.45, Seats: 36},
			{PartyNo: 3, CountedVotes: 40, ProjectedVotes: 4500000, Share: 0.15, ShareLo: 0.1, ShareHi: 0.2, Seats: 14},
		},
		Constituencies: []schemas.ConstituencyEstimate{
			{ConstituencyID: "BKK_1", LeaderNo: 2, WinProbability: 0.99, Call: schemas.CallCalled, StationsReported: 1, StationsTotal: 3,
				Candidates: []schemas.CandidateEstimate{{CandidateNo: 2, CountedVotes: 150, ProjectedVotes: 900}}},
		},
	}
	e2 := schemas.Estimate{
		EstimateID: "e2", DataTime: at("18:00:00"), ComputedAt: at("18:00:20"),
		StationsReported: 2, StationsTotal: 6, EligibleReported: 800, EligibleTotal: 2950,
		Parties: []schemas.PartyEstimate{
			{PartyNo: 1, CountedVotes: 1200, ProjectedVotes: 14000000, Share: 0.45, ShareLo: 0.41, ShareHi: 0.49, Seats: 46},
			{PartyNo: 2, CountedVotes: 1100, ProjectedVotes: 12400000, Share: 0.40, ShareLo: 0.36, ShareHi: 0.44, Seats: 41},
			{PartyNo: 3, CountedVotes: 400, ProjectedVotes: 4700000, Share: 0.15, ShareLo: 0.12, ShareHi: 0.18, Seats: 13},
		},
		Constituencies: []schemas.ConstituencyEstimate{
			{ConstituencyID: "BKK_1", LeaderNo: 1, WinProbability: 0.8, Call: schemas.CallLikely, StationsReported: 2, StationsTotal: 3,
				EligibleReported: 1100, EligibleTotal: 1500,
				Candidates: []schemas.CandidateEstimate{
					{CandidateNo: 1, CountedVotes: 290, ProjectedVotes: 480},
					{CandidateNo: 2, CountedVotes: 260, ProjectedVotes: 430},
					{CandidateNo: 3, CountedVotes: 80, ProjectedVotes: 130},
				}},
			{ConstituencyID: "CMI_1", LeaderNo: 1, WinProbability: 0.6, Call: schemas.CallLeading, StationsReported: 1, StationsTotal: 2,
				EligibleReported: 300, EligibleTotal: 1000,
				Candidates: []schemas.CandidateEstimate{
					{CandidateNo: 1, CountedVotes: 150, ProjectedVotes: 400},
					{CandidateNo: 2, CountedVotes: 100, ProjectedVotes: 300},
				}},
			{ConstituencyID: "CMI_2", LeaderNo: 0, Call: schemas.CallTooEarly, StationsTotal: 1, EligibleTotal: 450,
				Candidates: []schemas.CandidateEstimate{{CandidateNo: 1}, {CandidateNo: 2}}},
		},
	}
	for _, e := range []schemas.Estimate{e1, e2, e2} {
		msgs, err := chtable.MessageRows(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			insertRows(t, ctx, env, m.Table, m.Rows)
		}
	}

	// Sanity: the rows landed in this database, not another one.
	if got := queryRows(t, ctx, env.Conn, "SELECT count() FROM station_results"); !slices.Equal(got[0], []string{"11"}) {
		t.Fatalf("station_results has %v rows, want 11", got)
	}
}
