package parquet

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// TimeZone is the zone analysts should show the timestamps in. Parquet timestamps are
// instants: INT64 milliseconds since the Unix epoch with the TIMESTAMP logical type and
// isAdjustedToUTC=true (Parquet has no field for a named zone), so a reader converts them to
// Asia/Bangkok for display; every file's key-value metadata names the zone
// (votestream.time_zone). Arrow's timestamp type carries the zone itself.
const TimeZone = "Asia/Bangkok"

// Vote is one entry of a count: candidate_no (constituency ballot) or party_no (party-list)
// and its votes.
type Vote struct {
	Number int32 `parquet:"number"`
	Votes  int64 `parquet:"votes"`
}

// StationRow is one row of station_results.parquet: the current result of one station and
// ballot, with what the reference data knows of the station.
type StationRow struct {
	StationID      string `parquet:"station_id,dict"`
	ConstituencyID string `parquet:"constituency_id,dict"`
	ProvinceID     string `parquet:"province_id,dict"` // "" when the constituency is unknown
	Subdistrict    string `parquet:"subdistrict,dict"` // Thai, from the reference data
	Ballot         string `parquet:"ballot,dict"`
	Status         string `parquet:"status,dict"`
	Stage          string `parquet:"stage,dict"`
	Version        int64  `parquet:"version"`
	BallotsCast    int64  `parquet:"ballots_cast"`
	Invalid        int64  `parquet:"invalid"`
	NoVote         int64  `parquet:"no_vote"`
	// EligibleVoters of the station; null when the reference data does not know it.
	EligibleVoters *int64   `parquet:"eligible_voters,optional"`
	Votes          []Vote   `parquet:"votes,list"` // sorted by number
	Anomalies      []string `parquet:"anomalies,list"`
	// Sources counts the reports behind the figures; who sent them, and who decided a
	// disputed count (decided_by), stay in the war room.
	Sources   int32     `parquet:"sources"`
	CountedAt time.Time `parquet:"counted_at,timestamp(millisecond:utc)"`
	UpdatedAt time.Time `parquet:"updated_at,timestamp(millisecond:utc)"`
}

// AnomalyRow is one row of anomalies.parquet: codes only, as in the newsrooms' database. The
// volunteer, the submissions, the message and the evidence stay in the war room: they name
// or point at people, and may read as accusations against named poll workers.
type AnomalyRow struct {
	AnomalyID      string    `parquet:"anomaly_id"`
	Code           string    `parquet:"code,dict"`
	Severity       string    `parquet:"severity,dict"`
	StationID      string    `parquet:"station_id,dict"`
	ConstituencyID string    `parquet:"constituency_id,dict"`
	ProvinceID     string    `parquet:"province_id,dict"`
	Ballot         string    `parquet:"ballot,dict"`
	DetectedAt     time.Time `parquet:"detected_at,timestamp(millisecond:utc)"`
}

// EstimatePartyRow is one row of estimate_parties.parquet: one party in the latest estimate.
type EstimatePartyRow struct {
	EstimateID     string    `parquet:"estimate_id,dict"`
	DataTime       time.Time `parquet:"data_time,timestamp(millisecond:utc)"`
	ComputedAt     time.Time `parquet:"computed_at,timestamp(millisecond:utc)"`
	PartyNo        int32     `parquet:"party_no"`
	NameTH         string    `parquet:"name_th"`
	NameEN         string    `parquet:"name_en"`
	CountedVotes   int64     `parquet:"counted_votes"`
	ProjectedVotes int64     `parquet:"projected_votes"`
	Share          float64   `parquet:"share"`
	ShareLo        float64   `parquet:"share_lo"`
	ShareHi        float64   `parquet:"share_hi"`
	Seats          int32     `parquet:"seats"`
	// The estimate's national coverage: party-list stations and their eligible voters.
	StationsReported int64 `parquet:"stations_reported"`
	StationsTotal    int64 `parquet:"stations_total"`
	EligibleReported int64 `parquet:"eligible_reported"`
	EligibleTotal    int64 `parquet:"eligible_total"`
	// PriorityUsed: the priority sample entered the shares. SeatDraws: simulated nights
	// behind the seat figures (0 without the simulation).
	PriorityUsed bool  `parquet:"priority_used"`
	SeatDraws    int32 `parquet:"seat_draws"`
	// SharesState is the run's: too_early (share, interval, projection and seats withheld,
	// all 0), estimate or count; "" from an estimator that predates it.
	SharesState string `parquet:"shares_state,dict"`
	// The seat simulation (docs/estimation.md): seats_state follows shares_state; while it
	// is too_early (or "" from an estimator without it) every seat figure is 0. Seats are
	// medians over the simulated nights, total_lo90..total_hi95 central ranges of the total
	// of 500, largest_probability the share of nights the party had the most seats.
	SeatsState         string  `parquet:"seats_state,dict"`
	ConstituencySeats  int32   `parquet:"constituency_seats"`
	ListSeats          int32   `parquet:"list_seats"`
	TotalSeats         int32   `parquet:"total_seats"`
	TotalLo90          int32   `parquet:"total_lo90"`
	TotalHi90          int32   `parquet:"total_hi90"`
	TotalLo95          int32   `parquet:"total_lo95"`
	TotalHi95          int32   `parquet:"total_hi95"`
	LargestProbability float64 `parquet:"largest_probability"`
}

