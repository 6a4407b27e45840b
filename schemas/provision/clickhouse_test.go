package provision_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/provision"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func migrationNames(t *testing.T) []string {
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return names
}

func TestMigrateClickHouse(t *testing.T) {
	env := testenv.ClickHouse(t)
	ctx := ctxFor(t)

	applied, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database)
	if err != nil {
		t.Fatal(err)
	}
	if want := migrationNames(t); !slices.Equal(applied, want) {
		t.Fatalf("first run applied %v, want every migration %v", applied, want)
	}

	t.Run("tables and views exist", func(t *testing.T) {
		got := queryStrings(t, env.Conn, fmt.Sprintf("SELECT name FROM system.tables WHERE database = '%s' ORDER BY name", env.Database))
		want := []string{"schema_migrations",
			"station_results_current", "constituency_totals", "constituency_votes",
			"estimate_latest", "estimate_parties_latest", "estimate_constituencies_latest", "estimate_seats_latest", "official_current",
			"log_checkpoint_latest", "station_coverage", "calls_standing",
			"staff_actions"} // written by the console itself (console/audit.go), not by a sink
		for _, tb := range chtable.Tables {
			want = append(want, tb.Name)
		}
		publicTables := []string{"anomalies", "calls", "candidates", "constituencies", "estimate_constituencies", "estimate_parties",
			"estimate_races", "estimate_seats", "estimate_states", "estimates", "log_checkpoints", "parties", "provinces", "station_results", "stations"}
		for _, tb := range publicTables {
			want = append(want, "public_"+tb+"_mv") // the copies into the public database
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("tables\n got %v\nwant %v", got, want)
		}
		got = queryStrings(t, env.Conn, fmt.Sprintf("SELECT name FROM system.tables WHERE database = '%s' ORDER BY name", schemas.PublicDatabase(env.Database)))
		want = append(slices.Clone(publicTables), "station_results_current", "constituency_totals", "constituency_votes",
			"estimate_latest", "estimate_parties_latest", "estimate_constituencies_latest", "log_checkpoint_latest",
			"calls_standing", "estimate_seats_latest")
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("public tables\n got %v\nwant %v", got, want)
		}
		// Nothing of the volunteers in the public database, whatever a later migration adds.
		private := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(table, '.', name) FROM system.columns WHERE database = '%s'"+
			" AND match(name, '(?i)volunteer|source_|decided|person|org|message|evidence|submission|reviewer|entered_by|device|token|phone') ORDER BY 1",
			schemas.PublicDatabase(env.Database)))
		if len(private) > 0 {
			t.Errorf("private columns in the public database: %v", private)
		}
	})

	t.Run("chtable columns are the DDL's", func(t *testing.T) {
		for _, tb := range chtable.Tables {
			got := queryStrings(t, env.Conn, fmt.Sprintf(
				"SELECT name FROM system.columns WHERE database = '%s' AND table = '%s'", env.Database, tb.Name))
			if !slices.Equal(got, tb.Columns) {
				t.Errorf("%s: DDL columns %v, chtable has %v", tb.Name, got, tb.Columns)
			}
		}
	})

	t.Run("second run changes nothing", func(t *testing.T) {
		cfg := provision.DefaultClickHouseConfig()
		cfg.Addr, cfg.Database = env.Addr, env.Database
		again, err := provision.MigrateClickHouseAt(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Errorf("second run applied %v", again)
		}
		n := queryStrings(t, env.Conn, fmt.Sprintf("SELECT toString(count()) FROM `%s`.schema_migrations", env.Database))
		if want := fmt.Sprint(len(migrationNames(t))); n[0] != want {
			t.Errorf("%s rows in schema_migrations, want %s", n[0], want)
		}
	})

	t.Run("insert and read back", func(t *testing.T) { insertAndReadBack(t, ctx, env) })
}

