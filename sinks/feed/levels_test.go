package feed

import (
	"encoding/json"
	"reflect"
	"testing"

	"votestream/schemas"
)

// addCount adds c's sums into into (turnout is a ratio: left out, checked apart).
func addCount(into *Count, c Count) {
	into.StationsReported += c.StationsReported
	into.StationsDisputed += c.StationsDisputed
	into.StationsVerified += c.StationsVerified
	into.StationsFinal += c.StationsFinal
	into.StationsTotal += c.StationsTotal
	into.EligibleReported += c.EligibleReported
	into.EligibleTotal += c.EligibleTotal
	into.BallotsCast += c.BallotsCast
	into.Invalid += c.Invalid
	into.NoVote += c.NoVote
	into.ValidVotes += c.ValidVotes
}

func sansTurnout(c Count) Count { c.Turnout = nil; return c }

// areaSums is what an area must show, summed from the level below.
type areaSums struct {
	counted         [2]Count
	cvotes, plvotes map[int]int64
	leading, called map[int]int
	calls           CallCounts
	constituencies  []string
	eligible        int64
}

func newAreaSums() *areaSums {
	return &areaSums{cvotes: map[int]int64{}, plvotes: map[int]int64{}, leading: map[int]int{}, called: map[int]int{}, constituencies: []string{}}
}

func (s *areaSums) addConstituency(c ConstituencyView) {
	addCount(&s.counted[0], c.Counted.Constituency)
	addCount(&s.counted[1], c.Counted.PartyList)
	for _, cand := range c.Candidates {
		if cand.CountedVotes != 0 {
			s.cvotes[cand.PartyNo] += cand.CountedVotes
		}
	}
	for _, pv := range c.PartyListVotes {
		s.plvotes[pv.PartyNo] += pv.Votes
	}
	countCall(&s.calls, "", 0)
	if c.Leader != nil {
		s.calls.None--
		countCall(&s.calls, schemas.CallState(*c.Recommendation), c.Leader.CandidateNo)
		if c.Leader.PartyNo > 0 {
			s.leading[c.Leader.PartyNo]++
			if c.Call != nil && c.Call.State == schemas.CallCalled && c.Call.Leader.CandidateNo == c.Leader.CandidateNo {
				s.called[c.Leader.PartyNo]++
			}
		}
	}
	s.constituencies = append(s.constituencies, c.ConstituencyID)
	s.eligible += c.EligibleVoters
}

func (s *areaSums) addArea(a AreaView) {
	addCount(&s.counted[0], a.Counted.Constituency)
	addCount(&s.counted[1], a.Counted.PartyList)
	for _, p := range a.Parties {
		s.cvotes[p.PartyNo] += p.ConstituencyVotes
		s.plvotes[p.PartyNo] += p.PartyListVotes
		s.leading[p.PartyNo] += p.ConstituenciesLeading
		s.called[p.PartyNo] += p.ConstituenciesCalled
	}
	s.calls.None += a.Recommendations.None
	s.calls.TooEarly += a.Recommendations.TooEarly
	s.calls.Leading += a.Recommendations.Leading
	s.calls.Likely += a.Recommendations.Likely
	s.calls.Called += a.Recommendations.Called
	s.constituencies = append(s.constituencies, a.Constituencies...)
	s.eligible += a.EligibleVoters
}

// check compares an area's own figures with the sums of the level below.
func (s *areaSums) check(t *testing.T, what string, a AreaView) {
	t.Helper()
	if got, want := sansTurnout(a.Counted.Constituency), s.counted[0]; got != want {
		t.Errorf("%s constituency ballot: %+v\nsum of the level below: %+v", what, got, want)
	}
	if got, want := sansTurnout(a.Counted.PartyList), s.counted[1]; got != want {
		t.Errorf("%s party-list ballot: %+v\nsum of the level below: %+v", what, got, want)
	}
	cv, pl, lead, called := map[int]int64{}, map[int]int64{}, map[int]int{}, map[int]int{}
	for _, p := range a.Parties {
		if p.ConstituencyVotes != 0 {
			cv[p.PartyNo] = p.ConstituencyVotes
		}
		if p.PartyListVotes != 0 {
			pl[p.PartyNo] = p.PartyListVotes
		}
		if p.ConstituenciesLeading != 0 {
			lead[p.PartyNo] = p.ConstituenciesLeading
		}
		if p.ConstituenciesCalled != 0 {
			called[p.PartyNo] = p.ConstituenciesCalled
		}
	}
	for _, m := range []map[int]int64{s.cvotes, s.plvotes} {
		for k, v := range m {
			if v == 0 {
				delete(m, k)
			}
		}
	}
	for _, m := range []map[int]int{s.leading, s.called} {
		for k, v := range m {
			if v == 0 {
				delete(m, k)
			}
		}
	}
	if !reflect.DeepEqual(cv, s.cvotes) || !reflect.DeepEqual(pl, s.plvotes) || !reflect.DeepEqual(lead, s.leading) || !reflect.DeepEqual(called, s.called) {
		t.Errorf("%s parties: constituency %v party-list %v leading %v called %v\nsums: %v %v %v %v", what, cv, pl, lead, called,
			s.cvotes, s.plvotes, s.leading, s.called)
	}
	if a.Recommendations != s.calls || !reflect.DeepEqual(a.Constituencies, s.constituencies) || a.EligibleVoters != s.eligible {
		t.Errorf("%s: calls %+v constituencies %v eligible %d; sums %+v %v %d", what, a.Recommendations, a.Constituencies, a.EligibleVoters,
			s.calls, s.constituencies, s.eligible)
	}
}

