package election

import (
	"cmp"
	"fmt"
	"slices"
)

// Keys returns the results' station ballots in a stable order: by station id, then the
// constituency ballot before the party-list ballot.
func (r *Results) Keys() []StationBallot {
	keys := make([]StationBallot, 0, len(r.Tallies))
	for k := range r.Tallies {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareStationBallot)
	return keys
}

func compareStationBallot(a, b StationBallot) int {
	return cmp.Or(cmp.Compare(a.StationID, b.StationID), cmp.Compare(ballotOrder(a.Ballot), ballotOrder(b.Ballot)), cmp.Compare(a.Ballot, b.Ballot))
}

func ballotOrder(b Ballot) int {
	switch b {
	case BallotConstituency:
		return 0
	case BallotPartyList:
		return 1
	}
	return 2
}

// Check applies Tally.Check to every count, against its station's eligible voters in c, and
// reports each count that breaks the rule (up to a bound), in station order. Stations
// unknown to c are reported with ErrUnknownRef. True results (the simulator's) must pass;
// official results may not, and that is what the war room wants to know. c must be indexed.
func (r *Results) Check(c *Country) error {
	var problems errList
	for _, k := range r.Keys() {
		if problems.full() {
			problems.stopped = true
			break
		}
		s, ok := c.StationByID(k.StationID)
		if !ok {
			problems.add(fmt.Errorf("%w: station %q", ErrUnknownRef, k.StationID))
			continue
		}
		if err := r.Tallies[k].Check(s.EligibleVoters); err != nil {
			problems.add(fmt.Errorf("station %q, ballot %s: %w", k.StationID, k.Ballot, err))
		}
	}
	return problems.err()
}
