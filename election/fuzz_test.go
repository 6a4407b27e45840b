package election

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"strconv"
	"testing"
	"testing/fstest"
)

var sentinels = []error{
	ErrDuplicateID, ErrUnknownRef, ErrBadNumber, ErrBadValue, ErrBadUTF8, ErrBadHeader,
	ErrColumnCount, ErrSyntax, ErrMissingFile,
}

// assertKnownError fails unless err wraps one of the package's sentinels: a loader must
// explain every rejection, never pass on a bare error.
func assertKnownError(t *testing.T, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error wraps no sentinel: %v", err)
}

func readSeed(f *testing.F, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}

// encode writes one file of the contract into memory.
func encode(t *testing.T, fill func(io.Writer) error) *fstest.MapFile {
	t.Helper()
	var b bytes.Buffer
	if err := fill(&b); err != nil {
		t.Fatal(err)
	}
	return &fstest.MapFile{Data: b.Bytes()}
}

func sameCountry(a, b *Country) bool {
	return reflect.DeepEqual(a.Provinces, b.Provinces) && reflect.DeepEqual(a.Constituencies, b.Constituencies) &&
		reflect.DeepEqual(a.Stations, b.Stations) && reflect.DeepEqual(a.Parties, b.Parties) &&
		reflect.DeepEqual(a.Candidates, b.Candidates) && reflect.DeepEqual(a.Files, b.Files)
}

// FuzzLoadCountry feeds arbitrary reference files to LoadCountry (an empty stations or
// candidates argument means the file is absent). It must never panic; a rejection must wrap
// a sentinel; an accepted country must pass Validate and survive a write and a reload
// unchanged.
func FuzzLoadCountry(f *testing.F) {
	dir := "testdata/small/"
	provinces := readSeed(f, dir+FileProvinces)
	constituencies := readSeed(f, dir+FileConstituencies)
	parties := readSeed(f, dir+FileParties)
	stations := readSeed(f, dir+FileStations)
	candidates := readSeed(f, dir+FileCandidates)
	f.Add(provinces, constituencies, parties, stations, candidates)
	f.Add(provinces, constituencies, parties, "", "")
	f.Add("\ufeffregion,province_id,name_en,name_th\ncentral,BKK,,กรุงเทพมหานคร\n", "constituency_id,province_id,number,eligible_voters,stations\nBKK_1,BKK,1,137554,239\n",
		"party_no,name_th,name_en\n31,ก้าวไกล,\n", "station_id,constituency_id,subdistrict,number,eligible_voters\nS1,BKK_1,\"a,b\",1,500\n", "")
	f.Add(provinces, "constituency_id,province_id,number,eligible_voters,stations\nBKK_1,BKK,1,-5,3\n", parties, "", "")
	f.Add(provinces, constituencies, "party_no,name_th,name_en\n31,\"ก้าว\"ไกล,\n", "", "")
	f.Add(provinces, constituencies, parties, "station_id,constituency_id,subdistrict,number,eligible_voters,priority,urban\nS1,BKK_7,a,1,500,2,1\nS1,BKK_1,a,1\n", "")
	f.Add(provinces, constituencies, parties, "", "constituency_id,candidate_no,name,party_no\nBKK_1,1,\xff,99\nBKK_1,1,b,29\n")
	f.Add(provinces, constituencies, parties, "", "constituency_id,candidate_no,name,party_no\nBKK_1,1,a,\nBKK_1,2,b,\nBKK_1,3,c,29\n")
	f.Add("", "", "", "", "")

	f.Fuzz(func(t *testing.T, provinces, constituencies, parties, stations, candidates string) {
		fsys := fstest.MapFS{
			FileProvinces:      {Data: []byte(provinces)},
			FileConstituencies: {Data: []byte(constituencies)},
			FileParties:        {Data: []byte(parties)},
		}
		if stations != "" {
			fsys[FileStations] = &fstest.MapFile{Data: []byte(stations)}
		}
		if candidates != "" {
			fsys[FileCandidates] = &fstest.MapFile{Data: []byte(candidates)}
		}
		c, err := LoadCountry(fsys)
		if err != nil {
			assertKnownError(t, err)
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded country fails Validate: %v", err)
		}
		again := fstest.MapFS{
			FileProvinces:      encode(t, c.writeProvinces),
			FileConstituencies: encode(t, c.writeConstituencies),
			FileParties:        encode(t, c.writeParties),
		}
		if stations != "" {
			again[FileStations] = encode(t, c.writeStations)
		}
		if candidates != "" {
			again[FileCandidates] = encode(t, c.writeCandidates)
		}
		c2, err := LoadCountry(again)
		if err != nil {
			t.Fatalf("reloading what was written: %v", err)
		}
		if !sameCountry(c, c2) {
			t.Fatalf("round trip changed the country:\n%+v\n%+v", c, c2)
		}
	})
}

