package console

import (
	"context"
	"fmt"
	"time"

	"votestream/election"
)

// Decision is one review recorded for a station and ballot, as ingest accepted it.
type Decision struct {
	ReviewID           string    `json:"review_id"`
	AcceptSubmissionID string    `json:"accept_submission_id,omitempty"`
	Figures            *Figures  `json:"figures,omitempty"`
	Escalate           bool      `json:"escalate,omitempty"` // asked the war room to decide
	Reason             string    `json:"reason"`
	ReviewerID         string    `json:"reviewer_id"`
	Role               string    `json:"role"`
	ReceivedAt         time.Time `json:"received_at"`
}

// OfficialFigure is the newest official figure of a station and ballot.
type OfficialFigure struct {
	Figures
	EnteredBy  string    `json:"entered_by"`
	ReceivedAt time.Time `json:"received_at"`
}

// BallotView is everything about one ballot of a station.
type BallotView struct {
	Ballot    string          `json:"ballot"`
	Status    string          `json:"status"` // "" when nothing was reported
	Version   int64           `json:"version"`
	Result    *Figures        `json:"result,omitempty"`
	DecidedBy string          `json:"decided_by,omitempty"`
	Open      *Item           `json:"open,omitempty"` // its queue item, when open
	Reports   []Source        `json:"reports"`        // every report, oldest first
	Flags     []Flag          `json:"anomalies"`      // every anomaly ever raised, newest first
	Decisions []Decision      `json:"decisions"`      // oldest first
	Official  *OfficialFigure `json:"official,omitempty"`
}

// StationView is a station page.
type StationView struct {
	StationID        string       `json:"station_id"`
	Number           int          `json:"number"`
	Subdistrict      string       `json:"subdistrict"`
	ConstituencyID   string       `json:"constituency_id"`
	ConstituencyName string       `json:"constituency_name"`
	EligibleVoters   int          `json:"eligible_voters"`
	Candidates       []NumberName `json:"candidates"`
	Ballots          []BallotView `json:"ballots"`
}

// NumberName names a vote number on the constituency ballot.
type NumberName struct {
	No   int    `json:"no"`
	Name string `json:"name"`
}