// CandidateVotes is one candidate of an EstimateConstituencyRow.
type CandidateVotes struct {
	CandidateNo    int32 `parquet:"candidate_no"`
	CountedVotes   int64 `parquet:"counted_votes"`
	ProjectedVotes int64 `parquet:"projected_votes"`
	// WinProbability: share of the seat simulation's nights won (0 while seats are
	// too_early); Swing: projected share less the party's baseline share, null without one.
	WinProbability float64  `parquet:"win_probability"`
	Swing          *float64 `parquet:"swing,optional"`
}

// EstimateConstituencyRow is one row of estimate_constituencies.parquet: one constituency in
// the latest estimate.
type EstimateConstituencyRow struct {
	EstimateID       string           `parquet:"estimate_id,dict"`
	DataTime         time.Time        `parquet:"data_time,timestamp(millisecond:utc)"`
	ComputedAt       time.Time        `parquet:"computed_at,timestamp(millisecond:utc)"`
	ConstituencyID   string           `parquet:"constituency_id"`
	ProvinceID       string           `parquet:"province_id,dict"`
	LeaderNo         int32            `parquet:"leader_no"`
	WinProbability   float64          `parquet:"win_probability"`
	Call             string           `parquet:"call,dict"`
	StationsReported int64            `parquet:"stations_reported"`
	StationsTotal    int64            `parquet:"stations_total"`
	EligibleReported int64            `parquet:"eligible_reported"`
	EligibleTotal    int64            `parquet:"eligible_total"`
	Candidates       []CandidateVotes `parquet:"candidates,list"`
	// The run's publication guard, as on EstimatePartyRow: while shares_state is too_early
	// the projections are withheld; while seats_state is, the win probabilities are 0.
	SharesState string `parquet:"shares_state,dict"`
	SeatsState  string `parquet:"seats_state,dict"`
}

func provinceOf(c *election.Country, constituencyID string) string {
	if k, ok := c.Constituency(constituencyID); ok {
		return k.ProvinceID
	}
	return ""
}

// stationRow flattens a station result. Vote keys that are not numbers cannot come through
// the schema; should one, it is left out rather than invented.
func stationRow(c *election.Country, sr *schemas.StationResult) StationRow {
	row := StationRow{
		StationID: sr.StationID, ConstituencyID: sr.ConstituencyID, ProvinceID: provinceOf(c, sr.ConstituencyID),
		Ballot: sr.Ballot, Status: string(sr.Status), Stage: string(sr.Stage), Version: sr.Version,
		BallotsCast: int64(sr.BallotsCast), Invalid: int64(sr.Invalid), NoVote: int64(sr.NoVote),
		Votes: make([]Vote, 0, len(sr.Votes)), Anomalies: sr.Anomalies, Sources: int32(len(sr.Sources)),
		CountedAt: sr.CountedAt.UTC(), UpdatedAt: sr.UpdatedAt.UTC(),
	}
	if row.Anomalies == nil {
		row.Anomalies = []string{}
	}
	if st, ok := c.StationByID(sr.StationID); ok {
		ev := int64(st.EligibleVoters)
		row.EligibleVoters = &ev
		row.Subdistrict = st.Subdistrict
	}
	for k, n := range sr.Votes {
		no, err := strconv.Atoi(k)
		if err != nil {
			continue
		}
		row.Votes = append(row.Votes, Vote{Number: int32(no), Votes: int64(n)})
	}
	slices.SortFunc(row.Votes, func(a, b Vote) int { return cmp.Compare(a.Number, b.Number) })
	return row
}