// FuzzLoadResults feeds arbitrary results files for the small test country.
func FuzzLoadResults(f *testing.F) {
	c, err := LoadCountry(os.DirFS("testdata/small"))
	if err != nil {
		f.Fatal(err)
	}
	dir := "testdata/small-results/"
	totals := readSeed(f, dir+FileStationTotals)
	votes := readSeed(f, dir+FileStationVotes)
	times := readSeed(f, dir+FileReportTimes)
	f.Add(totals, votes, times)
	f.Add(totals, votes, "")
	f.Add(totals, "station_id,ballot,number,votes\nBKK_1_001,partylist,31,-1\nBKK_1_001,partylist,31,2\n", "")
	f.Add("station_id,ballot,ballots_cast,invalid,no_vote\nBKK_1_001,senate,1,1,1\n", votes, "station_id,minutes_after_close\nBKK_1_001,1e400\n")
	f.Add(totals, votes, "station_id,minutes_after_close\nBKK_1_001,0x1p3\nBKK_1_002,Inf\n")

	f.Fuzz(func(t *testing.T, totals, votes, times string) {
		fsys := fstest.MapFS{
			FileStationTotals: {Data: []byte(totals)},
			FileStationVotes:  {Data: []byte(votes)},
		}
		if times != "" {
			fsys[FileReportTimes] = &fstest.MapFile{Data: []byte(times)}
		}
		r, err := LoadResults(fsys, c)
		if err != nil {
			assertKnownError(t, err)
			return
		}
		_ = r.Check(c) // must not panic, whatever the figures
		keys := r.Keys()
		again := fstest.MapFS{
			FileStationTotals: encode(t, func(w io.Writer) error { return writeTotals(w, r, keys) }),
			FileStationVotes:  encode(t, func(w io.Writer) error { return writeVotes(w, r, keys) }),
		}
		if r.ReportTimes != nil {
			again[FileReportTimes] = encode(t, r.writeReportTimes)
		}
		r2, err := LoadResults(again, c)
		if err != nil {
			t.Fatalf("reloading what was written: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the results:\n%+v\n%+v", r, r2)
		}
	})
}

// FuzzParseVotes checks that only canonical keys are accepted, so that formatting an
// accepted key gives it back unchanged.
func FuzzParseVotes(f *testing.F) {
	for _, k := range []string{"1", "7", "31", "07", "0", "-1", "+1", " 1", "1.0", "ก", "99999999999999999999"} {
		f.Add(k, 10)
	}
	f.Add("5", -1)
	f.Fuzz(func(t *testing.T, key string, v int) {
		votes, err := ParseVotes(map[string]int{key: v})
		if err != nil {
			if !errors.Is(err, ErrBadNumber) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if len(votes) != 1 || v < 0 {
			t.Fatalf("accepted %q: %d -> %v", key, v, votes)
		}
		for no := range votes {
			if no < 1 || strconv.Itoa(no) != key {
				t.Fatalf("accepted %q as %d", key, no)
			}
		}
	})
}
