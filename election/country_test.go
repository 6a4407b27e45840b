package election_test

import (
	"errors"
	"slices"
	"testing"

	"votestream/election"
)

// smallCountry is the country of testdata/small, built in memory.
func smallCountry() *election.Country {
	return &election.Country{
		Provinces: []election.Province{
			{ID: "BKK", NameTH: "กรุงเทพมหานคร", NameEN: "BANGKOK", Region: "central"},
			{ID: "CMI", NameTH: "เชียงใหม่", NameEN: "CHIANG MAI", Region: "north"},
		},
		Constituencies: []election.Constituency{
			{ID: "BKK_1", ProvinceID: "BKK", Number: 1, EligibleVoters: 1500, Stations: 3},
			{ID: "BKK_2", ProvinceID: "BKK", Number: 2, EligibleVoters: 900, Stations: 2},
			{ID: "CMI_1", ProvinceID: "CMI", Number: 1, EligibleVoters: 1200, Stations: 2},
		},
		Stations: []election.Station{
			{ID: "BKK_1_001", ConstituencyID: "BKK_1", Subdistrict: "พระบรมมหาราชวัง", Number: 1, EligibleVoters: 520, Priority: true, Urban: true},
			{ID: "BKK_1_002", ConstituencyID: "BKK_1", Subdistrict: "พระบรมมหาราชวัง", Number: 2, EligibleVoters: 480, Urban: true},
			{ID: "BKK_1_003", ConstituencyID: "BKK_1", Subdistrict: "วังบูรพาภิรมย์", Number: 1, EligibleVoters: 500, Urban: true},
			{ID: "BKK_2_001", ConstituencyID: "BKK_2", Subdistrict: "บางรัก", Number: 1, EligibleVoters: 450, Urban: true},
			{ID: "BKK_2_002", ConstituencyID: "BKK_2", Subdistrict: "สีลม", Number: 1, EligibleVoters: 450, Priority: true, Urban: true},
			{ID: "CMI_1_001", ConstituencyID: "CMI_1", Subdistrict: "ศรีภูมิ", Number: 1, EligibleVoters: 700},
			{ID: "CMI_1_002", ConstituencyID: "CMI_1", Subdistrict: "พระสิงห์", Number: 1, EligibleVoters: 500},
		},
		Parties: []election.Party{
			{No: 31, NameTH: "ก้าวไกล", NameEN: "Move Forward"},
			{No: 29, NameTH: "เพื่อไทย", NameEN: "Pheu Thai"},
			{No: 7, NameTH: "ภูมิใจไทย", NameEN: `Bhumjaithai, the "proud Thai" party`},
		},
		Candidates: []election.Candidate{
			{ConstituencyID: "BKK_1", No: 1, Name: "สมชาย ใจดี", PartyNo: 29},
			{ConstituencyID: "BKK_1", No: 2, Name: "สมหญิง รักชาติ", PartyNo: 31},
			{ConstituencyID: "BKK_1", No: 3, Name: "Somsak Boonmee", PartyNo: 7},
			{ConstituencyID: "BKK_2", No: 1, Name: "วิไล สุขใจ", PartyNo: 31},
			{ConstituencyID: "BKK_2", No: 2, Name: "ประเสริฐ มั่นคง", PartyNo: 29},
			{ConstituencyID: "CMI_1", No: 1, Name: "อนันต์ ศรีสุข", PartyNo: 29},
			{ConstituencyID: "CMI_1", No: 2, Name: "มาลี ทองดี", PartyNo: 31},
			{ConstituencyID: "CMI_1", No: 3, Name: "สุชาติ แก้วมณี", PartyNo: 7},
		},
	}
}

