package election_test

import (
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"votestream/election"
)

// folder reads a testdata folder into memory so cases can replace single files.
func folder(t testing.TB, dir string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	return m
}

func TestLoadCountrySmall(t *testing.T) {
	c, err := election.LoadCountry(os.DirFS("testdata/small"))
	if err != nil {
		t.Fatal(err)
	}
	want := smallCountry()
	want.Files = []string{"provinces.csv", "constituencies.csv", "parties.csv", "stations.csv", "candidates.csv"}
	assertSameCountry(t, c, want)
	if !c.Indexed() {
		t.Error("LoadCountry returned an unindexed country")
	}
}

// assertSameCountry compares the exported contents, not the index.
func assertSameCountry(t *testing.T, got, want *election.Country) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"Provinces", got.Provinces, want.Provinces},
		{"Constituencies", got.Constituencies, want.Constituencies},
		{"Stations", got.Stations, want.Stations},
		{"Parties", got.Parties, want.Parties},
		{"Candidates", got.Candidates, want.Candidates},
		{"Files", got.Files, want.Files},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", f.name, f.got, f.want)
		}
	}
}

func TestLoadCountryOptionalFilesAndColumns(t *testing.T) {
	fsys := folder(t, "testdata/small")
	delete(fsys, "candidates.csv")
	// Columns in another order, without the optional priority and urban, and a byte-order
	// mark as spreadsheets write it.
	fsys["stations.csv"] = &fstest.MapFile{Data: []byte("\ufeffconstituency_id,station_id,number,eligible_voters,subdistrict\n" +
		"BKK_1,S1,1,10,\n")}
	c, err := election.LoadCountry(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"provinces.csv", "constituencies.csv", "parties.csv", "stations.csv"}
	if !reflect.DeepEqual(c.Files, want) {
		t.Errorf("Files = %v, want %v", c.Files, want)
	}
	if c.HasCandidates() || !c.HasStations() {
		t.Errorf("HasCandidates %v, HasStations %v", c.HasCandidates(), c.HasStations())
	}
	if s, ok := c.StationByID("S1"); !ok || s != (election.Station{ID: "S1", ConstituencyID: "BKK_1", Number: 1, EligibleVoters: 10}) {
		t.Errorf("StationByID(S1) = %+v, %v", s, ok)
	}
}

