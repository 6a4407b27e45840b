package simulate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"votestream/election"
)

// dirichletTruth is a second generator, written apart from NewTruth's vote model so that
// at least one family of nights is not the one the estimator grew up on. It shares only the
// country and the Truth layout.
//
//   - National party-list shares follow a real-looking profile (Thailand 2023 had two
//     parties above a quarter of the vote, one at an eighth and dozens under one per cent).
//   - Region shares multiply them by a log-normal draw per party and region; provinces and
//     constituencies are Dirichlet draws around their parent's shares, so every level
//     scatters by a concentration, not by a log-normal swing.
//   - Within a constituency the first party gains and the second loses with station size
//     (a power of the station's size relative to its constituency's mean).
//   - Each station's shares are a Dirichlet draw around that (concentration 40 to 400 by
//     constituency), its votes multinomial: a Dirichlet-multinomial station.
//   - Constituency candidates take their party's local share times a personal factor; the
//     middle parties' candidates run far ahead of their party lists (as local notables
//     did in 2023). Candidates without a party-list number get a share of their own.
//   - Counting: each subdistrict's forms travel to a counting centre that adds its own
//     delay, and some provinces' centres are slow; no urban effect anywhere.
func dirichletTruth(seed uint64, c *election.Country, cfg VoteConfig) (*Truth, error) {
	t, err := newCheckedTruthFrame(c, cfg)
	if err != nil {
		return nil, err
	}
	np := len(c.Parties)
	rank := dirichletRank(seed, t)
	national := dirichletNational(seed, rank)
	cons := dirichletConstituencies(seed, c, national, rank)
	relSize := relativeSizes(t)
	candBase := dirichletCandidates(seed, t, cons, rank)
	clusterOf, _ := subdistrictClusters(c)
	provDelay := dirichletProvinceDelays(seed, c)

	src := rand.NewPCG(0, 0)
	r := rand.New(src)
	share := make([]float64, np)
	w := make([]float64, np)
	var cw, cshare []float64
	for i, s := range c.Stations {
		reseed(src, seed, "dirichlet-station", uint64(i))
		k := t.consOf[i]
		alpha := cons[k].alpha
		// Size gradient of the two strongest parties inside the constituency.
		copy(share, cons[k].share)
		share[rank[0]] *= math.Exp(0.6 * relSize[i])
		if np > 1 {
			share[rank[1]] *= math.Exp(-0.4 * relSize[i])
		}
		normalize(share)
		dirichlet(r, alpha, share, w)

		e := s.EligibleVoters
		tc := cons[k].turnout
		turnout := gammaVariate(r, 60*tc)
		turnout /= turnout + gammaVariate(r, 60*(1-tc))
		pl := binomial(r, e, turnout)
		consCast := pl
		if r.Float64() < 0.1 {
			consCast = min(max(pl+r.IntN(5)-2, 0), e)
		}
		cnt := &t.counts[i]
		cnt.cast = [2]int32{int32(consCast), int32(pl)}

		// The constituency ballot: candidates' local strength, moved by how their party
		// does at this station against the constituency, with its own noise.
		cands := t.candsOf[k]
		cshare = cshare[:0]
		for _, ci := range cands {
			b := candBase[ci]
			if p, ok := t.partyIdx[c.Candidates[ci].PartyNo]; ok && cons[k].share[p] > 0 {
				b *= math.Pow(w[p]/cons[k].share[p], 0.8)
			}
			cshare = append(cshare, b)
		}
		cw = slices.Grow(cw[:0], len(cshare))[:len(cshare)]
		normalize(cshare)
		dirichlet(r, alpha, cshare, cw)

		for b := range 2 {
			cast := int(cnt.cast[b])
			inv := binomial(r, cast, cfg.InvalidRate*math.Exp(0.4*r.NormFloat64()))
			nov := binomial(r, cast-inv, cfg.NoVoteRate*math.Exp(0.4*r.NormFloat64()))
			t.castVotes(r, i, b, inv, nov, w, cw[:len(cands)])
		}
		t.times[i] = countingCentreTimeline(seed, i, clusterOf[i], cnt.cast, provDelay[k])
	}
	return t, nil
}