// checkLevels reads every level from a running feed and checks that each agrees with the
// one below it to the vote: provinces with their constituencies, regions with their
// provinces, the country with its regions.
func checkLevels(t *testing.T, base, key string) {
	t.Helper()
	read := func(path string, v any) {
		t.Helper()
		resp, body := get(t, base+path, key)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var provinces ProvincesAnswer
	read("/v1/feed/provinces", &provinces)
	if len(provinces.Provinces) == 0 {
		t.Fatal("no provinces")
	}
	byRegion := map[string]*areaSums{}
	for _, p := range provinces.Provinces {
		var cs ConstituenciesAnswer
		read("/v1/feed/constituencies?province="+p.ID, &cs)
		sums := newAreaSums()
		for _, c := range cs.Constituencies {
			sums.addConstituency(c)
		}
		sums.check(t, "province "+p.ID, p)
		var one ProvinceAnswer
		read("/v1/feed/provinces/"+p.ID, &one)
		if !reflect.DeepEqual(one.Province, p) {
			t.Errorf("/v1/feed/provinces/%s differs from its list entry:\n%+v\n%+v", p.ID, one.Province, p)
		}
		if byRegion[p.Region] == nil {
			byRegion[p.Region] = newAreaSums()
		}
		byRegion[p.Region].addArea(p)
	}
	var regions RegionsAnswer
	read("/v1/feed/regions", &regions)
	if len(regions.Regions) != len(byRegion) {
		t.Fatalf("%d regions, provinces name %d", len(regions.Regions), len(byRegion))
	}
	national := newAreaSums()
	for _, r := range regions.Regions {
		byRegion[r.ID].check(t, "region "+r.ID, r)
		national.addArea(r)
	}
	var sum SummaryAnswer
	read("/v1/feed/summary", &sum)
	if got := sansTurnout(sum.Counted.Constituency); got != national.counted[0] {
		t.Errorf("summary constituency ballot %+v, regions sum to %+v", got, national.counted[0])
	}
	if got := sansTurnout(sum.Counted.PartyList); got != national.counted[1] {
		t.Errorf("summary party-list ballot %+v, regions sum to %+v", got, national.counted[1])
	}
	if sum.Estimate != nil && sum.Estimate.Recommendations != national.calls {
		t.Errorf("summary calls %+v, regions sum to %+v", sum.Estimate.Recommendations, national.calls)
	}
}

func TestLevelsAgree(t *testing.T) {
	f := newTestFeed(t, nil)
	f.markReady()
	srv := serve(t, f)
	checkLevels(t, srv.URL, keyNation) // nothing reported
	f.applyResult(res("BKK_1_001", cons, 1, corr, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 1))
	f.applyResult(res("BKK_1_002", cons, 2, disp, fin, 400, 4, 6, map[string]int{"1": 100}, 2))
	f.applyResult(res("BKK_1_003", cons, 1, verif, prog, 300, 4, 6, map[string]int{"1": 100, "2": 150, "9": 40}, 2)) // 9: not in the reference
	f.applyResult(res("BKK_2_001", pl, 1, prov, fin, 420, 0, 0, map[string]int{"31": 300, "29": 120}, 3))
	f.applyResult(res("CMI_1_001", pl, 1, verif, prog, 600, 10, 5, map[string]int{"29": 400, "31": 150, "7": 35}, 3))
	f.applyResult(res("CMI_1_002", cons, 1, corr, fin, 450, 5, 5, map[string]int{"1": 200, "2": 210, "3": 30}, 4))
	f.applyEstimate(estimate("e1", 3, 4, proj("BKK_1", 2, 0.8, schemas.CallLikely), proj("CMI_1", 1, 0.99, schemas.CallCalled)))
	checkLevels(t, srv.URL, keyNation)
	f.applyInputs([]input{{tombstone: [2]string{"CMI_1_002", cons}}})
	checkLevels(t, srv.URL, keyNation)

	// And the figures are the reference's: BKK has 2,400 eligible in BKK_1 and BKK_2.
	var p ProvinceAnswer
	_, body := get(t, srv.URL+"/v1/feed/provinces/BKK", keyNation)
	if err := json.Unmarshal(body, &p); err != nil || p.Province.EligibleVoters != 2400 || p.Province.Counted.Constituency.BallotsCast != 800 ||
		p.Province.Region != "central" || p.Province.NameTH != "กรุงเทพมหานคร" || !p.Unofficial {
		t.Fatalf("BKK: %s", body)
	}
	if resp, _ := get(t, srv.URL+"/v1/feed/provinces/XYZ", keyNation); resp.StatusCode != 404 {
		t.Fatalf("unknown province: %d", resp.StatusCode)
	}
}