func anomalyRows(c *election.Country, byID map[string]*schemas.Anomaly) []AnomalyRow {
	ids := slices.Sorted(maps.Keys(byID))
	rows := make([]AnomalyRow, 0, len(ids))
	for _, id := range ids {
		a := byID[id]
		rows = append(rows, AnomalyRow{
			AnomalyID: a.AnomalyID, Code: a.Code, Severity: string(a.Severity), StationID: a.StationID,
			ConstituencyID: a.ConstituencyID, ProvinceID: provinceOf(c, a.ConstituencyID), Ballot: a.Ballot,
			DetectedAt: a.DetectedAt.UTC(),
		})
	}
	// Analysts read anomalies by station; the id order above only makes ties stable.
	slices.SortStableFunc(rows, func(a, b AnomalyRow) int {
		return cmp.Or(cmp.Compare(a.StationID, b.StationID), a.DetectedAt.Compare(b.DetectedAt))
	})
	return rows
}

func estimateRows(c *election.Country, e *schemas.Estimate) ([]EstimatePartyRow, []EstimateConstituencyRow) {
	if e == nil {
		return nil, nil
	}
	parties := make([]EstimatePartyRow, 0, len(e.Parties))
	for _, p := range e.Parties {
		row := EstimatePartyRow{
			EstimateID: e.EstimateID, DataTime: e.DataTime.UTC(), ComputedAt: e.ComputedAt.UTC(),
			PartyNo: int32(p.PartyNo), CountedVotes: p.CountedVotes, ProjectedVotes: p.ProjectedVotes,
			Share: p.Share, ShareLo: p.ShareLo, ShareHi: p.ShareHi, Seats: int32(p.Seats),
			StationsReported: int64(e.StationsReported), StationsTotal: int64(e.StationsTotal),
			EligibleReported: e.EligibleReported, EligibleTotal: e.EligibleTotal,
			PriorityUsed: e.PriorityUsed, SeatDraws: int32(e.SeatDraws),
			SharesState: string(e.SharesState), SeatsState: string(e.SeatsState),
		}
		if r := p.SeatRange; r != nil {
			row.ConstituencySeats, row.ListSeats, row.TotalSeats = int32(r.ConstituencySeats), int32(r.ListSeats), int32(r.Total)
			row.TotalLo90, row.TotalHi90, row.TotalLo95, row.TotalHi95 = int32(r.TotalLo90), int32(r.TotalHi90), int32(r.TotalLo95), int32(r.TotalHi95)
			row.LargestProbability = r.LargestProbability
		}
		if ref, ok := c.Party(p.PartyNo); ok {
			row.NameTH, row.NameEN = ref.NameTH, ref.NameEN
		}
		parties = append(parties, row)
	}
	consts := make([]EstimateConstituencyRow, 0, len(e.Constituencies))
	for _, k := range e.Constituencies {
		row := EstimateConstituencyRow{
			EstimateID: e.EstimateID, DataTime: e.DataTime.UTC(), ComputedAt: e.ComputedAt.UTC(),
			ConstituencyID: k.ConstituencyID, ProvinceID: provinceOf(c, k.ConstituencyID),
			LeaderNo: int32(k.LeaderNo), WinProbability: k.WinProbability, Call: string(k.Call),
			StationsReported: int64(k.StationsReported), StationsTotal: int64(k.StationsTotal),
			EligibleReported: k.EligibleReported, EligibleTotal: k.EligibleTotal,
			Candidates:  make([]CandidateVotes, 0, len(k.Candidates)),
			SharesState: string(e.SharesState), SeatsState: string(e.SeatsState),
		}
		for _, d := range k.Candidates {
			row.Candidates = append(row.Candidates, CandidateVotes{CandidateNo: int32(d.CandidateNo), CountedVotes: d.CountedVotes, ProjectedVotes: d.ProjectedVotes,
				WinProbability: d.WinProbability, Swing: d.Swing})
		}
		consts = append(consts, row)
	}
	return parties, consts
}

// historyRows are the rows of every estimate, oldest first (by data time, then computed
// time, then id): what estimateRows gives for each, one after the other.
func historyRows(c *election.Country, byID map[string]*schemas.Estimate) ([]EstimatePartyRow, []EstimateConstituencyRow) {
	ests := slices.Collect(maps.Values(byID))
	slices.SortFunc(ests, func(a, b *schemas.Estimate) int {
		return cmp.Or(int(schemas.OrderEstimates(a, b)), strings.Compare(a.EstimateID, b.EstimateID))
	})
	var parties []EstimatePartyRow
	var consts []EstimateConstituencyRow
	for _, e := range ests {
		p, k := estimateRows(c, e)
		parties, consts = append(parties, p...), append(consts, k...)
	}
	return parties, consts
}
