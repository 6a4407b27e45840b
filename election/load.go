package election

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// File names of the CSV contract (DESIGN.md §4).
const (
	FileProvinces      = "provinces.csv"
	FileConstituencies = "constituencies.csv"
	FileStations       = "stations.csv" // optional in a reference folder
	FileParties        = "parties.csv"
	FileCandidates     = "candidates.csv" // optional in a reference folder
	FileStationTotals  = "station_totals.csv"
	FileStationVotes   = "station_votes.csv"
	FileReportTimes    = "report_times.csv" // optional in a results set
)

// Column names, in the order WriteCountry and WriteResults write them. Loading accepts the
// columns in any order; the columns listed as optional may be absent.
var (
	provinceColumns      = []string{"province_id", "name_th", "name_en", "region"}
	constituencyColumns  = []string{"constituency_id", "province_id", "number", "eligible_voters", "stations"}
	stationColumns       = []string{"station_id", "constituency_id", "subdistrict", "number", "eligible_voters"}
	stationOptional      = []string{"priority", "urban"}
	partyColumns         = []string{"party_no", "name_th", "name_en"}
	candidateColumns     = []string{"constituency_id", "candidate_no", "name", "party_no"}
	stationTotalsColumns = []string{"station_id", "ballot", "ballots_cast", "invalid", "no_vote"}
	stationVotesColumns  = []string{"station_id", "ballot", "number", "votes"}
	reportTimesColumns   = []string{"station_id", "minutes_after_close"}
)

// LoadCountry reads a reference folder (use os.DirFS for a directory): provinces.csv,
// constituencies.csv and parties.csv are required; stations.csv and candidates.csv are
// read when present, and Country.Files says which files were. Every file needs a header row;
// columns are found by name, in any order, and an unknown column is an error.
//
// Every malformed row gives a *CSVError naming file, line and column, wrapping a sentinel:
// ErrDuplicateID, ErrUnknownRef (a constituency in an unknown province, a station or
// candidate in an unknown constituency, a candidate of an unknown party), ErrBadNumber
// (negative, non-integer, or a number below 1 where numbering starts at 1), ErrBadValue,
// ErrBadUTF8, ErrColumnCount, ErrSyntax or ErrBadHeader. Up to 20 problems are reported,
// joined; loading stops after the first file with problems, since later files refer to it.
// The Country returned is indexed.
func LoadCountry(fsys fs.FS) (*Country, error) {
	l := &countryLoader{
		c:                 &Country{},
		provinceLines:     map[string]int{},
		constituencyLines: map[string]int{},
		seatLines:         map[string]int{},
		partyLines:        map[int]int{},
		stationLines:      map[string]int{},
		candidateLines:    map[candidateKey]int{},
		partyCandidates:   map[candidateKey]int{},
	}
	steps := []struct {
		file              string
		columns, optional []string
		required          bool
		load              func(*table)
	}{
		{FileProvinces, provinceColumns, nil, true, l.provinces},
		{FileConstituencies, constituencyColumns, nil, true, l.constituencies},
		{FileParties, partyColumns, nil, true, l.parties},
		{FileStations, stationColumns, stationOptional, false, l.stations},
		{FileCandidates, candidateColumns, nil, false, l.candidates},
	}
	for _, step := range steps {
		t, err := openTable(fsys, step.file, step.columns, step.optional)
		if !step.required && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		err = eachRow(t, &l.problems, step.load)
		t.close()
		if err != nil {
			return nil, err
		}
		if err := l.problems.err(); err != nil {
			return nil, err
		}
		l.c.Files = append(l.c.Files, step.file)
	}
	// The loader has checked everything Index checks, with line numbers; an error here
	// would be a bug in the loader, but say so rather than hand out an unindexed Country.
	if err := l.c.Index(); err != nil {
		return nil, fmt.Errorf("election: loaded country fails validation: %w", err)
	}
	return l.c, nil
}

// eachRow calls load for every row of t, collecting the row-level problems it leaves in
// t.rowErr. It returns a non-nil error only when the file cannot be read on.
func eachRow(t *table, problems *errList, load func(*table)) error {
	for {
		if problems.full() {
			problems.stopped = true
			return nil
		}
		more, err := t.next()
		if err != nil {
			problems.add(err)
			return problems.err()
		}
		if !more {
			return nil
		}
		if t.rowErr == nil {
			load(t)
		}
		if t.rowErr != nil {
			problems.add(t.rowErr)
		}
	}
}