// dirichletRank orders the parties by how many candidates they field (the national ones
// first), ties by party number.
func dirichletRank(seed uint64, t *Truth) []int {
	c := t.country
	np := len(c.Parties)
	fielded := make([]int, np)
	for _, d := range c.Candidates {
		if p, ok := t.partyIdx[d.PartyNo]; ok {
			fielded[p]++
		}
	}
	// A random tie-break, so that which party leads does not follow the party numbers.
	tie := newRand(seed, "dirichlet-rank").Perm(np)
	rank := make([]int, np)
	for i := range rank {
		rank[i] = i
	}
	slices.SortStableFunc(rank, func(a, b int) int {
		return cmp.Or(cmp.Compare(fielded[b], fielded[a]), cmp.Compare(tie[a], tie[b]))
	})
	return rank
}

// dirichletNational draws the national party-list shares: a profile like 2023's, each
// moved by a fifth or so, and a Zipf tail.
func dirichletNational(seed uint64, rank []int) []float64 {
	r := newRand(seed, "dirichlet-national")
	profile := []float64{0.38, 0.29, 0.125, 0.04, 0.035, 0.025, 0.015, 0.01, 0.008}
	out := make([]float64, len(rank))
	for j, p := range rank {
		if j < len(profile) {
			out[p] = profile[j] * math.Exp(0.2*r.NormFloat64())
		} else {
			out[p] = 0.006 / math.Pow(float64(j-len(profile)+1), 0.9) * math.Exp(0.5*r.NormFloat64())
		}
	}
	normalize(out)
	return out
}

type dirichletCons struct {
	share   []float64 // party-list shares
	alpha   float64   // stations' Dirichlet concentration
	turnout float64
}

// dirichletConstituencies draws region, province and constituency shares top down.
func dirichletConstituencies(seed uint64, c *election.Country, national []float64, rank []int) []dirichletCons {
	np := len(national)
	r := newRand(seed, "dirichlet-geography")
	capital := capitalProvince(c)
	regionShare := map[string][]float64{}
	regionTurnout := map[string]float64{}
	for _, p := range c.Provinces {
		if _, ok := regionShare[p.Region]; ok {
			continue
		}
		s := make([]float64, np)
		for j, q := range rank {
			sd := 0.6
			if j >= 9 {
				sd = 0.4
			}
			s[q] = national[q] * math.Exp(sd*r.NormFloat64())
		}
		if p.Region == "northeast" && np > 1 {
			s[rank[1]] *= 1.8
		}
		normalize(s)
		regionShare[p.Region] = s
		regionTurnout[p.Region] = logit(0.75) + 0.15*r.NormFloat64()
	}
	provShare := map[string][]float64{}
	provTurnout := map[string]float64{}
	for _, p := range c.Provinces {
		s := make([]float64, np)
		dirichlet(r, 150, regionShare[p.Region], s)
		if p.ID == capital {
			s[rank[0]] *= 1.5
			normalize(s)
		}
		provShare[p.ID] = s
		provTurnout[p.ID] = regionTurnout[p.Region] + 0.12*r.NormFloat64()
	}
	out := make([]dirichletCons, len(c.Constituencies))
	for k, cons := range c.Constituencies {
		kr := newRand(seed, "dirichlet-constituency", uint64(k))
		s := make([]float64, np)
		dirichlet(kr, 100, provShare[cons.ProvinceID], s)
		for p := range s {
			s[p] += 1e-5 // no party is exactly absent
		}
		normalize(s)
		out[k] = dirichletCons{
			share:   s,
			alpha:   math.Exp(math.Log(40) + (math.Log(400)-math.Log(40))*kr.Float64()),
			turnout: logistic(provTurnout[cons.ProvinceID] + 0.1*kr.NormFloat64()),
		}
	}
	return out
}

