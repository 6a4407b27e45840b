package simulate

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"votestream/election"
)

// dirDigest hashes every file of dir by name, so two folders compare byte for byte.
func dirDigest(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][32]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(data)
	}
	return out
}

func eventsBytes(t *testing.T, n *Night) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteEvents(&buf, n.Events()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDeterminism(t *testing.T) {
	write := func(seed uint64) (map[string][32]byte, []byte) {
		dir := t.TempDir()
		_, n, err := WriteCountry(SmallConfig(seed), dir)
		if err != nil {
			t.Fatal(err)
		}
		return dirDigest(t, dir), eventsBytes(t, n)
	}
	files1, events1 := write(7)
	files2, events2 := write(7)
	want := []string{
		election.FileProvinces, election.FileConstituencies, election.FileStations, election.FileParties,
		election.FileCandidates, election.FileStationTotals, election.FileStationVotes, election.FileReportTimes,
		FileRoster, FileFaults,
	}
	for _, name := range want {
		if _, ok := files1[name]; !ok {
			t.Errorf("%s not written", name)
		}
	}
	if len(files1) != len(want) {
		t.Errorf("wrote %d files, want %d", len(files1), len(want))
	}
	for name, h := range files1 {
		if files2[name] != h {
			t.Errorf("%s differs between two runs of seed 7", name)
		}
	}
	if !bytes.Equal(events1, events2) {
		t.Error("the event stream differs between two runs of seed 7")
	}
	files3, events3 := write(8)
	if files3[election.FileStationVotes] == files1[election.FileStationVotes] || bytes.Equal(events1, events3) {
		t.Error("seeds 7 and 8 gave the same results or night")
	}
}

// A night simulated over a country read back from its folder is the night of the
// generated country: `simulate country` then `simulate night --ref DIR` agree.
func TestNightFromWrittenCountry(t *testing.T) {
	cfg := SmallConfig(9)
	dir := t.TempDir()
	_, n, err := WriteCountry(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Country.RefDir = dir
	_, again := newNight(t, cfg)
	if !bytes.Equal(eventsBytes(t, n), eventsBytes(t, again)) {
		t.Error("the night over the reloaded country differs")
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestWriteRoundTrip(t *testing.T) {
	cfg := SmallConfig(10)
	dir := t.TempDir()
	s, n, err := WriteCountry(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := election.LoadCountry(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Stations, s.Country.Stations) || !slices.Equal(c.Candidates, s.Country.Candidates) {
		t.Error("stations or candidates differ after a round trip")
	}
	r, err := election.LoadResults(os.DirFS(dir), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(c); err != nil {
		t.Errorf("written results break the rule: %v", err)
	}
	for i, st := range s.Country.Stations {
		for _, b := range election.Ballots {
			got := r.Tallies[election.StationBallot{StationID: st.ID, Ballot: b}]
			want := s.Truth.Tally(i, b)
			if got.BallotsCast != want.BallotsCast || got.Invalid != want.Invalid || got.NoVote != want.NoVote || !mapsEqual(got.Votes, want.Votes) {
				t.Fatalf("station %s, %s: read %+v, want %+v", st.ID, b, got, want)
			}
		}
		if r.ReportTimes[st.ID] != s.Truth.ReportTime(i) {
			t.Fatalf("station %s: report time %v, want %v", st.ID, r.ReportTimes[st.ID], s.Truth.ReportTime(i))
		}
	}

	roster := readCSV(t, filepath.Join(dir, FileRoster))
	if !slices.Equal(roster[0], []string{"org", "volunteer_id", "name", "phone", "role", "scope"}) {
		t.Errorf("roster header %v", roster[0])
	}
	if len(roster)-1 != len(n.Volunteers()) {
		t.Errorf("roster has %d rows, want %d", len(roster)-1, len(n.Volunteers()))
	}
	for i, v := range n.Volunteers() {
		row := roster[i+1]
		if row[0] != v.Org || row[1] != v.ID || row[4] != "station" || row[5] != strings.Join(v.Stations, ";") {
			t.Fatalf("roster row %v for volunteer %+v", row, v)
		}
	}
	faults := readCSV(t, filepath.Join(dir, FileFaults))
	if len(faults)-1 != len(n.Faults()) || faults[0][0] != "submission_id" {
		t.Errorf("faults.csv has %d rows, the night %d labels", len(faults)-1, len(n.Faults()))
	}
}
