package roster

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/provision"
)

// TestCoverage writes rosters to the real ClickHouse and reads station_coverage back:
// the newest import of each organisation counts, an accepted claim covers a station, and a
// station nobody covers is counted as such.
func TestCoverage(t *testing.T) {
	env := testenv.ClickHouse(t)
	ctx := context.Background()
	if _, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database); err != nil {
		t.Fatal(err)
	}
	c := &election.Country{
		Provinces: []election.Province{{ID: "BKK", NameTH: "กรุงเทพมหานคร", NameEN: "Bangkok", Region: "central"}},
		Constituencies: []election.Constituency{
			{ID: "BKK_1", ProvinceID: "BKK", Number: 1, EligibleVoters: 1500, Stations: 3},
			{ID: "BKK_2", ProvinceID: "BKK", Number: 2, EligibleVoters: 400, Stations: 1},
		},
		Stations: []election.Station{
			{ID: "BKK_1_0001", ConstituencyID: "BKK_1", Subdistrict: "พระนคร", Number: 1, EligibleVoters: 500},
			{ID: "BKK_1_0002", ConstituencyID: "BKK_1", Subdistrict: "พระนคร", Number: 2, EligibleVoters: 600},
			{ID: "BKK_1_0003", ConstituencyID: "BKK_1", Subdistrict: "พระนคร", Number: 3, EligibleVoters: 400},
			{ID: "BKK_2_0001", ConstituencyID: "BKK_2", Subdistrict: "ดุสิต", Number: 1, EligibleVoters: 400},
		},
		Parties: []election.Party{{No: 1, NameTH: "หนึ่ง", NameEN: "One"}},
	}
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2023, 5, 10, 9, 0, 0, 0, time.UTC)
	insert := func(table chtable.Table, rows ...[]any) {
		t.Helper()
		b, err := env.Conn.PrepareBatch(ctx, table.InsertQuery(""))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := b.Append(r...); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range c.Stations {
		row, err := chtable.StationRow(st, now)
		if err != nil {
			t.Fatal(err)
		}
		insert(chtable.Stations, row)
	}

	parse := func(text, name string) []Entry {
		es, err := Parse(strings.NewReader(text), name, []byte("salt-for-the-test"), c)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	// An older iLaw import covered BKK_2_0001; the newer one does not.
	old := parse("org,volunteer_id,name,phone,role,scope\niLaw,0009,x,,station,BKK_2_0001\n", "old.csv")
	if _, err := WriteRoster(ctx, env.Conn, old, c, now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ilaw := parse(ilawRoster, "ilaw.csv")
	n, err := WriteRoster(ctx, env.Conn, ilaw, c, now)
	if err != nil || n != 4 { // 0001: one station, 0002: two, lead-1: one row without station
		t.Fatalf("iLaw roster: %d rows, %v", n, err)
	}
	if _, err := WriteRoster(ctx, env.Conn, parse(wevisRoster, "wevis.csv"), c, now); err != nil {
		t.Fatal(err)
	}
	// WeVis/9 claimed BKK_1_0003 before the day, and it was accepted.
	claim := schemas.FieldEvent{EventID: "e1", Kind: schemas.FieldClaim, VolunteerID: "WeVis/9", Org: "WeVis", StationID: "BKK_1_0003", ConstituencyID: "BKK_1", Status: schemas.ClaimRequested, At: now}
	accepted := claim
	accepted.Status = schemas.ClaimAccepted
	insert(chtable.FieldEvents, chtable.FieldEventRow(claim), chtable.FieldEventRow(accepted))

	cov, err := Coverage(ctx, env.Conn)
	if err != nil {
		t.Fatal(err)
	}
	want := []ConstituencyCoverage{
		{ConstituencyID: "BKK_2", Stations: 1, None: 1},
		{ConstituencyID: "BKK_1", Stations: 3, None: 0, One: 1, TwoPlus: 2, MultiOrg: 1, Orgs: 2},
	}
	if len(cov) != 2 || cov[0] != want[0] || cov[1] != want[1] {
		t.Fatalf("coverage\n got %+v\nwant %+v", cov, want)
	}
	un, err := UncoveredStations(ctx, env.Conn)
	if err != nil || len(un) != 1 || un[0] != "BKK_2_0001" {
		t.Fatalf("uncovered %v %v", un, err)
	}
	var out bytes.Buffer
	if err := WriteCoverage(&out, cov); err != nil {
		t.Fatal(err)
	}
	t.Logf("coverage table:\n%s", out.String())
	if !strings.Contains(out.String(), "100.0") || !strings.Contains(out.String(), "25.0") {
		t.Fatalf("coverage table:\n%s", out.String())
	}
}
