package estimate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"votestream/election"
)

// estimateAtFifth feeds the first fifth of the night in report order to an estimator (with the
// baseline b, or none) and returns the published estimate.
func estimateAtFifth(t *testing.T, c *election.Country, r *election.Results, b *Baseline) Result {
	t.Helper()
	e, err := NewEstimator(c, DefaultMethod())
	if err != nil {
		t.Fatal(err)
	}
	if b != nil {
		if _, err := e.SetBaseline(c, b); err != nil {
			t.Fatal(err)
		}
	}
	order := byReportTime(c, r)
	feed(t, e, c, r, order[:len(order)/5])
	return e.Estimate()
}

// A perfect baseline (tonight's own votes under a uniform relative swing) predicts every
// station, so the residuals of its prediction on what has reported are tiny and the
// intervals narrow, still holding the final share; a misleading one (another night's votes
// with the parties shuffled) predicts nothing, and the intervals stay as wide as the level
// model's.
func TestBaselineNarrowsOnlyWhenItPredicts(t *testing.T) {
	c, r := syntheticNight(t, 5, 16, 100)
	_, other := syntheticNight(t, 11, 16, 100)
	perfect, err := LoadBaseline(previousOf(c, r, []float64{1.3, 0.8, 1, 1.2, 0.9}, 0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	// The other night, party p's votes given as party perm[p]'s.
	perm := []int{3, 4, 0, 1, 2}
	var sb strings.Builder
	sb.WriteString("station_id,ballot,number,votes\n")
	for _, s := range c.Stations {
		tally := other.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}]
		for p, pa := range c.Parties {
			fmt.Fprintf(&sb, "%s,partylist,%d,%d\n", s.ID, c.Parties[perm[p]].No, tally.Votes[pa.No])
		}
	}
	misleading, err := LoadBaseline(baselineFS(map[string]string{"station_votes.csv": sb.String()}))
	if err != nil {
		t.Fatal(err)
	}
	final, _ := truthOf(c, r)
	var total float64
	for _, v := range final {
		total += float64(v)
	}
	// median width of parties with >= 10 %, and whether every interval holds the final share
	check := func(name string, res Result) float64 {
		t.Helper()
		var widths []float64
		for _, p := range res.Parties {
			f := float64(final[p.PartyNo]) / total
			if f < 0.01 {
				continue
			}
			if f < p.ShareLo || f > p.ShareHi {
				t.Errorf("%s: party %d final %.4f outside [%.4f, %.4f]", name, p.PartyNo, f, p.ShareLo, p.ShareHi)
			}
			if f >= 0.1 {
				widths = append(widths, p.ShareHi-p.ShareLo)
			}
		}
		slices.Sort(widths)
		w := widths[len(widths)/2]
		t.Logf("%s: median width %.2f pts", name, 100*w)
		return w
	}
	none := check("none", estimateAtFifth(t, c, r, nil))
	good := check("perfect", estimateAtFifth(t, c, r, perfect))
	bad := check("misleading", estimateAtFifth(t, c, r, misleading))
	if good > 0.8*none {
		t.Errorf("a perfect baseline narrowed the median width only from %.2f to %.2f pts", 100*none, 100*good)
	}
	if bad < 0.9*none {
		t.Errorf("a misleading baseline narrowed the median width from %.2f to %.2f pts", 100*none, 100*bad)
	}
}

// The hold-out ratio is the residuals' weighted squares over the level's, raised to an
// upper bound, capped at 1, and not used on too few pairs.
func TestResidualRatio(t *testing.T) {
	r := newResidualRatio(2)
	for i := range 8 {
		d := 0.1 * float64(i%2*2-1)
		r.add(0, 1, d, d, 0.5) // residual half of δt: R = 0.25
		r.add(1, 1, d, d, 0)   // γ = 0: R = 1
	}
	want := 0.25 * (1 + baselineRatioZ*math.Sqrt(2.0/8))
	if got := r.factor(0); math.Abs(got-want) > 1e-12 {
		t.Errorf("factor = %v, want %v", got, want)
	}
	if got := r.factor(1); got != 1 {
		t.Errorf("factor with γ = 0: %v, want 1", got)
	}
	few := newResidualRatio(1)
	for range baselineMinPairs - 1 {
		few.add(0, 1, 0.1, 0.1, 1)
	}
	if got := few.factor(0); got != 1 {
		t.Errorf("factor on %d pairs: %v, want 1", baselineMinPairs-1, got)
	}
}