type countryLoader struct {
	c        *Country
	problems errList

	provinceLines     map[string]int
	constituencyLines map[string]int
	seatLines         map[string]int // "province\x00number" -> line
	partyLines        map[int]int
	stationLines      map[string]int
	candidateLines    map[candidateKey]int
	partyCandidates   map[candidateKey]int // (constituency, party) -> line
}

func duplicate(what string, v any, firstLine int) error {
	return fmt.Errorf("%w: %s %v already on line %d", ErrDuplicateID, what, v, firstLine)
}

// firstTime reports whether key is not yet in lines (the line each key was first seen on);
// when it is, it fails column of t's row as a duplicate what, shown as v.
func firstTime[K comparable](t *table, lines map[K]int, key K, column, what string, v any) bool {
	if first, dup := lines[key]; dup {
		t.fail(column, duplicate(what, v, first))
		return false
	}
	return true
}

// known reports whether key is in lines (the rows of file); when it is not, it fails column
// of t's row as an unknown what, shown as v.
func known[K comparable](t *table, lines map[K]int, key K, column, what string, v any, file string) bool {
	if _, ok := lines[key]; !ok {
		t.fail(column, fmt.Errorf("%w: %s %v is not in %s", ErrUnknownRef, what, v, file))
		return false
	}
	return true
}

// quoted shows an identifier as %q does, formatted only when an error needs it.
type quoted string

func (q quoted) String() string { return strconv.Quote(string(q)) }

func (l *countryLoader) provinces(t *table) {
	p := Province{
		ID:     t.id("province_id"),
		NameTH: t.text("name_th"),
		NameEN: t.text("name_en"),
		Region: t.id("region"),
	}
	if t.rowErr != nil {
		return
	}
	if !firstTime(t, l.provinceLines, p.ID, "province_id", "province", quoted(p.ID)) {
		return
	}
	p.ID, p.Region = strings.Clone(p.ID), strings.Clone(p.Region)
	l.provinceLines[p.ID] = t.line
	l.c.Provinces = append(l.c.Provinces, p)
}

func (l *countryLoader) constituencies(t *table) {
	k := Constituency{
		ID:             t.id("constituency_id"),
		ProvinceID:     t.id("province_id"),
		Number:         t.number("number", 1),
		EligibleVoters: t.number("eligible_voters", 0),
		Stations:       t.number("stations", 0),
	}
	if t.rowErr != nil {
		return
	}
	seat := fmt.Sprintf("%s\x00%d", k.ProvinceID, k.Number)
	if !firstTime(t, l.constituencyLines, k.ID, "constituency_id", "constituency", quoted(k.ID)) ||
		!known(t, l.provinceLines, k.ProvinceID, "province_id", "province", quoted(k.ProvinceID), FileProvinces) ||
		!firstTime(t, l.seatLines, seat, "number", "constituency number", fmt.Sprintf("%d of province %q", k.Number, k.ProvinceID)) {
		return
	}
	k.ID, k.ProvinceID = strings.Clone(k.ID), strings.Clone(k.ProvinceID)
	l.constituencyLines[k.ID] = t.line
	l.seatLines[seat] = t.line
	l.c.Constituencies = append(l.c.Constituencies, k)
}

func (l *countryLoader) parties(t *table) {
	p := Party{
		No:     t.number("party_no", 1),
		NameTH: t.text("name_th"),
		NameEN: t.text("name_en"),
	}
	if t.rowErr != nil {
		return
	}
	if !firstTime(t, l.partyLines, p.No, "party_no", "party number", p.No) {
		return
	}
	l.partyLines[p.No] = t.line
	l.c.Parties = append(l.c.Parties, p)
}