// A changed file and a migration from a newer build are refused before anything runs.
func TestMigrateClickHouseRefusals(t *testing.T) {
	env := testenv.ClickHouse(t)
	ctx := ctxFor(t)
	if _, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database); err != nil {
		t.Fatal(err)
	}
	recordMigration(t, env, 2, "0002_submissions.sql", "sha256:00")
	if _, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database); !errors.Is(err, provision.ErrChecksumMismatch) {
		t.Errorf("changed checksum: %v, want ErrChecksumMismatch", err)
	}

	env2 := testenv.ClickHouse(t)
	if _, err := provision.MigrateClickHouse(ctx, env2.Conn, env2.Database); err != nil {
		t.Fatal(err)
	}
	recordMigration(t, env2, 999, "0999_future.sql", "sha256:00")
	if _, err := provision.MigrateClickHouse(ctx, env2.Conn, env2.Database); !errors.Is(err, provision.ErrUnknownMigration) {
		t.Errorf("migration from a newer build: %v, want ErrUnknownMigration", err)
	}

	if _, err := provision.MigrateClickHouse(ctx, env.Conn, "x; DROP DATABASE default"); !errors.Is(err, provision.ErrDatabaseName) {
		t.Errorf("bad database name: %v, want ErrDatabaseName", err)
	}
}

// A run that stopped half-way (a table created, its migration not recorded) is finished
// by the next run.
func TestMigrateClickHouseFinishesHalfRun(t *testing.T) {
	env := testenv.ClickHouse(t)
	ctx := ctxFor(t)
	exec(t, env.Conn, fmt.Sprintf("CREATE TABLE `%s`.anomalies (anomaly_id String, code String, severity String, station_id String, constituency_id String, ballot String, volunteer_id String, submission_ids Array(String), message String, evidence_keys Array(String), evidence_values Array(String), detected_at DateTime('Asia/Bangkok')) ENGINE = ReplacingMergeTree ORDER BY (station_id, anomaly_id)", env.Database))
	applied, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, migrationNames(t)) {
		t.Errorf("applied %v", applied)
	}
}

