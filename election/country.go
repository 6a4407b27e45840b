package election

import (
	"cmp"
	"fmt"
	"slices"
	"unicode/utf8"
)

// countryIndex holds the maps behind a Country's lookups. Values are positions in the
// Country's slices, so a lookup copies one element and the index shares no memory with
// callers except the per-constituency slices, which are documented as read-only.
type countryIndex struct {
	provinces      map[string]int
	constituencies map[string]int
	stations       map[string]int
	parties        map[int]int
	candidates     map[candidateKey]int

	constituenciesIn map[string][]Constituency // by province, ordered by number
	stationsIn       map[string][]Station      // by constituency, ordered by number then id
	candidatesIn     map[string][]Candidate    // by constituency, ordered by candidate number
}

type candidateKey struct {
	constituencyID string
	no             int
}

// Index checks the Country (as Validate does) and builds the maps behind its lookups. It
// returns Validate's error and leaves the Country unindexed if any check fails, so a
// Country that answers lookups is always referentially sound.
//
// Index writes to the Country: call it once, before sharing the Country between goroutines,
// and call it again after changing any slice. It is not safe for concurrent use; the
// lookups it enables are.
func (c *Country) Index() error {
	idx, problems := c.build()
	if err := problems.err(); err != nil {
		return err
	}
	c.idx = idx
	return nil
}

// Indexed reports whether Index has succeeded on the Country.
func (c *Country) Indexed() bool { return c.idx != nil }

// Validate reports every referential problem of the Country (up to a bound), each wrapping
// ErrDuplicateID, ErrUnknownRef or ErrBadNumber: duplicate province, constituency or
// station ids and party numbers; two constituencies with the same province and number; two
// candidates with the same number, or the same party, in one constituency; a constituency
// in an unknown province; a station or candidate in an unknown constituency; a candidate of
// an unknown party; negative counts and numbers below 1. It neither needs nor changes the
// index, and is safe for concurrent use with other read-only calls.
//
// Validate does not require a constituency's published station count or eligible voters to
// match the sum of its stations: published figures and station lists disagree in real data.
func (c *Country) Validate() error {
	_, problems := c.build()
	return problems.err()
}

