package election_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"votestream/election"
)

func TestWriteLoadCountryRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := smallCountry()
	// Names that need CSV quoting, and a station outside every flag.
	want.Provinces[0].NameEN = `BANGKOK, "Krung Thep"`
	want.Candidates[0].Name = "สมชาย\nใจดี"
	if err := election.WriteCountry(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := election.LoadCountry(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	want.Files = []string{"provinces.csv", "constituencies.csv", "parties.csv", "stations.csv", "candidates.csv"}
	assertSameCountry(t, got, want)
	assertOnlyFiles(t, dir, want.Files...)
	for _, f := range want.Files {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil || info.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, err %v; want 0644", f, info.Mode(), err)
		}
	}

	// Writing a country without stations and candidates into the same folder removes the
	// old ones, so the folder describes the new country alone.
	bare := smallCountry()
	bare.Stations, bare.Candidates = nil, nil
	if err := election.WriteCountry(dir, bare); err != nil {
		t.Fatal(err)
	}
	assertOnlyFiles(t, dir, "provinces.csv", "constituencies.csv", "parties.csv")
	got, err = election.LoadCountry(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	bare.Files = []string{"provinces.csv", "constituencies.csv", "parties.csv"}
	assertSameCountry(t, got, bare)
}

func assertOnlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("folder holds %v, want %v (no temporary files)", got, want)
	}
}

func TestWriteCountryRefusesInvalid(t *testing.T) {
	dir := t.TempDir()
	c := smallCountry()
	c.Stations[0].ConstituencyID = "BKK_9"
	if err := election.WriteCountry(dir, c); !errors.Is(err, election.ErrUnknownRef) {
		t.Fatalf("WriteCountry = %v, want ErrUnknownRef", err)
	}
	assertOnlyFiles(t, dir)
}

func TestWriteLoadResultsRoundTrip(t *testing.T) {
	c := smallCountry()
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	want := &election.Results{
		Tallies: map[election.StationBallot]election.Tally{
			{StationID: "BKK_2_002", Ballot: election.BallotPartyList}:    {BallotsCast: 300, Invalid: 7, NoVote: 3, Votes: map[int]int{31: 150, 29: 140, 7: 0}},
			{StationID: "BKK_2_002", Ballot: election.BallotConstituency}: {BallotsCast: 300, Invalid: 9, NoVote: 1, Votes: map[int]int{1: 290}},
			{StationID: "BKK_1_001", Ballot: election.BallotConstituency}: {BallotsCast: 0, Votes: map[int]int{}},
		},
		ReportTimes: map[string]float64{"BKK_2_002": 0.1, "BKK_1_001": 1e-9, "CMI_1_002": 333.3333333333333},
	}
	dir := t.TempDir()
	if err := election.WriteResults(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := election.LoadResults(os.DirFS(dir), c)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	assertOnlyFiles(t, dir, "station_totals.csv", "station_votes.csv", "report_times.csv")

	want.ReportTimes = nil
	if err := election.WriteResults(dir, want); err != nil {
		t.Fatal(err)
	}
	assertOnlyFiles(t, dir, "station_totals.csv", "station_votes.csv")
	// Rows come out sorted by station, then ballot, then number.
	b, err := os.ReadFile(filepath.Join(dir, "station_votes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	const wantVotes = "station_id,ballot,number,votes\n" +
		"BKK_2_002,constituency,1,290\n" +
		"BKK_2_002,partylist,7,0\n" +
		"BKK_2_002,partylist,29,140\n" +
		"BKK_2_002,partylist,31,150\n"
	if string(b) != wantVotes {
		t.Errorf("station_votes.csv:\n%s\nwant\n%s", b, wantVotes)
	}
}

func TestWriteResultsRefusesWhatCannotLoad(t *testing.T) {
	tests := []struct {
		name string
		r    *election.Results
		want error
	}{
		{"bad ballot", &election.Results{Tallies: map[election.StationBallot]election.Tally{{StationID: "S", Ballot: "senate"}: {}}}, election.ErrBadValue},
		{"negative", &election.Results{Tallies: map[election.StationBallot]election.Tally{{StationID: "S", Ballot: election.BallotPartyList}: {Invalid: -1}}}, election.ErrBadNumber},
		{"number 0", &election.Results{Tallies: map[election.StationBallot]election.Tally{{StationID: "S", Ballot: election.BallotPartyList}: {Votes: map[int]int{0: 1}}}}, election.ErrBadNumber},
		{"negative minutes", &election.Results{ReportTimes: map[string]float64{"S": -1}}, election.ErrBadNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := election.WriteResults(dir, tt.r); !errors.Is(err, tt.want) {
				t.Fatalf("WriteResults = %v, want %v", err, tt.want)
			}
			assertOnlyFiles(t, dir)
		})
	}
}
