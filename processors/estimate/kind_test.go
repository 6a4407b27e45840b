package estimate

import (
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// Every rural station in, no urban one: the urban stations still out vote unlike anything
// reported (the synthetic country's strongest party gains 65 % in towns). With the contrast's
// prior every party's interval holds its final share, and the most urban party's is much
// wider than without it; once both kinds have reported the prior hardly matters.
func TestKindNotYetReported(t *testing.T) {
	c, r := syntheticNight(t, 21, 16, 40)
	var rural []int
	for i, s := range c.Stations {
		if !s.Urban {
			rural = append(rural, i)
		}
	}
	final := finalShares(c, r)
	missed := func(m Method) (int, Result) {
		e, err := NewEstimator(c, m)
		if err != nil {
			t.Fatal(err)
		}
		feed(t, e, c, r, rural)
		res := e.Estimate()
		if res.SharesState != schemas.StateEstimate {
			t.Fatalf("shares %s with every rural station in, want estimate", res.SharesState)
		}
		n := 0
		for k, p := range res.Parties {
			if f := final[p.PartyNo]; f >= 0.01 && (f < p.ShareLo || f > p.ShareHi) {
				n++
				t.Logf("KindPrior %v: party %d final %.3f outside [%.3f, %.3f] (share %.3f)", m.KindPrior, p.PartyNo, f, p.ShareLo, p.ShareHi, res.Parties[k].Share)
			}
		}
		return n, res
	}
	m := DefaultMethod()
	n, with := missed(m)
	if n > 0 {
		t.Errorf("with KindPrior %v, %d parties' intervals miss their final share", m.KindPrior, n)
	}
	m.KindPrior = 0
	_, without := missed(m)
	// The party that gains most in towns (number 3) leans on the unmeasured contrast most.
	if w, wo := with.Parties[0].ShareHi-with.Parties[0].ShareLo, without.Parties[0].ShareHi-without.Parties[0].ShareLo; w < 1.3*wo {
		t.Errorf("party 3's interval %.3f wide with the prior, %.3f without: want it wider by 30 %% at least", w, wo)
	}

	// Half of every kind in: the contrast is measured, and the prior barely matters.
	var half []int
	for i := range c.Stations {
		if i%2 == 0 {
			half = append(half, i)
		}
	}
	width := func(m Method) float64 {
		e, err := NewEstimator(c, m)
		if err != nil {
			t.Fatal(err)
		}
		feed(t, e, c, r, half)
		p := e.Estimate().Parties[0]
		return p.ShareHi - p.ShareLo
	}
	m0 := DefaultMethod()
	w := width(m0)
	m0.KindPrior = 0
	if wo := width(m0); w > 1.1*wo {
		t.Errorf("both kinds half in: party 3's interval %.4f wide with the prior, %.4f without, want within 10 %%", w, wo)
	}
}

// finalShares is each party's share of the valid party-list votes of the whole results set.
func finalShares(c *election.Country, r *election.Results) map[int]float64 {
	votes := map[int]float64{}
	var total float64
	for _, s := range c.Stations {
		for no, v := range r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}].Votes {
			votes[no] += float64(v)
			total += float64(v)
		}
	}
	for no := range votes {
		votes[no] /= total
	}
	return votes
}

// A constituency's lead gets no more degrees of freedom than subdistricts reported once
// blocks are measured, and never fewer than one.
func TestLeadDF(t *testing.T) {
	blocks := []int{2, 0}
	for _, tt := range []struct {
		stations int
		blocks   []int
		c        int
		want     float64
	}{
		{10, nil, 0, 9},
		{10, blocks, 0, 2},
		{2, blocks, 0, 1},
		{10, blocks, 1, 1},
		{1, nil, 0, 1},
	} {
		if got := leadDF(tt.stations, tt.blocks, tt.c); got != tt.want {
			t.Errorf("leadDF(%d, %v, %d) = %v, want %v", tt.stations, tt.blocks, tt.c, got, tt.want)
		}
	}
}

// No race is likely while a big party's national interval is wider than LikelyMaxWidth,
// even when the shares are published. The width judged is share ± 1.96·se (guardWidth):
// 0.4 ± 1.96·0.0255 is 10 points wide, 0.4 ± 1.96·0.0638 is 25.
func TestLikelyAllowed(t *testing.T) {
	e := &Estimator{method: DefaultMethod()}
	narrow := []PartyResult{{Share: 0.4, ShareLo: 0.35, ShareHi: 0.45, ShareSE: 0.0255}, {Share: 0.02, ShareLo: 0, ShareHi: 0.5, ShareSE: 0.25}}
	wide := []PartyResult{{Share: 0.4, ShareLo: 0.28, ShareHi: 0.53, ShareSE: 0.0638}}
	for _, tt := range []struct {
		state   schemas.EstimateState
		parties []PartyResult
		want    bool
	}{
		{schemas.StateTooEarly, narrow, false},
		{schemas.StateEstimate, narrow, true},
		{schemas.StateEstimate, wide, false},
		{schemas.StateCount, wide, true},
	} {
		if got := e.likelyAllowed(tt.state, tt.parties); got != tt.want {
			t.Errorf("likelyAllowed(%s, %+v) = %v, want %v", tt.state, tt.parties, got, tt.want)
		}
	}
}
