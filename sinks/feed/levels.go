package feed

import (
	"time"

	"votestream/schemas"
)

// AreaView is a province or a region: sums over its constituencies, kept the same way as
// theirs, so every level agrees with the constituencies to the vote.
type AreaView struct {
	ID             string     `json:"id"` // province id, or region name
	NameTH         string     `json:"name_th,omitempty"`
	NameEN         string     `json:"name_en,omitempty"`
	Region         string     `json:"region"`
	Constituencies []string   `json:"constituencies"` // ids, in reference order
	EligibleVoters int64      `json:"eligible_voters"`
	Version        uint64     `json:"version"`
	DataTime       *time.Time `json:"data_time"`
	Counted        Counts     `json:"counted"`
	// Parties: every party with counted votes or a projected lead here, by party number.
	Parties []AreaParty `json:"parties"`
	// Recommendations counts the area's constituencies per state the latest estimate
	// recommends (not calls: ConstituenciesCalled counts the desk's approved calls).
	Recommendations CallCounts `json:"recommendations"`
}

// AreaParty is one party's figures in an area. ConstituencyVotes sums its candidates'
// counted votes (candidates the reference does not list count under party 0).
type AreaParty struct {
	PartyNo               int    `json:"party_no"`
	NameTH                string `json:"name_th"`
	NameEN                string `json:"name_en"`
	ConstituencyVotes     int64  `json:"constituency_votes"`
	PartyListVotes        int64  `json:"partylist_votes"`
	ConstituenciesLeading int    `json:"constituencies_leading"`
	ConstituenciesCalled  int    `json:"constituencies_called"`
}

// ProvincesAnswer is /v1/feed/provinces; ProvinceAnswer /v1/feed/provinces/{id};
// RegionsAnswer /v1/feed/regions.
type (
	ProvincesAnswer struct {
		Meta
		Provinces []AreaView `json:"provinces"`
	}
	ProvinceAnswer struct {
		Meta
		Province AreaView `json:"province"`
	}
	RegionsAnswer struct {
		Meta
		Regions []AreaView `json:"regions"`
	}
)

// area accumulates constituencies into an AreaView.
type area struct {
	view          AreaView
	ballots       [2]tally
	stationsTotal int
	cvotes        map[int]int64 // constituency ballot votes by party
	leading       map[int]int
	called        map[int]int
	version       uint64
	dataTime      time.Time
}

func newArea(id, nameTH, nameEN, region string) *area {
	return &area{view: AreaView{ID: id, NameTH: nameTH, NameEN: nameEN, Region: region, Constituencies: []string{}},
		cvotes: map[int]int64{}, leading: map[int]int{}, called: map[int]int{}}
}

func (a *area) add(v *View, cs *constituency) {
	a.view.Constituencies = append(a.view.Constituencies, cs.ref.ID)
	a.view.EligibleVoters += int64(cs.ref.EligibleVoters)
	a.stationsTotal += cs.stationsTotal
	for b := range a.ballots {
		a.ballots[b].merge(&cs.ballots[b])
	}
	for no, n := range cs.ballots[bConstituency].votes {
		party := 0
		if c, ok := v.country.Candidate(cs.ref.ID, no); ok {
			party = c.PartyNo
		}
		a.cvotes[party] += n
	}
	if p := cs.proj; p != nil {
		countCall(&a.view.Recommendations, p.Call, p.LeaderNo)
		if p.LeaderNo > 0 {
			if c, ok := v.country.Candidate(cs.ref.ID, p.LeaderNo); ok {
				a.leading[c.PartyNo]++
				if cs.approvedCalled() && cs.call.LeaderNo == p.LeaderNo {
					a.called[c.PartyNo]++
				}
			}
		}
	} else {
		a.view.Recommendations.None++
	}
	a.version = max(a.version, cs.lastVersion())
	if t := cs.lastTime(); t.After(a.dataTime) {
		a.dataTime = t
	}
}