func (c *Country) build() (*countryIndex, *errList) {
	var problems errList
	idx := &countryIndex{
		provinces:        make(map[string]int, len(c.Provinces)),
		constituencies:   make(map[string]int, len(c.Constituencies)),
		stations:         make(map[string]int, len(c.Stations)),
		parties:          make(map[int]int, len(c.Parties)),
		candidates:       make(map[candidateKey]int, len(c.Candidates)),
		constituenciesIn: make(map[string][]Constituency, len(c.Provinces)),
		stationsIn:       make(map[string][]Station, len(c.Constituencies)),
		candidatesIn:     make(map[string][]Candidate, len(c.Constituencies)),
	}
	for i, p := range c.Provinces {
		if err := checkID(p.ID); err != nil {
			problems.add(fmt.Errorf("province %d: id: %w", i+1, err))
			continue
		}
		if err := checkID(p.Region); err != nil {
			problems.add(fmt.Errorf("province %q: region: %w", p.ID, err))
		}
		if err := checkText(p.NameTH, p.NameEN); err != nil {
			problems.add(fmt.Errorf("province %q: %w", p.ID, err))
		}
		if _, dup := idx.provinces[p.ID]; dup {
			problems.add(fmt.Errorf("%w: province %q", ErrDuplicateID, p.ID))
			continue
		}
		idx.provinces[p.ID] = i
	}

	type provinceNumber struct {
		province string
		number   int
	}
	seatNumbers := make(map[provinceNumber]string, len(c.Constituencies))
	for i, k := range c.Constituencies {
		switch {
		case checkID(k.ID) != nil:
			problems.add(fmt.Errorf("constituency %d: id: %w", i+1, checkID(k.ID)))
			continue
		case k.Number < 1:
			problems.add(fmt.Errorf("%w: constituency %q: number %d below 1", ErrBadNumber, k.ID, k.Number))
		case k.EligibleVoters < 0 || k.Stations < 0:
			problems.add(fmt.Errorf("%w: constituency %q: negative eligible voters or stations", ErrBadNumber, k.ID))
		}
		if _, dup := idx.constituencies[k.ID]; dup {
			problems.add(fmt.Errorf("%w: constituency %q", ErrDuplicateID, k.ID))
			continue
		}
		idx.constituencies[k.ID] = i
		if _, ok := idx.provinces[k.ProvinceID]; !ok {
			problems.add(fmt.Errorf("%w: constituency %q: province %q", ErrUnknownRef, k.ID, k.ProvinceID))
		}
		pn := provinceNumber{k.ProvinceID, k.Number}
		if other, dup := seatNumbers[pn]; dup {
			problems.add(fmt.Errorf("%w: constituencies %q and %q are both number %d of province %q",
				ErrDuplicateID, other, k.ID, k.Number, k.ProvinceID))
		} else {
			seatNumbers[pn] = k.ID
		}
		idx.constituenciesIn[k.ProvinceID] = append(idx.constituenciesIn[k.ProvinceID], k)
	}

	for i, s := range c.Stations {
		switch {
		case checkID(s.ID) != nil:
			problems.add(fmt.Errorf("station %d: id: %w", i+1, checkID(s.ID)))
			continue
		case checkText(s.Subdistrict) != nil:
			problems.add(fmt.Errorf("station %q: %w", s.ID, checkText(s.Subdistrict)))
		case s.Number < 1:
			problems.add(fmt.Errorf("%w: station %q: number %d below 1", ErrBadNumber, s.ID, s.Number))
		case s.EligibleVoters < 0:
			problems.add(fmt.Errorf("%w: station %q: negative eligible voters", ErrBadNumber, s.ID))
		}
		if _, dup := idx.stations[s.ID]; dup {
			problems.add(fmt.Errorf("%w: station %q", ErrDuplicateID, s.ID))
			continue
		}
		idx.stations[s.ID] = i
		if _, ok := idx.constituencies[s.ConstituencyID]; !ok {
			problems.add(fmt.Errorf("%w: station %q: constituency %q", ErrUnknownRef, s.ID, s.ConstituencyID))
		}
		idx.stationsIn[s.ConstituencyID] = append(idx.stationsIn[s.ConstituencyID], s)
	}

	for i, p := range c.Parties {
		if p.No < 1 {
			problems.add(fmt.Errorf("%w: party %d: number %d below 1", ErrBadNumber, i+1, p.No))
		}
		if err := checkText(p.NameTH, p.NameEN); err != nil {
			problems.add(fmt.Errorf("party %d: %w", p.No, err))
		}
		if _, dup := idx.parties[p.No]; dup {
			problems.add(fmt.Errorf("%w: party number %d", ErrDuplicateID, p.No))
			continue
		}
		idx.parties[p.No] = i
	}

	partyCandidate := make(map[candidateKey]int, len(c.Candidates)) // (constituency, party) -> candidate no
	for i, d := range c.Candidates {
		if d.No < 1 {
			problems.add(fmt.Errorf("%w: candidate %d in %q: number %d below 1", ErrBadNumber, i+1, d.ConstituencyID, d.No))
		}
		if err := checkText(d.Name); err != nil {
			problems.add(fmt.Errorf("candidate %d in %q: %w", d.No, d.ConstituencyID, err))
		}
		key := candidateKey{d.ConstituencyID, d.No}
		if _, dup := idx.candidates[key]; dup {
			problems.add(fmt.Errorf("%w: candidate number %d in constituency %q", ErrDuplicateID, d.No, d.ConstituencyID))
			continue
		}
		idx.candidates[key] = i
		if _, ok := idx.constituencies[d.ConstituencyID]; !ok {
			problems.add(fmt.Errorf("%w: candidate %d: constituency %q", ErrUnknownRef, d.No, d.ConstituencyID))
		}
		other, dup := partyCandidate[candidateKey{d.ConstituencyID, d.PartyNo}]
		_, known := idx.parties[d.PartyNo]
		switch {
		case d.PartyNo == NoParty:
			// No party-list number (an independent): nothing to check against the parties.
		case !known:
			problems.add(fmt.Errorf("%w: candidate %d in %q: party %d", ErrUnknownRef, d.No, d.ConstituencyID, d.PartyNo))
		case dup:
			// A party fields at most one candidate per constituency.
			problems.add(fmt.Errorf("%w: party %d has candidates %d and %d in constituency %q",
				ErrDuplicateID, d.PartyNo, other, d.No, d.ConstituencyID))
		default:
			partyCandidate[candidateKey{d.ConstituencyID, d.PartyNo}] = d.No
		}
		idx.candidatesIn[d.ConstituencyID] = append(idx.candidatesIn[d.ConstituencyID], d)
	}

	for _, ks := range idx.constituenciesIn {
		slices.SortStableFunc(ks, func(a, b Constituency) int { return cmp.Compare(a.Number, b.Number) })
	}
	for _, ss := range idx.stationsIn {
		slices.SortStableFunc(ss, func(a, b Station) int {
			return cmp.Or(cmp.Compare(a.Number, b.Number), cmp.Compare(a.ID, b.ID))
		})
	}
	for _, ds := range idx.candidatesIn {
		slices.SortStableFunc(ds, func(a, b Candidate) int { return cmp.Compare(a.No, b.No) })
	}
	return idx, &problems
}