// A candidate whose party has no party-list number (or an independent) leaves party_no
// empty; several may stand in one constituency, and the country writes and loads back.
func TestLoadCountryEmptyPartyNo(t *testing.T) {
	fsys := folder(t, "testdata/small")
	fsys["candidates.csv"] = &fstest.MapFile{Data: []byte("constituency_id,candidate_no,name,party_no\n" +
		"BKK_1,1,a,29\nBKK_1,2,b,\nBKK_1,3,c,\nBKK_2,1,d,31\n")}
	c, err := election.LoadCountry(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for no, want := range map[int]int{1: 29, 2: election.NoParty, 3: election.NoParty} {
		if d, ok := c.Candidate("BKK_1", no); !ok || d.PartyNo != want {
			t.Errorf("candidate %d: %+v, %v; want party %d", no, d, ok, want)
		}
	}
	dir := t.TempDir()
	if err := election.WriteCountry(dir, c); err != nil {
		t.Fatal(err)
	}
	back, err := election.LoadCountry(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Candidates, c.Candidates) {
		t.Errorf("round trip: %+v, want %+v", back.Candidates, c.Candidates)
	}
}

func TestLoadCountryErrors(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		data   string // replaces the file; "" with remove deletes it
		remove bool
		line   int
		column string
		want   error
	}{
		{name: "duplicate province", file: "provinces.csv",
			data: "province_id,name_th,name_en,region\nBKK,ก,B,central\nCMI,ช,C,north\nBKK,ก,B,central\n",
			line: 4, column: "province_id", want: election.ErrDuplicateID},
		{name: "empty region", file: "provinces.csv",
			data: "province_id,name_th,name_en,region\nBKK,ก,B,\n",
			line: 2, column: "region", want: election.ErrBadValue},
		{name: "id with surrounding space", file: "provinces.csv",
			data: "province_id,name_th,name_en,region\n BKK,ก,B,central\n",
			line: 2, column: "province_id", want: election.ErrBadValue},
		{name: "name not UTF-8", file: "parties.csv",
			data: "party_no,name_th,name_en\n31,\xe0\xb8,Move Forward\n",
			line: 2, column: "name_th", want: election.ErrBadUTF8},
		{name: "constituency in unknown province", file: "constituencies.csv",
			data: "constituency_id,province_id,number,eligible_voters,stations\nBKK_1,BKK,1,1500,3\nKKN_1,KKN,1,1000,2\n",
			line: 3, column: "province_id", want: election.ErrUnknownRef},
		{name: "negative eligible voters", file: "constituencies.csv",
			data: "constituency_id,province_id,number,eligible_voters,stations\nBKK_1,BKK,1,-1500,3\n",
			line: 2, column: "eligible_voters", want: election.ErrBadNumber},
		{name: "fractional station count", file: "constituencies.csv",
			data: "constituency_id,province_id,number,eligible_voters,stations\nBKK_1,BKK,1,1500,2.5\n",
			line: 2, column: "stations", want: election.ErrBadNumber},
		{name: "empty number", file: "constituencies.csv",
			data: "constituency_id,province_id,number,eligible_voters,stations\nBKK_1,BKK,,1500,3\n",
			line: 2, column: "number", want: election.ErrBadNumber},
		{name: "constituency number 0", file: "constituencies.csv",
			data: "constituency_id,province_id,number,eligible_voters,stations\nBKK_1,BKK,0,1500,3\n",
			line: 2, column: "number", want: election.ErrBadNumber},
		{name: "number too large for an int", file: "constituencies.csv",
			data: "constituency_id,province_id,number,eligible_voters,stations\nBKK_1,BKK,1,99999999999999999999,3\n",
			line: 2, column: "eligible_voters", want: election.ErrBadNumber},
		{name: "two constituencies with one number", file: "constituencies.csv",
			data: "constituency_id,province_id,number,eligible_voters,stations\nBKK_1,BKK,1,1500,3\nBKK_2,BKK,1,900,2\n",
			line: 3, column: "number", want: election.ErrDuplicateID},
		{name: "duplicate party", file: "parties.csv",
			data: "party_no,name_th,name_en\n31,ก้าวไกล,\n29,เพื่อไทย,\n31,อื่น,\n",
			line: 4, column: "party_no", want: election.ErrDuplicateID},
		{name: "station in unknown constituency", file: "stations.csv",
			data: "station_id,constituency_id,subdistrict,number,eligible_voters\nS1,BKK_1,a,1,500\nS2,BKK_7,b,1,500\n",
			line: 3, column: "constituency_id", want: election.ErrUnknownRef},
		{name: "duplicate station", file: "stations.csv",
			data: "station_id,constituency_id,subdistrict,number,eligible_voters\nS1,BKK_1,a,1,500\nS1,BKK_2,b,1,500\n",
			line: 3, column: "station_id", want: election.ErrDuplicateID},
		{name: "priority not 0 or 1", file: "stations.csv",
			data: "station_id,constituency_id,subdistrict,number,eligible_voters,priority,urban\nS1,BKK_1,a,1,500,yes,1\n",
			line: 2, column: "priority", want: election.ErrBadValue},
		{name: "too few fields", file: "stations.csv",
			data: "station_id,constituency_id,subdistrict,number,eligible_voters,priority,urban\nS1,BKK_1,a,1,500,1,1\nS2,BKK_1,a,2,500\n",
			line: 3, column: "", want: election.ErrColumnCount},
		{name: "too many fields", file: "parties.csv",
			data: "party_no,name_th,name_en\n31,ก้าวไกล,Move Forward,extra\n",
			line: 2, column: "", want: election.ErrColumnCount},
		{name: "candidate of unknown party", file: "candidates.csv",
			data: "constituency_id,candidate_no,name,party_no\nBKK_1,1,a,29\nBKK_1,2,b,1\n",
			line: 3, column: "party_no", want: election.ErrUnknownRef},
		{name: "candidate in unknown constituency", file: "candidates.csv",
			data: "constituency_id,candidate_no,name,party_no\nBKK_9,1,a,29\n",
			line: 2, column: "constituency_id", want: election.ErrUnknownRef},
		{name: "duplicate candidate number", file: "candidates.csv",
			data: "constituency_id,candidate_no,name,party_no\nBKK_1,1,a,29\nBKK_2,1,b,29\nBKK_1,1,c,31\n",
			line: 4, column: "candidate_no", want: election.ErrDuplicateID},
		{name: "one party with two candidates", file: "candidates.csv",
			data: "constituency_id,candidate_no,name,party_no\nBKK_1,1,a,29\nBKK_1,2,b,29\n",
			line: 3, column: "party_no", want: election.ErrDuplicateID},
		{name: "negative candidate number", file: "candidates.csv",
			data: "constituency_id,candidate_no,name,party_no\nBKK_1,-1,a,29\n",
			line: 2, column: "candidate_no", want: election.ErrBadNumber},
		{name: "line numbers count quoted newlines", file: "provinces.csv",
			data: "province_id,name_th,name_en,region\nBKK,\"กรุงเทพ\nมหานคร\",B,central\nCMI,ช,C,\n",
			line: 4, column: "region", want: election.ErrBadValue},
		{name: "stray quote", file: "parties.csv",
			data: "party_no,name_th,name_en\n31,ก้าวไกล,Move Forward\n29,เพื่อ\"ไทย,Pheu Thai\n",
			line: 3, column: "", want: election.ErrSyntax},
		{name: "missing column", file: "constituencies.csv",
			data: "constituency_id,province_id,number,eligible_voters\nBKK_1,BKK,1,1500\n",
			line: 1, column: "stations", want: election.ErrBadHeader},
		{name: "misspelt column", file: "stations.csv",
			data: "station_id,constituency_id,subdistrict,number,eligible_voters,urbn\nS1,BKK_1,a,1,500,1\n",
			line: 1, column: "urbn", want: election.ErrBadHeader},
		{name: "column twice", file: "parties.csv",
			data: "party_no,name_th,name_en,name_th\n31,a,b,c\n",
			line: 1, column: "name_th", want: election.ErrBadHeader},
		{name: "no header row", file: "parties.csv",
			data: "31,ก้าวไกล,Move Forward\n",
			line: 1, column: "31", want: election.ErrBadHeader},
		{name: "empty file", file: "provinces.csv",
			data: "",
			line: 1, column: "", want: election.ErrBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := folder(t, "testdata/small")
			fsys[tt.file] = &fstest.MapFile{Data: []byte(tt.data)}
			c, err := election.LoadCountry(fsys)
			assertCSVError(t, c != nil, err, tt.file, tt.line, tt.column, tt.want)
		})
	}
}

