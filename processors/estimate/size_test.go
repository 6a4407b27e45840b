package estimate

import (
	"math"
	"testing"
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