// index returns the built index or panics: a lookup on an unindexed Country is a
// programming error that would otherwise answer "not found" for everything.
func (c *Country) index() *countryIndex {
	if c.idx == nil {
		panic("election: Country lookup before a successful Index")
	}
	return c.idx
}

// Province returns the province with the given id. It panics if Index has not succeeded.
func (c *Country) Province(id string) (Province, bool) {
	i, ok := c.index().provinces[id]
	if !ok {
		return Province{}, false
	}
	return c.Provinces[i], true
}

// Constituency returns the constituency with the given id. It panics if Index has not
// succeeded.
func (c *Country) Constituency(id string) (Constituency, bool) {
	i, ok := c.index().constituencies[id]
	if !ok {
		return Constituency{}, false
	}
	return c.Constituencies[i], true
}

// StationByID returns the station with the given id. It panics if Index has not succeeded.
func (c *Country) StationByID(id string) (Station, bool) {
	i, ok := c.index().stations[id]
	if !ok {
		return Station{}, false
	}
	return c.Stations[i], true
}

// Party returns the party with the given party-list number. It panics if Index has not
// succeeded.
func (c *Country) Party(no int) (Party, bool) {
	i, ok := c.index().parties[no]
	if !ok {
		return Party{}, false
	}
	return c.Parties[i], true
}

// Candidate returns candidate number no of a constituency. It panics if Index has not
// succeeded.
func (c *Country) Candidate(constituencyID string, no int) (Candidate, bool) {
	i, ok := c.index().candidates[candidateKey{constituencyID, no}]
	if !ok {
		return Candidate{}, false
	}
	return c.Candidates[i], true
}

// ConstituenciesIn returns a province's constituencies ordered by number, nil for an unknown
// province. The slice is shared by every caller: do not modify it. It panics if Index has
// not succeeded.
func (c *Country) ConstituenciesIn(provinceID string) []Constituency {
	return c.index().constituenciesIn[provinceID]
}

// StationsIn returns a constituency's stations ordered by number, then id (station numbers
// repeat across subdistricts); nil when the constituency is unknown or the Country has no
// stations. The slice is shared by every caller: do not modify it. It panics if Index has
// not succeeded.
func (c *Country) StationsIn(constituencyID string) []Station {
	return c.index().stationsIn[constituencyID]
}

// CandidatesIn returns a constituency's candidates ordered by candidate number; nil when the
// constituency is unknown or the Country has no candidates. The slice is shared by every
// caller: do not modify it. It panics if Index has not succeeded.
func (c *Country) CandidatesIn(constituencyID string) []Candidate {
	return c.index().candidatesIn[constituencyID]
}

// ValidNumber reports whether no can be a vote key on ballot b in a constituency: a party
// number on the party-list ballot, a candidate number of that constituency on the
// constituency ballot. Without candidates in the Country every constituency number is
// unknown, so ValidNumber is false for BallotConstituency. It panics if Index has not
// succeeded.
func (c *Country) ValidNumber(constituencyID string, b Ballot, no int) bool {
	idx := c.index()
	switch b {
	case BallotPartyList:
		_, ok := idx.parties[no]
		return ok
	case BallotConstituency:
		_, ok := idx.candidates[candidateKey{constituencyID, no}]
		return ok
	}
	return false
}

// HasStations reports whether the Country lists its polling stations (a reference folder
// may hold only provinces, constituencies and parties).
func (c *Country) HasStations() bool { return len(c.Stations) > 0 }

// HasCandidates reports whether the Country lists constituency candidates.
func (c *Country) HasCandidates() bool { return len(c.Candidates) > 0 }

// checkText requires free text (names) to be valid UTF-8; it may be empty.
func checkText(texts ...string) error {
	for _, v := range texts {
		if !utf8.ValidString(v) {
			return fmt.Errorf("%w: %q", ErrBadUTF8, v)
		}
	}
	return nil
}