func (l *countryLoader) stations(t *table) {
	s := Station{
		ID:             t.id("station_id"),
		ConstituencyID: t.id("constituency_id"),
		Subdistrict:    t.text("subdistrict"),
		Number:         t.number("number", 1),
		EligibleVoters: t.number("eligible_voters", 0),
		Priority:       t.flag("priority"),
		Urban:          t.flag("urban"),
	}
	if t.rowErr != nil {
		return
	}
	if !firstTime(t, l.stationLines, s.ID, "station_id", "station", quoted(s.ID)) ||
		!known(t, l.constituencyLines, s.ConstituencyID, "constituency_id", "constituency", quoted(s.ConstituencyID), FileConstituencies) {
		return
	}
	s.ID, s.ConstituencyID = strings.Clone(s.ID), strings.Clone(s.ConstituencyID)
	l.stationLines[s.ID] = t.line
	l.c.Stations = append(l.c.Stations, s)
}

func (l *countryLoader) candidates(t *table) {
	d := Candidate{
		ConstituencyID: t.id("constituency_id"),
		No:             t.number("candidate_no", 1),
		Name:           t.text("name"),
		PartyNo:        t.optionalNumber("party_no", 1),
	}
	if t.rowErr != nil {
		return
	}
	key := candidateKey{d.ConstituencyID, d.No}
	if !known(t, l.constituencyLines, d.ConstituencyID, "constituency_id", "constituency", quoted(d.ConstituencyID), FileConstituencies) ||
		!firstTime(t, l.candidateLines, key, "candidate_no", "candidate number", fmt.Sprintf("%d in constituency %q", d.No, d.ConstituencyID)) {
		return
	}
	// An empty party_no (0) is a candidate with no party-list number: an independent, or a
	// party that fields constituency candidates only. Such candidates are not unique per
	// constituency by party.
	pkey := candidateKey{d.ConstituencyID, d.PartyNo}
	if d.PartyNo != NoParty {
		if !known(t, l.partyLines, d.PartyNo, "party_no", "party", d.PartyNo, FileParties) ||
			!firstTime(t, l.partyCandidates, pkey, "party_no", "candidate of party", fmt.Sprintf("%d in constituency %q", d.PartyNo, d.ConstituencyID)) {
			return
		}
	}
	d.ConstituencyID = strings.Clone(d.ConstituencyID)
	key.constituencyID, pkey.constituencyID = d.ConstituencyID, d.ConstituencyID
	l.candidateLines[key] = t.line
	if d.PartyNo != NoParty {
		l.partyCandidates[pkey] = t.line
	}
	l.c.Candidates = append(l.c.Candidates, d)
}

// LoadResults reads a results set for the Country c: station_totals.csv and
// station_votes.csv are required, report_times.csv is read when present (Results.ReportTimes
// is nil when it is absent). A station missing from the files is simply unreported; a votes
// row missing for a number means 0 votes. Every (station, ballot) in station_votes.csv needs
// its station_totals.csv row. Vote numbers must be party numbers on the party-list ballot
// and, when c has candidates, candidate numbers of the station's constituency on the
// constituency ballot.
//
// Errors are as for LoadCountry: a *CSVError per malformed row, up to 20, joined. Stations
// must be known to c (ErrUnknownRef), so c needs its stations. LoadResults does not apply
// the consistency rule, since official figures can break it: see Results.Check. c is
// indexed first if it is not yet; otherwise it is only read.
func LoadResults(fsys fs.FS, c *Country) (*Results, error) {
	if !c.Indexed() {
		if err := c.Index(); err != nil {
			return nil, err
		}
	}
	l := &resultsLoader{c: c, idx: c.idx, r: &Results{Tallies: make(map[StationBallot]Tally)}}
	steps := []struct {
		file              string
		columns, optional []string
		load              func(*table)
	}{
		{FileStationTotals, stationTotalsColumns, nil, l.totals},
		{FileStationVotes, stationVotesColumns, nil, l.votes},
		{FileReportTimes, reportTimesColumns, nil, l.reportTime},
	}
	for _, step := range steps {
		t, err := openTable(fsys, step.file, step.columns, step.optional)
		if step.file == FileReportTimes && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if step.file == FileReportTimes {
			l.r.ReportTimes = make(map[string]float64)
		}
		err = eachRow(t, &l.problems, step.load)
		t.close()
		if err != nil {
			return nil, err
		}
		if err := l.problems.err(); err != nil {
			return nil, err
		}
	}
	return l.r, nil
}

type resultsLoader struct {
	c        *Country
	idx      *countryIndex
	r        *Results
	problems errList

	// The count the previous station_votes.csv row went to (Votes nil before the first).
	last             Tally
	lastKey          StationBallot
	lastConstituency string
}

