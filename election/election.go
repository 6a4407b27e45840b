// Package election is the domain of a Thai general election: provinces, constituencies,
// polling stations, parties and candidates, the two ballots, the consistency rule of a count,
// and party-list seat allocation. It imports nothing of the project: every role builds on it.
//
// Its only I/O is the CSV contract of DESIGN.md §4: LoadCountry and LoadResults read a
// reference folder or a results set through an fs.FS, and WriteCountry and WriteResults write
// them, one file at a time, each atomically. It opens no network connection and keeps no
// state beyond the values it returns.
package election

// Ballot is one of the two ballots every voter casts. Their numbers differ for the same
// party: a candidate number is per constituency, a party number is national.
type Ballot string

const (
	// BallotConstituency is the ballot for the constituency MP; votes are keyed by candidate number.
	BallotConstituency Ballot = "constituency"
	// BallotPartyList is the national party-list ballot; votes are keyed by party number.
	BallotPartyList Ballot = "partylist"
)

// Ballots lists both ballots in a fixed order.
var Ballots = []Ballot{BallotConstituency, BallotPartyList}

// Valid reports whether b is one of the two ballots.
func (b Ballot) Valid() bool { return b == BallotConstituency || b == BallotPartyList }

// Province is one of the 77 provinces; Region groups provinces for borrowing strength.
type Province struct {
	ID     string // e.g. "BKK"
	NameTH string
	NameEN string
	Region string // central, east, north, northeast, south, west
}

// Constituency elects one MP by first past the post.
type Constituency struct {
	ID             string // e.g. "BKK_1"
	ProvinceID     string
	Number         int
	EligibleVoters int
	Stations       int // number of polling stations, as published
}

// Station is one polling station, where both ballots are counted in public.
type Station struct {
	ID             string
	ConstituencyID string
	Subdistrict    string
	Number         int
	EligibleVoters int
	Priority       bool // in the priority (probability) sample
	Urban          bool
}

// Party is on the national party-list ballot under its party number.
type Party struct {
	No     int
	NameTH string
	NameEN string
}

// Candidate stands in one constituency under a candidate number, for a party or not.
type Candidate struct {
	ConstituencyID string
	No             int
	Name           string
	// PartyNo is the candidate's party's number on the party-list ballot, or NoParty for a
	// candidate whose party has no party-list number (Thailand 2023 had three such parties)
	// or who stands as an independent. candidates.csv leaves the field empty then.
	PartyNo int
}

// NoParty is the PartyNo of a candidate without a party-list number.
const NoParty = 0

// Tally is the count of one ballot at one station.
type Tally struct {
	BallotsCast int
	Invalid     int
	NoVote      int
	Votes       map[int]int // candidate_no or party_no -> votes; a missing key means 0
}

// StationBallot identifies one count: a station and a ballot.
type StationBallot struct {
	StationID string
	Ballot    Ballot
}

// Country is a whole reference data set. Build its indexes with Index before lookups
// (LoadCountry does); after Index, treat the Country as read-only: its lookups are then safe
// for concurrent use by any number of goroutines.
type Country struct {
	Provinces      []Province
	Constituencies []Constituency
	Stations       []Station
	Parties        []Party
	Candidates     []Candidate

	// Files lists the reference files LoadCountry read, in load order (for example
	// "provinces.csv", "constituencies.csv", "parties.csv"): stations.csv and candidates.csv
	// are optional, and a reference folder without them leaves it to the simulator to add
	// them. Nil for a Country built in memory.
	Files []string

	idx *countryIndex // built by Index; nil before
}

// Results is a results set: the true (or official) count of every station and ballot.
type Results struct {
	Tallies     map[StationBallot]Tally
	ReportTimes map[string]float64 // station_id -> minutes after close its final count is known; optional
}
