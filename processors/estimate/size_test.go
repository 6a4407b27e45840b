package estimate

import (
	"math"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// In one stratum party A's votes per eligible voter rise with station size and B's do
// not; the small half of the stations has reported. A ratio estimator alone projects the
// big stations at the small ones' ratio and underestimates A; the size covariate must move
// the projection most of the way to the truth, and the interval must hold the final share.
func TestSizeCovariateProjectsTheBigStationsStillOut(t *testing.T) {
	var rows []station
	var trueA, trueB float64
	for i := range 20 {
		x := 150 + 40*i
		a := int(math.Round(0.2 * float64(x) * math.Pow(float64(x)/500, 0.6)))
		b := int(math.Round(0.4 * float64(x)))
		rows = append(rows, station{"C1", x, false, a, b, i < 10})
		trueA += float64(a)
		trueB += float64(b)
	}
	share := trueA / (trueA + trueB)
	projected := func(size bool) PartyResult {
		m := urbanRural()
		m.SizeCovariate = size
		_, res := handEstimate(t, rows, m)
		return res.Parties[0]
	}
	without, with := projected(false), projected(true)
	t.Logf("A's true share %.4f; without the covariate %.4f, with %.4f [%.4f, %.4f]", share, without.Share, with.Share, with.ShareLo, with.ShareHi)
	if !(without.Share < share-0.01) {
		t.Fatalf("the case does not test anything: without the covariate A's share is %.4f, truth %.4f", without.Share, share)
	}
	if math.Abs(with.Share-share) > 0.5*math.Abs(without.Share-share) {
		t.Errorf("with the size covariate A's share is %.4f, truth %.4f: not at least halfway from %.4f", with.Share, share, without.Share)
	}
	if !(with.ShareLo <= share && share <= with.ShareHi) {
		t.Errorf("interval [%.4f, %.4f] misses the final share %.4f", with.ShareLo, with.ShareHi, share)
	}
}

// Two regions, one constituency each, the small half of every constituency's stations
// reported. Party A's votes per eligible voter rise with the log of station size in the
// north (0.3·(1 + 0.4·ln(x/500))) and fall with it in the south by the same amount, so the slope pooled over the country is
// about none and projects both constituencies' big stations at their small ones' ratio:
// too low for A in the north, too high in the south. The per-region slopes must move each
// constituency's projection of A at least halfway to its final count, the right way in
// both, and the national interval must hold A's final share.
func TestSizeSlopesPerRegionOpposite(t *testing.T) {
	var rows []station
	trueA := map[string]float64{}
	var totA, totAll float64
	for _, cons := range []string{"C1", "C2"} {
		slope := 0.4
		if cons == "C2" {
			slope = -0.4
		}
		for i := range 20 {
			x := 150 + 40*i
			a := int(math.Round(0.3 * float64(x) * (1 + slope*math.Log(float64(x)/500))))
			b := int(math.Round(0.4 * float64(x)))
			rows = append(rows, station{cons, x, false, a, b, i < 10})
			trueA[cons] += float64(a)
			totA += float64(a)
			totAll += float64(a + b)
		}
	}
	estimateWith := func(hier bool) Result {
		m := urbanRural()
		m.SizeSlopeHierarchy = hier
		c := handCountry(t, rows)
		c.Provinces = append(c.Provinces, election.Province{ID: "Q", NameTH: "จังหวัดใต้", Region: "south"})
		c.Constituencies[1].ProvinceID = "Q"
		if err := c.Index(); err != nil {
			t.Fatal(err)
		}
		return estimateOn(t, c, rows, m)
	}
	pooled, hier := estimateWith(false), estimateWith(true)
	for ci, cons := range []string{"C1", "C2"} {
		truth := trueA[cons]
		p, h := pooled.Constituencies[ci].Candidates[0].Projected, hier.Constituencies[ci].Candidates[0].Projected
		t.Logf("%s: A's final %.0f votes; pooled slope projects %.0f, per-region slopes %.0f", cons, truth, p, h)
		if math.Abs(p-truth) < 0.03*truth {
			t.Fatalf("%s: the case does not test anything: the pooled slope projects %.0f of %.0f", cons, p, truth)
		}
		if math.Abs(h-truth) > 0.5*math.Abs(p-truth) {
			t.Errorf("%s: per-region slopes project %.0f of A's %.0f: not at least halfway from the pooled %.0f", cons, h, truth, p)
		}
	}
	share := totA / totAll
	a := hier.Parties[0]
	if !(a.ShareLo <= share && share <= a.ShareHi) {
		t.Errorf("A's interval [%.4f, %.4f] misses its final share %.4f", a.ShareLo, a.ShareHi, share)
	}
}

// estimateOn applies the reported rows (both ballots, the same votes) to an estimator of
// country c, built by handCountry from the same rows, and estimates.
func estimateOn(t *testing.T, c *election.Country, rows []station, m Method) Result {
	t.Helper()
	_, res := estimatorOn(t, c, rows, m)
	return res
}

// estimatorOn is estimateOn that also returns the estimator.
func estimatorOn(t *testing.T, c *election.Country, rows []station, m Method) (*Estimator, Result) {
	t.Helper()
	e, err := NewEstimator(c, m)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if !r.reported {
			continue
		}
		s := c.Stations[i]
		pl := election.Tally{BallotsCast: r.a + r.b, Votes: map[int]int{1: r.a, 2: r.b}}
		cons := election.Tally{BallotsCast: r.a + r.b, Votes: map[int]int{candidateNo(c, r.cons, 1): r.a, candidateNo(c, r.cons, 2): r.b}}
		for b, tl := range map[election.Ballot]election.Tally{election.BallotPartyList: pl, election.BallotConstituency: cons} {
			if err := e.Apply(resultOf(s, b, tl, schemas.StatusCorroborated, 1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e, e.Estimate()
}