// station reads one station's page; open holds its queue items by ballot.
func (s *store) station(ctx context.Context, st election.Station, open map[string]*Item) (StationView, error) {
	v := StationView{StationID: st.ID, Number: st.Number, Subdistrict: st.Subdistrict,
		ConstituencyID: st.ConstituencyID, EligibleVoters: st.EligibleVoters, Candidates: []NumberName{}}
	probe := Item{StationID: st.ID, ConstituencyID: st.ConstituencyID}
	s.describeStation(&probe)
	v.ConstituencyName = probe.ConstituencyName
	for _, c := range s.country.CandidatesIn(st.ConstituencyID) {
		name := raceNames(s.country, string(election.BallotConstituency), st.ConstituencyID)(fmt.Sprint(c.No))
		v.Candidates = append(v.Candidates, NumberName{No: c.No, Name: name})
	}
	byBallot := map[string]*BallotView{}
	for _, b := range []string{string(election.BallotConstituency), string(election.BallotPartyList)} {
		bv := &BallotView{Ballot: b, Reports: []Source{}, Flags: []Flag{}, Decisions: []Decision{}, Open: open[b]}
		byBallot[b] = bv
	}
	rows, err := s.conn.Query(ctx, s.q(`SELECT ballot, version, status, ballots_cast, invalid, no_vote, vote_no, votes, decided_by
		FROM {db}.station_results_current WHERE station_id = ?`), st.ID)
	if err != nil {
		return v, fmt.Errorf("console: station %s: %w", st.ID, err)
	}
	for rows.Next() {
		var (
			ballot, status, decided string
			version                 uint64
			cast, invalid, noV      uint32
			nos                     []uint16
			vs                      []uint32
		)
		if err := rows.Scan(&ballot, &version, &status, &cast, &invalid, &noV, &nos, &vs, &decided); err != nil {
			rows.Close()
			return v, fmt.Errorf("console: station %s: %w", st.ID, err)
		}
		if bv := byBallot[ballot]; bv != nil {
			bv.Status, bv.Version, bv.DecidedBy = status, int64(version), decided
			bv.Result = &Figures{BallotsCast: int(cast), Invalid: int(invalid), NoVote: int(noV), Votes: votesOf(nos, vs)}
		}
	}
	rows.Close()

	rows, err = s.conn.Query(ctx, s.q(`SELECT `+reportColumns+` FROM {db}.submissions WHERE station_id = ? ORDER BY received_at, submission_id`), st.ID)
	if err != nil {
		return v, fmt.Errorf("console: station %s reports: %w", st.ID, err)
	}
	reports, err := scanReports(rows)
	if err != nil {
		return v, fmt.Errorf("console: station %s reports: %w", st.ID, err)
	}
	for _, r := range reports {
		if bv := byBallot[r.Ballot]; bv != nil {
			bv.Reports = append(bv.Reports, r.Source)
		}
	}

	rows, err = s.conn.Query(ctx, s.q(`SELECT `+flagColumns+` FROM {db}.anomalies WHERE station_id = ? ORDER BY detected_at DESC, anomaly_id`), st.ID)
	if err != nil {
		return v, fmt.Errorf("console: station %s anomalies: %w", st.ID, err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		f, _, ballot, err := scanFlag(rows)
		if err != nil {
			rows.Close()
			return v, fmt.Errorf("console: station %s anomalies: %w", st.ID, err)
		}
		if seen[f.AnomalyID] {
			continue
		}
		seen[f.AnomalyID] = true
		for _, b := range ballotsOf(ballot) {
			if bv := byBallot[b]; bv != nil {
				bv.Flags = append(bv.Flags, f)
			}
		}
	}
	rows.Close()

	if err := s.decisions(ctx, st.ID, byBallot); err != nil {
		return v, fmt.Errorf("console: station %s reviews: %w", st.ID, err)
	}
	if err := s.official(ctx, st.ID, byBallot); err != nil {
		return v, fmt.Errorf("console: station %s official figures: %w", st.ID, err)
	}
	for _, b := range []string{string(election.BallotConstituency), string(election.BallotPartyList)} {
		v.Ballots = append(v.Ballots, *byBallot[b])
	}
	return v, nil
}

func (s *store) decisions(ctx context.Context, id string, byBallot map[string]*BallotView) error {
	rows, err := s.conn.Query(ctx, s.q(`SELECT review_id, ballot, accept_submission_id, ballots_cast, invalid, no_vote,
		vote_no, votes, reason, reviewer_id, role, received_at
		FROM {db}.reviews WHERE station_id = ? ORDER BY received_at, review_id`), id)
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var (
			d                  Decision
			ballot             string
			cast, invalid, noV *uint32
			nos                []uint16
			vs                 []uint32
		)
		if err := rows.Scan(&d.ReviewID, &ballot, &d.AcceptSubmissionID, &cast, &invalid, &noV, &nos, &vs,
			&d.Reason, &d.ReviewerID, &d.Role, &d.ReceivedAt); err != nil {
			return err
		}
		if seen[d.ReviewID] {
			continue
		}
		seen[d.ReviewID] = true
		if cast != nil && invalid != nil && noV != nil {
			d.Figures = &Figures{BallotsCast: int(*cast), Invalid: int(*invalid), NoVote: int(*noV), Votes: votesOf(nos, vs)}
		}
		d.Escalate = d.Figures == nil && d.AcceptSubmissionID == ""
		if bv := byBallot[ballot]; bv != nil {
			bv.Decisions = append(bv.Decisions, d)
		}
	}
	return rows.Err()
}

func (s *store) official(ctx context.Context, id string, byBallot map[string]*BallotView) error {
	rows, err := s.conn.Query(ctx, s.q(`SELECT ballot, ballots_cast, invalid, no_vote, vote_no, votes, entered_by, received_at
		FROM {db}.official_current WHERE station_id = ?`), id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			o                  OfficialFigure
			ballot             string
			cast, invalid, noV uint32
			nos                []uint16
			vs                 []uint32
		)
		if err := rows.Scan(&ballot, &cast, &invalid, &noV, &nos, &vs, &o.EnteredBy, &o.ReceivedAt); err != nil {
			return err
		}
		o.Figures = Figures{BallotsCast: int(cast), Invalid: int(invalid), NoVote: int(noV), Votes: votesOf(nos, vs)}
		if bv := byBallot[ballot]; bv != nil {
			bv.Official = &o
		}
	}
	return rows.Err()
}

// citedIn reports whether any report from one of the stations cites the evidence ref
// ("sha256:<hex>"). stations are reference-data ids.
func (s *store) citedIn(ctx context.Context, ref string, stations []election.Station) (bool, error) {
	if len(stations) == 0 {
		return false, nil
	}
	ids := make([]string, 0, len(stations))
	for _, st := range stations {
		ids = append(ids, st.ID)
	}
	var n uint64
	err := s.conn.QueryRow(ctx, s.q(`SELECT count() FROM {db}.submissions WHERE station_id IN `+inList(ids)+` AND has(evidence, ?)`), ref).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("console: evidence %s: %w", ref, err)
	}
	return n > 0, nil
}
