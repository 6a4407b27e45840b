package estimate

import (
	"cmp"
	"math"
	"slices"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// The logit interval by hand: share 0.2, standard error 0.04, z 1.96. logit 0.2 = ln 0.25
// = -1.3863; its standard error 0.04/(0.2·0.8) = 0.25, times 1.96 = 0.49; so the logit
// interval is [1/(1+e^1.8763), 1/(1+e^0.8963)] = [0.13282, 0.28985]. Upwards it reaches
// 9.0 points, further than share ± 1.96·se (7.84); downwards that reaches further (7.84
// against 6.7) and is kept: [0.1216, 0.28985]. A tiny party with a large standard error
// is held to twice the linear half-width; a share of 0 or a standard error of 0 stays
// linear.
func TestLogitIntervalHandWorked(t *testing.T) {
	m := DefaultMethod()
	near := func(got, want float64) bool { return math.Abs(got-want) < 5e-5 }
	lo, hi := m.interval(0.2, 0.04)
	if !near(lo, 0.1216) || !near(hi, 0.28985) {
		t.Errorf("logit interval of 0.2 ± se 0.04: [%.5f, %.5f], want [0.1216, 0.28985]", lo, hi)
	}
	// The same share from the other side: 0.8 gives the mirror image.
	if lo2, hi2 := m.interval(0.8, 0.04); !near(lo2, 1-hi) || !near(hi2, 1-lo) {
		t.Errorf("interval of 0.8: [%.5f, %.5f], want [%.5f, %.5f]", lo2, hi2, 1-hi, 1-lo)
	}
	// 0.001 ± 0.01: the logit's upper end would be 1/(1+e^(6.9068-19.6196)) ≈ 1; held at
	// 0.001 + 2·1.96·0.01 = 0.0402, and the lower end at 0.
	if lo, hi := m.interval(0.001, 0.01); lo != 0 || !near(hi, 0.0402) {
		t.Errorf("tiny party: [%.5f, %.5f], want [0, 0.0402]", lo, hi)
	}
	if lo, hi := m.interval(0, 0.01); lo != 0 || !near(hi, 0.0196) {
		t.Errorf("share 0: [%.5f, %.5f], want [0, 0.0196]", lo, hi)
	}
	if lo, hi := m.interval(0.3, 0); lo != 0.3 || hi != 0.3 {
		t.Errorf("se 0: [%v, %v], want the share itself", lo, hi)
	}
	m.LogitIntervals = false
	if lo, hi := m.interval(0.2, 0.04); !near(lo, 0.2-0.0784) || !near(hi, 0.2+0.0784) {
		t.Errorf("linear interval: [%.5f, %.5f], want 0.2 ± 0.0784", lo, hi)
	}
}

// On a night being counted, the published intervals of the parties under a half reach
// further up than down and those over a half further down, never short of share ±
// 1.96·se either way; with LogitIntervals off every interval is symmetric.
func TestPublishedIntervalsLeanTowardsAHalf(t *testing.T) {
	c, r := syntheticNight(t, 3, 8, 30)
	order := slices.Clone(c.Stations)
	slices.SortStableFunc(order, func(a, b election.Station) int { return cmp.Compare(r.ReportTimes[a.ID], r.ReportTimes[b.ID]) })
	for _, logit := range []bool{true, false} {
		m := DefaultMethod()
		m.LogitIntervals = logit
		e, err := NewEstimator(c, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range order[:len(order)/2] {
			for _, b := range election.Ballots {
				if err := e.Apply(resultOf(s, b, r.Tallies[election.StationBallot{StationID: s.ID, Ballot: b}], schemas.StatusVerified, 1)); err != nil {
					t.Fatal(err)
				}
			}
		}
		res := e.Estimate()
		checked := 0
		for _, p := range res.Parties {
			if p.ShareSE <= 0 || p.ShareLo <= 0 || p.ShareHi >= 1 {
				continue
			}
			up, down := p.ShareHi-p.Share, p.Share-p.ShareLo
			switch {
			case !logit && math.Abs(up-down) > 1e-12:
				t.Errorf("party %d, linear: %.4f up, %.4f down, want symmetric", p.PartyNo, up, down)
			case logit && p.Share < 0.5 && !(up > down):
				t.Errorf("party %d at %.3f: %.4f up, %.4f down, want more room up", p.PartyNo, p.Share, up, down)
			case logit && p.Share > 0.5 && !(down > up):
				t.Errorf("party %d at %.3f: %.4f up, %.4f down, want more room down", p.PartyNo, p.Share, up, down)
			case logit && min(up, down) < 1.96*p.ShareSE-1e-12:
				t.Errorf("party %d at %.3f: %.4f up, %.4f down, want at least 1.96·se = %.4f each way", p.PartyNo, p.Share, up, down, 1.96*p.ShareSE)
			}
			checked++
		}
		if checked < 3 {
			for _, p := range res.Parties {
				t.Logf("%s %+v", res.SharesState, p)
			}
			t.Fatalf("only %d parties with an interval inside (0, 1)", checked)
		}
	}
}