func insertAndReadBack(t *testing.T, ctx context.Context, env *testenv.ClickHouseEnv) {
	bkk := time.FixedZone("ICT", 7*3600)
	at := func(hh, mm int) time.Time { return time.Date(2023, 5, 14, hh, mm, 0, 0, bkk) }
	loaded := at(8, 0)

	must := func(row []any, err error) []any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return row
	}
	insert(t, ctx, env, chtable.Provinces, chtable.ProvinceRow(election.Province{ID: "BKK", NameTH: "กรุงเทพมหานคร", NameEN: "BANGKOK", Region: "central"}, loaded))
	insert(t, ctx, env, chtable.Constituencies, must(chtable.ConstituencyRow(election.Constituency{ID: "BKK_1", ProvinceID: "BKK", Number: 1, EligibleVoters: 1500, Stations: 3}, loaded)))
	for i, ev := range []int{500, 480, 520} {
		insert(t, ctx, env, chtable.Stations, must(chtable.StationRow(election.Station{ID: fmt.Sprintf("BKK_1_%04d", i+1), ConstituencyID: "BKK_1", Subdistrict: "พระบรมมหาราชวัง", Number: i + 1, EligibleVoters: ev, Urban: true}, loaded)))
	}
	insert(t, ctx, env, chtable.Parties, must(chtable.PartyRow(election.Party{No: 31, NameTH: "ก้าวไกล", NameEN: "Move Forward"}, loaded)))
	insert(t, ctx, env, chtable.Candidates, must(chtable.CandidateRow(election.Candidate{ConstituencyID: "BKK_1", No: 7, Name: "ผู้สมัคร ก", PartyNo: 31}, loaded)))

	report := schemas.Report{
		Submission: schemas.Submission{
			SubmissionID: "6f1c2b9e-3d4a-4c1b-9a7e-2f5d8c0b1a23", StationID: "BKK_1_0001", Ballot: "constituency",
			Stage: schemas.StageFinal, CountedAt: at(17, 52), BallotsCast: 400, Invalid: 6, NoVote: 4,
			Votes: map[string]int{"1": 150, "7": 240}, Evidence: []string{"sha256:" + fmt.Sprintf("%064x", 1)},
		},
		VolunteerID: "vol-1", Org: "ilaw", Role: schemas.RoleStation, ReceivedAt: at(17, 53),
	}
	report.Hash = schemas.CanonicalHash(report.Submission)
	result := func(station string, version int64, status schemas.Status, cast, inv, nv int, votes map[string]int) schemas.StationResult {
		return schemas.StationResult{
			StationID: station, ConstituencyID: "BKK_1", Ballot: "constituency", Version: version, Status: status,
			Stage: schemas.StageFinal, BallotsCast: cast, Invalid: inv, NoVote: nv, Votes: votes,
			Sources:   []schemas.Source{{SubmissionID: report.SubmissionID, VolunteerID: "vol-1", Org: "ilaw", Stage: schemas.StageFinal, Hash: report.Hash}},
			CountedAt: at(17, 52), UpdatedAt: at(17, 50+int(version)),
		}
	}
	five := 5
	msgs := []any{
		report, report, // re-delivered
		result("BKK_1_0001", 1, schemas.StatusProvisional, 300, 5, 5, map[string]int{"1": 120, "7": 170}),
		result("BKK_1_0001", 2, schemas.StatusCorroborated, 400, 6, 4, map[string]int{"1": 150, "7": 240}),
		result("BKK_1_0001", 2, schemas.StatusCorroborated, 400, 6, 4, map[string]int{"1": 150, "7": 240}), // re-delivered
		result("BKK_1_0002", 1, schemas.StatusProvisional, 380, 2, 3, map[string]int{"1": 200, "7": 175}),
		result("BKK_1_0003", 4, schemas.StatusDisputed, 410, 0, 0, map[string]int{"1": 410}),
		schemas.Anomaly{AnomalyID: "CONFLICT-BKK_1_0003", Code: schemas.AnomalyConflict, Severity: schemas.SeverityHard,
			StationID: "BKK_1_0003", ConstituencyID: "BKK_1", Ballot: "constituency", Message: "two finals disagree",
			Evidence: map[string]string{"a": "410", "b": "395"}, DetectedAt: at(18, 1)},
		schemas.Estimate{EstimateID: "e1", DataTime: at(18, 0), ComputedAt: at(18, 0).Add(2 * time.Second),
			StationsReported: 2, StationsTotal: 3, EligibleReported: 980, EligibleTotal: 1500,
			Parties: []schemas.PartyEstimate{{PartyNo: 31, CountedVotes: 415, ProjectedVotes: 640, Share: 0.54, ShareLo: 0.5, ShareHi: 0.58, Seats: 54}},
			Constituencies: []schemas.ConstituencyEstimate{{ConstituencyID: "BKK_1", LeaderNo: 7, WinProbability: 0.7, Call: schemas.CallLeading,
				StationsReported: 2, StationsTotal: 3, EligibleReported: 980, EligibleTotal: 1500,
				Candidates: []schemas.CandidateEstimate{{CandidateNo: 1, CountedVotes: 350, ProjectedVotes: 540}, {CandidateNo: 7, CountedVotes: 415, ProjectedVotes: 630}}}}},
		schemas.Estimate{EstimateID: "e2", DataTime: at(18, 5), ComputedAt: at(18, 5), StationsReported: 3, StationsTotal: 3},
		schemas.Review{ReviewID: "rev-1", StationID: "BKK_1_0003", Ballot: "constituency", AcceptSubmissionID: report.SubmissionID, Reason: "photo", ReviewerID: "lead-1", Role: schemas.RoleDistrictLead, ReceivedAt: at(18, 10)},
		schemas.Review{ReviewID: "rev-2", StationID: "BKK_1_0003", Ballot: "constituency", BallotsCast: &five, Invalid: &five, NoVote: &five, Reason: "typed", ReviewerID: "lead-1", Role: schemas.RoleDistrictLead, ReceivedAt: at(18, 11)},
		schemas.Official{OfficialID: "off-1", StationID: "BKK_1_0001", Ballot: "constituency", BallotsCast: 400, Invalid: 6, NoVote: 4, Votes: map[string]int{"1": 150, "7": 240}, EnteredBy: "lead-1", Role: schemas.RoleDistrictLead, ReceivedAt: at(20, 0)},
		schemas.Evidence{Evidence: report.Evidence[0], Bytes: 2048, VolunteerID: "vol-1", ReceivedAt: at(17, 54)},
		schemas.Checkpoint{Origin: "log.example/v", Size: 10, RootHash: "r10", Note: "n10", PublishedAt: at(18, 0)},
		schemas.Checkpoint{Origin: "log.example/v", Size: 12, RootHash: "r12", Note: "n12", PublishedAt: at(18, 1)},
		schemas.Checkpoint{Origin: "log.example/v", Size: 12, RootHash: "r12", Note: "n12 cosigned", Cosigners: []string{"w1"}, PublishedAt: at(18, 2)},
		schemas.Checkpoint{Origin: "log.example/v", Size: 12, RootHash: "r12", Note: "n12", PublishedAt: at(18, 3)}, // re-delivered, fewer cosignatures
		// BKK_1 approved then retracted; the national picture approved, re-delivered.
		schemas.Call{CallID: "c1", Race: "BKK_1", Action: schemas.ActionApprove, State: schemas.CallCalled, LeaderNo: 7, By: "desk-1", Role: schemas.RoleDesk, At: at(21, 0), Reason: "all in"},
		schemas.Call{CallID: "c2", Race: "BKK_1", Action: schemas.ActionRetract, By: "desk-2", Role: schemas.RoleDesk, At: at(21, 5), Reason: "typo found"},
		schemas.Call{CallID: "c3", Race: schemas.RaceNational, Action: schemas.ActionApprove, State: schemas.CallLikely, PartyNo: 31, By: "desk-1", Role: schemas.RoleDesk, At: at(22, 0), Reason: "intervals apart"},
		schemas.Call{CallID: "c3", Race: schemas.RaceNational, Action: schemas.ActionApprove, State: schemas.CallLikely, PartyNo: 31, By: "desk-1", Role: schemas.RoleDesk, At: at(22, 0), Reason: "intervals apart"},
	}
	for _, m := range msgs {
		rows, err := chtable.MessageRows(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			insert(t, ctx, env, r.Table, r.Rows...)
		}
	}

	// Current result per station: the highest version, once, whatever was re-delivered.
	type current struct {
		station, status string
		version         uint64
		cast            uint32
		nos             []uint16
		votes           []uint32
		updated         time.Time
	}
	rows, err := env.Conn.Query(ctx, fmt.Sprintf("SELECT station_id, status, version, ballots_cast, vote_no, votes, updated_at FROM `%s`.station_results_current WHERE ballot = 'constituency' ORDER BY station_id", env.Database))
	if err != nil {
		t.Fatal(err)
	}
	var got []current
	for rows.Next() {
		var c current
		if err := rows.Scan(&c.station, &c.status, &c.version, &c.cast, &c.nos, &c.votes, &c.updated); err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	rows.Close()
	want := []current{
		{"BKK_1_0001", "corroborated", 2, 400, []uint16{1, 7}, []uint32{150, 240}, at(17, 52)},
		{"BKK_1_0002", "provisional", 1, 380, []uint16{1, 7}, []uint32{200, 175}, at(17, 51)},
		{"BKK_1_0003", "disputed", 4, 410, []uint16{1}, []uint32{410}, at(17, 54)},
	}
	if len(got) != len(want) {
		t.Fatalf("current results %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.station != w.station || g.status != w.status || g.version != w.version || g.cast != w.cast ||
			!reflect.DeepEqual(g.nos, w.nos) || !reflect.DeepEqual(g.votes, w.votes) || !g.updated.Equal(w.updated) {
			t.Errorf("current result %d\n got %+v\nwant %+v", i, g, w)
		}
	}

	// Constituency totals leave the disputed station out: 400 + 380 cast; candidate 1 has
	// 150 + 200, candidate 7 has 240 + 175.
	tot := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(toString(stations_reported), ' ', toString(stations_disputed), ' ', toString(ballots_cast), ' ', toString(invalid), ' ', toString(no_vote)) FROM `%s`.constituency_totals WHERE constituency_id = 'BKK_1' AND ballot = 'constituency'", env.Database))
	if !slices.Equal(tot, []string{"2 1 780 8 7"}) {
		t.Errorf("constituency_totals %v, want [2 1 780 8 7]", tot)
	}
	votes := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(toString(number), ':', toString(votes)) FROM `%s`.constituency_votes WHERE constituency_id = 'BKK_1' ORDER BY number", env.Database))
	if !slices.Equal(votes, []string{"1:350", "7:415"}) {
		t.Errorf("constituency_votes %v, want [1:350 7:415]", votes)
	}

	// Raw tables: re-delivered reports count once by id; the newest estimate is e2.
	if n := queryStrings(t, env.Conn, fmt.Sprintf("SELECT toString(uniqExact(submission_id)) FROM `%s`.submissions", env.Database)); n[0] != "1" {
		t.Errorf("%s distinct submissions, want 1", n[0])
	}
	if id := queryStrings(t, env.Conn, fmt.Sprintf("SELECT estimate_id FROM `%s`.estimate_latest", env.Database)); !slices.Equal(id, []string{"e2"}) {
		t.Errorf("estimate_latest %v, want [e2]", id)
	}
	if p := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(estimate_id, ' ', toString(party_no), ' ', toString(seats)) FROM `%s`.estimate_parties FINAL", env.Database)); !slices.Equal(p, []string{"e1 31 54"}) {
		t.Errorf("estimate_parties %v", p)
	}
	if c := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(toString(leader_no), ' ', call, ' ', arrayStringConcat(arrayMap(x -> toString(x), projected_votes), ',')) FROM `%s`.estimate_constituencies", env.Database)); !slices.Equal(c, []string{"7 leading 540,630"}) {
		t.Errorf("estimate_constituencies %v", c)
	}
	if r := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(review_id, ' ', ifNull(toString(ballots_cast), 'NULL')) FROM `%s`.reviews ORDER BY review_id", env.Database)); !slices.Equal(r, []string{"rev-1 NULL", "rev-2 5"}) {
		t.Errorf("reviews %v", r)
	}
	if o := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(official_id, ' ', toString(ballots_cast)) FROM `%s`.official_current", env.Database)); !slices.Equal(o, []string{"off-1 400"}) {
		t.Errorf("official_current %v", o)
	}
	// The newest checkpoint with the most cosignatures, whatever arrived after it.
	if c := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(toString(size), ' ', note, ' ', arrayStringConcat(cosigners, ',')) FROM `%s`.log_checkpoint_latest", env.Database)); !slices.Equal(c, []string{"12 n12 cosigned w1"}) {
		t.Errorf("log_checkpoint_latest %v", c)
	}
	if a := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(code, ' ', evidence_values[1]) FROM `%s`.anomalies", env.Database)); !slices.Equal(a, []string{"CONFLICT 410"}) {
		t.Errorf("anomalies %v", a)
	}
	if s := queryStrings(t, env.Conn, fmt.Sprintf("SELECT name_th FROM `%s`.provinces FINAL", env.Database)); !slices.Equal(s, []string{"กรุงเทพมหานคร"}) {
		t.Errorf("provinces %v", s)
	}
	if c := queryStrings(t, env.Conn, fmt.Sprintf("SELECT concat(race, ' ', state, ' ', toString(party_no), ' ', by) FROM `%s`.calls_standing", env.Database)); !slices.Equal(c, []string{"national likely 31 desk-1"}) {
		t.Errorf("calls_standing %v", c)
	}
}

func insert(t *testing.T, ctx context.Context, env *testenv.ClickHouseEnv, tb chtable.Table, rows ...[]any) {
	t.Helper()
	b, err := env.Conn.PrepareBatch(ctx, tb.InsertQuery(env.Database))
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

// recordMigration adds a row to schema_migrations. (A batch, not Exec: an INSERT ... VALUES
// through Exec waits forever for a data block on ClickHouse 18.16.)
func recordMigration(t *testing.T, env *testenv.ClickHouseEnv, version uint32, name, checksum string) {
	t.Helper()
	insert(t, context.Background(), env, chtable.Table{Name: "schema_migrations", Columns: []string{"version", "name", "checksum", "applied_at"}},
		[]any{version, name, checksum, time.Now()})
}

func exec(t *testing.T, conn driver.Conn, q string) {
	t.Helper()
	if err := conn.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func queryStrings(t *testing.T, conn driver.Conn, q string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}