func assertCSVError(t *testing.T, gotValue bool, err error, file string, line int, column string, want error) {
	t.Helper()
	if gotValue {
		t.Error("got a value along with the error")
	}
	var ce *election.CSVError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *CSVError", err)
	}
	if ce.File != file || ce.Line != line || ce.Column != column || !errors.Is(err, want) {
		t.Fatalf("got %s (file %q line %d column %q), want %s:%d column %q wrapping %v",
			err, ce.File, ce.Line, ce.Column, file, line, column, want)
	}
	if !strings.Contains(err.Error(), file) {
		t.Errorf("message %q does not name the file", err)
	}
}

func TestLoadCountryMissingFile(t *testing.T) {
	for _, file := range []string{"provinces.csv", "constituencies.csv", "parties.csv"} {
		fsys := folder(t, "testdata/small")
		delete(fsys, file)
		_, err := election.LoadCountry(fsys)
		if !errors.Is(err, election.ErrMissingFile) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), file) {
			t.Errorf("without %s: %v", file, err)
		}
	}
}

func TestLoadCountryReportsSeveralProblems(t *testing.T) {
	fsys := folder(t, "testdata/small")
	var b strings.Builder
	b.WriteString("station_id,constituency_id,subdistrict,number,eligible_voters\n")
	for range 30 {
		b.WriteString("S,BKK_1,a,x,1\n") // bad number on every line
	}
	fsys["stations.csv"] = &fstest.MapFile{Data: []byte(b.String())}
	_, err := election.LoadCountry(fsys)
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v is not a list", err)
	}
	errs := joined.Unwrap()
	// 20 located problems, then a note that reading stopped.
	if len(errs) != 21 {
		t.Fatalf("%d errors, want 21: %v", len(errs), err)
	}
	for i, e := range errs[:20] {
		var ce *election.CSVError
		if !errors.As(e, &ce) || ce.Line != i+2 || ce.Column != "number" {
			t.Errorf("error %d: %v", i, e)
		}
	}
	if !strings.Contains(errs[20].Error(), "stopped") {
		t.Errorf("last error %q does not say reading stopped", errs[20])
	}
}