func (a *area) finish(v *View) AreaView {
	out := a.view
	out.Version, out.DataTime = a.version, jsonTime(a.dataTime)
	out.Counted = Counts{
		Constituency: count(&a.ballots[bConstituency], a.stationsTotal, out.EligibleVoters),
		PartyList:    count(&a.ballots[bPartyList], a.stationsTotal, out.EligibleVoters),
	}
	parties := map[int]bool{}
	for _, m := range []map[int]int64{a.cvotes, a.ballots[bPartyList].votes} {
		for no := range m {
			parties[no] = true
		}
	}
	for no := range a.leading {
		parties[no] = true
	}
	out.Parties = []AreaParty{}
	for _, no := range sortedInts(parties) {
		ap := AreaParty{PartyNo: no, ConstituencyVotes: a.cvotes[no], PartyListVotes: a.ballots[bPartyList].votes[no],
			ConstituenciesLeading: a.leading[no], ConstituenciesCalled: a.called[no]}
		if p, ok := v.country.Party(no); ok {
			ap.NameTH, ap.NameEN = p.NameTH, p.NameEN
		}
		out.Parties = append(out.Parties, ap)
	}
	return out
}

// countCall adds one constituency's call state to c (none: no leader named), as leads does
// for the country.
func countCall(c *CallCounts, call schemas.CallState, leader int) {
	switch {
	case leader <= 0:
		c.None++
	case call == schemas.CallTooEarly:
		c.TooEarly++
	case call == schemas.CallLeading:
		c.Leading++
	case call == schemas.CallLikely:
		c.Likely++
	case call == schemas.CallCalled:
		c.Called++
	}
}

// merge adds o's sums to t.
func (t *tally) merge(o *tally) {
	t.reported += o.reported
	t.disputed += o.disputed
	t.verified += o.verified
	t.final += o.final
	t.eligible += o.eligible
	t.ballotsCast += o.ballotsCast
	t.invalid += o.invalid
	t.noVote += o.noVote
	if len(o.votes) > 0 && t.votes == nil {
		t.votes = map[int]int64{}
	}
	for no, n := range o.votes {
		t.votes[no] += n
	}
}

// provinceAreas returns the provinces in reference order, each with its constituencies.
func (v *View) provinceAreas(only string) []*area {
	var out []*area
	byID := map[string]*area{}
	for _, p := range v.country.Provinces {
		if only != "" && p.ID != only {
			continue
		}
		a := newArea(p.ID, p.NameTH, p.NameEN, p.Region)
		byID[p.ID] = a
		out = append(out, a)
	}
	for _, cs := range v.order {
		if a := byID[cs.ref.ProvinceID]; a != nil {
			a.add(v, cs)
		}
	}
	return out
}

// Provinces renders every province.
func (v *View) Provinces() ProvincesAnswer {
	out := ProvincesAnswer{Meta: v.meta(v.seq, v.dataTime), Provinces: []AreaView{}}
	for _, a := range v.provinceAreas("") {
		out.Provinces = append(out.Provinces, a.finish(v))
	}
	return out
}

// ProvinceVersion returns the version of one province's answer; false for an unknown id.
func (v *View) ProvinceVersion(id string) (uint64, bool) {
	if _, ok := v.country.Province(id); !ok || id == "" {
		return 0, false
	}
	var version uint64
	for _, cs := range v.order {
		if cs.ref.ProvinceID == id {
			version = max(version, cs.lastVersion())
		}
	}
	return version, true
}

// Province renders one province; false for an unknown id.
func (v *View) Province(id string) (ProvinceAnswer, bool) {
	areas := v.provinceAreas(id)
	if len(areas) != 1 || id == "" {
		return ProvinceAnswer{}, false
	}
	a := areas[0]
	return ProvinceAnswer{Meta: v.meta(a.version, a.dataTime), Province: a.finish(v)}, true
}

// Regions renders every region, in the order their first province comes in the reference.
func (v *View) Regions() RegionsAnswer {
	out := RegionsAnswer{Meta: v.meta(v.seq, v.dataTime), Regions: []AreaView{}}
	var order []*area
	byRegion := map[string]*area{}
	regionOf := map[string]string{}
	for _, p := range v.country.Provinces {
		regionOf[p.ID] = p.Region
		if byRegion[p.Region] == nil {
			a := newArea(p.Region, "", "", p.Region)
			byRegion[p.Region] = a
			order = append(order, a)
		}
	}
	for _, cs := range v.order {
		if a := byRegion[regionOf[cs.ref.ProvinceID]]; a != nil {
			a.add(v, cs)
		}
	}
	for _, a := range order {
		out.Regions = append(out.Regions, a.finish(v))
	}
	return out
}