// station resolves a station id to the Country's own copy of it, so the keys of Results
// share the Country's strings instead of holding on to CSV rows.
func (l *resultsLoader) station(t *table) (Station, bool) {
	id := t.id("station_id")
	if t.rowErr != nil {
		return Station{}, false
	}
	i, ok := l.idx.stations[id]
	if !ok {
		t.fail("station_id", fmt.Errorf("%w: station %q is not in %s", ErrUnknownRef, id, FileStations))
		return Station{}, false
	}
	return l.c.Stations[i], true
}

func (l *resultsLoader) totals(t *table) {
	s, ok := l.station(t)
	key := StationBallot{StationID: s.ID, Ballot: t.ballot("ballot")}
	tally := Tally{
		BallotsCast: t.number("ballots_cast", 0),
		Invalid:     t.number("invalid", 0),
		NoVote:      t.number("no_vote", 0),
	}
	if !ok || t.rowErr != nil {
		return
	}
	if _, dup := l.r.Tallies[key]; dup {
		t.fail("ballot", fmt.Errorf("%w: a second %s row for station %q and ballot %s", ErrDuplicateID, FileStationTotals, s.ID, key.Ballot))
		return
	}
	tally.Votes = make(map[int]int)
	l.r.Tallies[key] = tally
}

func (l *resultsLoader) votes(t *table) {
	// Rows of one count usually follow each other: resolve the station and tally once per
	// run of rows rather than once per row (95,000 stations x 80 numbers in a full night).
	rawID, rawBallot := t.field("station_id"), t.field("ballot")
	if l.last.Votes == nil || rawID != l.lastKey.StationID || rawBallot != string(l.lastKey.Ballot) {
		s, ok := l.station(t)
		key := StationBallot{StationID: s.ID, Ballot: t.ballot("ballot")}
		if !ok || t.rowErr != nil {
			return
		}
		tally, ok := l.r.Tallies[key]
		if !ok {
			t.fail("ballot", fmt.Errorf("%w: station %q has no %s row for ballot %s", ErrUnknownRef, s.ID, FileStationTotals, key.Ballot))
			return
		}
		if len(tally.Votes) == 0 {
			// Size the map for every choice on the ballot once, instead of growing it row by row.
			tally.Votes = make(map[int]int, l.choices(key.Ballot, s.ConstituencyID))
			l.r.Tallies[key] = tally
		}
		l.last, l.lastKey, l.lastConstituency = tally, key, s.ConstituencyID
	}
	key, tally := l.lastKey, l.last
	no := t.number("number", 1)
	votes := t.number("votes", 0)
	if t.rowErr != nil {
		return
	}
	switch {
	case key.Ballot == BallotPartyList && !l.c.ValidNumber(l.lastConstituency, key.Ballot, no):
		t.fail("number", fmt.Errorf("%w: party %d is not in %s", ErrUnknownRef, no, FileParties))
		return
	case key.Ballot == BallotConstituency && l.c.HasCandidates() && !l.c.ValidNumber(l.lastConstituency, key.Ballot, no):
		t.fail("number", fmt.Errorf("%w: candidate %d is not standing in constituency %q", ErrUnknownRef, no, l.lastConstituency))
		return
	}
	if _, dup := tally.Votes[no]; dup {
		t.fail("number", fmt.Errorf("%w: a second row for number %d at station %q, ballot %s", ErrDuplicateID, no, key.StationID, key.Ballot))
		return
	}
	tally.Votes[no] = votes
}

// choices is how many numbers a ballot offers in a constituency.
func (l *resultsLoader) choices(b Ballot, constituencyID string) int {
	if b == BallotPartyList {
		return len(l.c.Parties)
	}
	return len(l.idx.candidatesIn[constituencyID])
}

func (l *resultsLoader) reportTime(t *table) {
	s, ok := l.station(t)
	minutes := t.minutes("minutes_after_close")
	if !ok || t.rowErr != nil {
		return
	}
	if _, dup := l.r.ReportTimes[s.ID]; dup {
		t.fail("station_id", fmt.Errorf("%w: a second row for station %q", ErrDuplicateID, s.ID))
		return
	}
	l.r.ReportTimes[s.ID] = minutes
}