func TestCountryLookups(t *testing.T) {
	c := smallCountry()
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	if p, ok := c.Province("CMI"); !ok || p.Region != "north" {
		t.Errorf("Province(CMI) = %+v, %v", p, ok)
	}
	if k, ok := c.Constituency("BKK_2"); !ok || k.Number != 2 || k.ProvinceID != "BKK" {
		t.Errorf("Constituency(BKK_2) = %+v, %v", k, ok)
	}
	if s, ok := c.StationByID("BKK_2_002"); !ok || s.ConstituencyID != "BKK_2" || !s.Priority {
		t.Errorf("StationByID(BKK_2_002) = %+v, %v", s, ok)
	}
	if p, ok := c.Party(7); !ok || p.NameTH != "ภูมิใจไทย" {
		t.Errorf("Party(7) = %+v, %v", p, ok)
	}
	// Candidate 3 of BKK_1 stands for party 7: the numbers of one party differ by ballot.
	if d, ok := c.Candidate("BKK_1", 3); !ok || d.PartyNo != 7 {
		t.Errorf("Candidate(BKK_1, 3) = %+v, %v", d, ok)
	}
	for _, miss := range []bool{
		func() bool { _, ok := c.Province("XXX"); return ok }(),
		func() bool { _, ok := c.Constituency("BKK_9"); return ok }(),
		func() bool { _, ok := c.StationByID("BKK_1_004"); return ok }(),
		func() bool { _, ok := c.Party(1); return ok }(),
		func() bool { _, ok := c.Candidate("BKK_2", 3); return ok }(),
	} {
		if miss {
			t.Error("lookup of an unknown key found something")
		}
	}

	var ids []string
	for _, s := range c.StationsIn("BKK_1") {
		ids = append(ids, s.ID)
	}
	// Ordered by number, then id: two stations are number 1 in different subdistricts.
	if want := []string{"BKK_1_001", "BKK_1_003", "BKK_1_002"}; !slices.Equal(ids, want) {
		t.Errorf("StationsIn(BKK_1) = %v, want %v", ids, want)
	}
	var nos []int
	for _, d := range c.CandidatesIn("CMI_1") {
		nos = append(nos, d.No)
	}
	if want := []int{1, 2, 3}; !slices.Equal(nos, want) {
		t.Errorf("CandidatesIn(CMI_1) = %v, want %v", nos, want)
	}
	if n := len(c.ConstituenciesIn("BKK")); n != 2 {
		t.Errorf("ConstituenciesIn(BKK) has %d, want 2", n)
	}
	if c.StationsIn("XXX") != nil || c.CandidatesIn("XXX") != nil {
		t.Error("unknown constituency has stations or candidates")
	}

	valid := []struct {
		constituency string
		ballot       election.Ballot
		no           int
		want         bool
	}{
		{"BKK_1", election.BallotConstituency, 3, true},
		{"BKK_2", election.BallotConstituency, 3, false},
		{"BKK_2", election.BallotPartyList, 7, true},
		{"BKK_2", election.BallotPartyList, 3, false},
		{"BKK_2", election.Ballot("senate"), 1, false},
	}
	for _, v := range valid {
		if got := c.ValidNumber(v.constituency, v.ballot, v.no); got != v.want {
			t.Errorf("ValidNumber(%s, %s, %d) = %v, want %v", v.constituency, v.ballot, v.no, got, v.want)
		}
	}
}

func TestLookupBeforeIndexPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("lookup on an unindexed Country did not panic")
		}
	}()
	smallCountry().StationByID("BKK_1_001")
}

func TestCountryValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *election.Country)
		want   error
	}{
		{"duplicate province", func(c *election.Country) { c.Provinces[1].ID = "BKK" }, election.ErrDuplicateID},
		{"empty region", func(c *election.Country) { c.Provinces[1].Region = "" }, election.ErrBadValue},
		{"duplicate constituency", func(c *election.Country) { c.Constituencies[1].ID = "BKK_1" }, election.ErrDuplicateID},
		{"two constituencies numbered 1 in a province", func(c *election.Country) { c.Constituencies[1].Number = 1 }, election.ErrDuplicateID},
		{"constituency in unknown province", func(c *election.Country) { c.Constituencies[2].ProvinceID = "CMX" }, election.ErrUnknownRef},
		{"negative eligible voters", func(c *election.Country) { c.Constituencies[0].EligibleVoters = -1 }, election.ErrBadNumber},
		{"duplicate station", func(c *election.Country) { c.Stations[6].ID = "BKK_1_001" }, election.ErrDuplicateID},
		{"station in unknown constituency", func(c *election.Country) { c.Stations[0].ConstituencyID = "BKK_9" }, election.ErrUnknownRef},
		{"station id with a space", func(c *election.Country) { c.Stations[0].ID = "BKK_1_001 " }, election.ErrBadValue},
		{"duplicate party", func(c *election.Country) { c.Parties[2].No = 31 }, election.ErrDuplicateID},
		{"party number 0", func(c *election.Country) { c.Parties[2].No = 0 }, election.ErrBadNumber},
		{"candidate of unknown party", func(c *election.Country) { c.Candidates[0].PartyNo = 1 }, election.ErrUnknownRef},
		{"candidate in unknown constituency", func(c *election.Country) { c.Candidates[0].ConstituencyID = "KKN_1" }, election.ErrUnknownRef},
		{"duplicate candidate number", func(c *election.Country) { c.Candidates[1].No = 1 }, election.ErrDuplicateID},
		{"one party, two candidates", func(c *election.Country) { c.Candidates[1].PartyNo = 29 }, election.ErrDuplicateID},
		{"name not UTF-8", func(c *election.Country) { c.Candidates[1].Name = "\xff" }, election.ErrBadUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := smallCountry()
			tt.change(c)
			err := c.Validate()
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate = %v, want %v", err, tt.want)
			}
			if ierr := c.Index(); !errors.Is(ierr, tt.want) || c.Indexed() {
				t.Fatalf("Index = %v (indexed %v), want %v and no index", ierr, c.Indexed(), tt.want)
			}
		})
	}
	if err := smallCountry().Validate(); err != nil {
		t.Errorf("the valid country: %v", err)
	}
}

// Lookups after Index only read: run them from several goroutines under -race.
func TestLookupsConcurrent(t *testing.T) {
	c := smallCountry()
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 1000 {
				_, a := c.StationByID("CMI_1_002")
				_, b := c.Candidate("BKK_1", 2)
				ok = ok && a && b && len(c.StationsIn("BKK_1")) == 3 && c.ValidNumber("BKK_2", election.BallotPartyList, 29)
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("a concurrent lookup failed")
		}
	}
}