// dirichletCandidates is each candidate's local strength on the constituency ballot.
func dirichletCandidates(seed uint64, t *Truth, cons []dirichletCons, rank []int) []float64 {
	c := t.country
	bonus := make([]float64, len(c.Parties))
	br := newRand(seed, "dirichlet-bonus")
	for j, p := range rank {
		bonus[p] = 1
		if j >= 2 && j < 7 {
			bonus[p] = math.Exp(math.Log(2.5) + 0.4*br.NormFloat64())
		}
	}
	out := make([]float64, len(c.Candidates))
	for k, cands := range t.candsOf {
		for _, ci := range cands {
			r := newRand(seed, "dirichlet-candidate", uint64(ci))
			if p, ok := t.partyIdx[c.Candidates[ci].PartyNo]; ok {
				out[ci] = cons[k].share[p] * bonus[p] * math.Exp(0.45*r.NormFloat64())
			} else {
				out[ci] = 0.03 * math.Exp(r.NormFloat64())
			}
		}
	}
	return out
}

// dirichletProvinceDelays: a slow counting centre in about one province in eight.
func dirichletProvinceDelays(seed uint64, c *election.Country) []float64 {
	r := newRand(seed, "dirichlet-province-delay")
	slow := map[string]float64{}
	for _, p := range c.Provinces {
		if r.Float64() < 0.125 {
			slow[p.ID] = 40 + 80*r.Float64()
		} else {
			slow[p.ID] = 10 * r.ExpFloat64()
		}
	}
	out := make([]float64, len(c.Constituencies))
	for k, cons := range c.Constituencies {
		out[k] = slow[cons.ProvinceID]
	}
	return out
}

// countingCentreTimeline: the count at the station, then the forms travel with the rest of
// the subdistrict's to a counting centre, which posts them after its own delay.
func countingCentreTimeline(seed uint64, i int, cluster int32, cast [2]int32, provDelay float64) Timeline {
	r := newRand(seed, "dirichlet-time", uint64(i))
	cr := newRand(seed, "dirichlet-centre", uint64(cluster))
	pace := 0.11 * math.Exp(0.3*r.NormFloat64())
	var tl Timeline
	tl.Start = 5 + 15*r.Float64()
	tl.ConstituencyEnd = tl.Start + float64(cast[ballotCons])*pace
	tl.PartyListStart = tl.ConstituencyEnd + 3 + 4*r.Float64()
	tl.PartyListEnd = tl.PartyListStart + float64(cast[ballotPL])*pace
	travel := 15*cr.ExpFloat64() + provDelay
	tl.ConstituencyFinal = tl.ConstituencyEnd + 5 + travel
	tl.PartyListFinal = tl.PartyListEnd + 5 + travel
	round := func(x float64) float64 { return math.Round(x*10) / 10 }
	return Timeline{
		Start: round(tl.Start), ConstituencyEnd: round(tl.ConstituencyEnd), ConstituencyFinal: round(tl.ConstituencyFinal),
		PartyListStart: round(tl.PartyListStart), PartyListEnd: round(tl.PartyListEnd), PartyListFinal: round(tl.PartyListFinal),
	}
}

// dirichlet draws shares from a Dirichlet distribution with concentration alpha around
// mean (which sums to 1) into out.
func dirichlet(r *rand.Rand, alpha float64, mean, out []float64) {
	for i, m := range mean {
		out[i] = 0
		if m > 0 {
			out[i] = gammaVariate(r, alpha*m)
		}
	}
	normalize(out)
}

// gammaVariate draws Gamma(shape, 1) by Marsaglia and Tsang's method, boosted for shapes
// under one.
func gammaVariate(r *rand.Rand, shape float64) float64 {
	if shape <= 0 {
		return 0
	}
	if shape < 1 {
		u := r.Float64()
		return gammaVariate(r, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// normalize scales xs to sum to 1 (leaves an all-zero slice alone).
func normalize(xs []float64) {
	var s float64
	for _, x := range xs {
		s += x
	}
	if s <= 0 {
		return
	}
	for i := range xs {
		xs[i] /= s
	}
}