func TestLoadResultsSmall(t *testing.T) {
	c, err := election.LoadCountry(os.DirFS("testdata/small"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := election.LoadResults(os.DirFS("testdata/small-results"), c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[election.StationBallot]election.Tally{
		{StationID: "BKK_1_001", Ballot: election.BallotConstituency}: {BallotsCast: 400, Invalid: 8, NoVote: 4, Votes: map[int]int{1: 150, 2: 200, 3: 38}},
		{StationID: "BKK_1_001", Ballot: election.BallotPartyList}:    {BallotsCast: 400, Invalid: 6, NoVote: 2, Votes: map[int]int{31: 210, 29: 150, 7: 32}},
		{StationID: "BKK_1_002", Ballot: election.BallotConstituency}: {BallotsCast: 360, Invalid: 5, NoVote: 5, Votes: map[int]int{1: 100, 2: 250}},
		{StationID: "BKK_1_002", Ballot: election.BallotPartyList}:    {BallotsCast: 360, Invalid: 4, NoVote: 6, Votes: map[int]int{31: 200, 29: 140, 7: 10}},
		{StationID: "CMI_1_001", Ballot: election.BallotConstituency}: {BallotsCast: 530, Invalid: 12, NoVote: 8, Votes: map[int]int{1: 300, 2: 150, 3: 60}},
		{StationID: "CMI_1_001", Ballot: election.BallotPartyList}:    {BallotsCast: 530, Invalid: 10, NoVote: 10, Votes: map[int]int{29: 320, 31: 150, 7: 40}},
	}
	if !reflect.DeepEqual(r.Tallies, want) {
		t.Errorf("Tallies:\n got %v\nwant %v", r.Tallies, want)
	}
	wantTimes := map[string]float64{"BKK_1_001": 95.5, "BKK_1_002": 120, "CMI_1_001": 48.25}
	if !reflect.DeepEqual(r.ReportTimes, wantTimes) {
		t.Errorf("ReportTimes = %v, want %v", r.ReportTimes, wantTimes)
	}
	if err := r.Check(c); err != nil {
		t.Errorf("Check: %v", err)
	}

	fsys := folder(t, "testdata/small-results")
	delete(fsys, "report_times.csv")
	r, err = election.LoadResults(fsys, c)
	if err != nil || r.ReportTimes != nil {
		t.Errorf("without report_times.csv: ReportTimes %v, err %v", r.ReportTimes, err)
	}
}

func TestResultsCheck(t *testing.T) {
	c := smallCountry()
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	r := &election.Results{Tallies: map[election.StationBallot]election.Tally{
		{StationID: "BKK_1_001", Ballot: election.BallotConstituency}: {BallotsCast: 401, Invalid: 8, NoVote: 4, Votes: map[int]int{1: 150, 2: 200, 3: 38}},
		{StationID: "BKK_2_001", Ballot: election.BallotPartyList}:    {BallotsCast: 460, Votes: map[int]int{31: 460}}, // 450 eligible
		{StationID: "CMI_1_001", Ballot: election.BallotPartyList}:    {BallotsCast: 10, Votes: map[int]int{31: 10}},
	}}
	err := r.Check(c)
	for _, want := range []error{election.ErrArith, election.ErrOverEligible} {
		if !errors.Is(err, want) {
			t.Errorf("Check = %v, want it to wrap %v", err, want)
		}
	}
	if errs := err.(interface{ Unwrap() []error }).Unwrap(); len(errs) != 2 ||
		!strings.Contains(errs[0].Error(), "BKK_1_001") || !strings.Contains(errs[1].Error(), "BKK_2_001") {
		t.Errorf("Check = %v, want the two bad counts in station order", err)
	}
}

func TestLoadResultsErrors(t *testing.T) {
	const totalsHeader = "station_id,ballot,ballots_cast,invalid,no_vote\n"
	const votesHeader = "station_id,ballot,number,votes\n"
	tests := []struct {
		name   string
		file   string
		data   string
		line   int
		column string
		want   error
	}{
		{name: "unknown station", file: "station_totals.csv",
			data: totalsHeader + "BKK_1_001,partylist,400,6,2\nBKK_1_009,partylist,400,6,2\n",
			line: 3, column: "station_id", want: election.ErrUnknownRef},
		{name: "unknown ballot", file: "station_totals.csv",
			data: totalsHeader + "BKK_1_001,senate,400,6,2\n",
			line: 2, column: "ballot", want: election.ErrBadValue},
		{name: "negative invalid", file: "station_totals.csv",
			data: totalsHeader + "BKK_1_001,partylist,400,-6,2\n",
			line: 2, column: "invalid", want: election.ErrBadNumber},
		{name: "two totals for one count", file: "station_totals.csv",
			data: totalsHeader + "BKK_1_001,partylist,400,6,2\nBKK_1_001,constituency,400,6,2\nBKK_1_001,partylist,400,6,2\n",
			line: 4, column: "ballot", want: election.ErrDuplicateID},
		{name: "votes without totals", file: "station_votes.csv",
			data: votesHeader + "BKK_1_001,partylist,31,210\nBKK_1_003,partylist,31,10\n",
			line: 3, column: "ballot", want: election.ErrUnknownRef},
		{name: "unknown party", file: "station_votes.csv",
			data: votesHeader + "BKK_1_001,partylist,1,210\n",
			line: 2, column: "number", want: election.ErrUnknownRef},
		{name: "party number on the constituency ballot", file: "station_votes.csv",
			data: votesHeader + "BKK_1_001,constituency,1,150\nBKK_1_001,constituency,31,200\n",
			line: 3, column: "number", want: election.ErrUnknownRef},
		{name: "two rows for one number", file: "station_votes.csv",
			data: votesHeader + "BKK_1_001,partylist,31,210\nBKK_1_001,partylist,31,211\n",
			line: 3, column: "number", want: election.ErrDuplicateID},
		{name: "votes not an integer", file: "station_votes.csv",
			data: votesHeader + "BKK_1_001,partylist,31,2e2\n",
			line: 2, column: "votes", want: election.ErrBadNumber},
		{name: "negative minutes", file: "report_times.csv",
			data: "station_id,minutes_after_close\nBKK_1_001,-5\n",
			line: 2, column: "minutes_after_close", want: election.ErrBadNumber},
		{name: "minutes not a number", file: "report_times.csv",
			data: "station_id,minutes_after_close\nBKK_1_001,NaN\n",
			line: 2, column: "minutes_after_close", want: election.ErrBadNumber},
		{name: "two report times", file: "report_times.csv",
			data: "station_id,minutes_after_close\nBKK_1_001,5\nBKK_1_001,6\n",
			line: 3, column: "station_id", want: election.ErrDuplicateID},
	}
	c, err := election.LoadCountry(os.DirFS("testdata/small"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := folder(t, "testdata/small-results")
			fsys[tt.file] = &fstest.MapFile{Data: []byte(tt.data)}
			r, err := election.LoadResults(fsys, c)
			assertCSVError(t, r != nil, err, tt.file, tt.line, tt.column, tt.want)
		})
	}
}

func TestLoadResultsMissingFiles(t *testing.T) {
	c, err := election.LoadCountry(os.DirFS("testdata/small"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"station_totals.csv", "station_votes.csv"} {
		fsys := folder(t, "testdata/small-results")
		delete(fsys, file)
		if _, err := election.LoadResults(fsys, c); !errors.Is(err, election.ErrMissingFile) {
			t.Errorf("without %s: %v", file, err)
		}
	}
	// Results need stations: a reference folder without them knows none.
	noStations := folder(t, "testdata/small")
	delete(noStations, "stations.csv")
	delete(noStations, "candidates.csv")
	bare, err := election.LoadCountry(noStations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := election.LoadResults(os.DirFS("testdata/small-results"), bare); !errors.Is(err, election.ErrUnknownRef) {
		t.Errorf("results for a country without stations: %v", err)
	}
}
