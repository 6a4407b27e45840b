//go:build covdiag

package estimate

// Why the national intervals under-cover on realnight's rural-city and share orders:
// step by step, each party's error against its standard error, the variance terms, and
// where the error comes from (docs/estimation.md, "At 02:50 on 8 Dec: why realnight's
// intervals under-covered").
//
//	COVDIAG_ORDER=rural-city COVDIAG_SEEDS=1 COVDIAG_REF=/path/to/thailand-2023 \
//	go test -tags covdiag -run TestCoverageDiag -v ./processors/estimate/

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"

	"votestream/election"
	"votestream/simulate/realnight"
)

func cdEnv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestCoverageDiag(t *testing.T) {
	order := cdEnv("COVDIAG_ORDER", "rural-city")
	seeds, _ := strconv.Atoi(cdEnv("COVDIAG_SEEDS", "1"))
	first, _ := strconv.Atoi(cdEnv("COVDIAG_FIRST", "1"))
	scale, _ := strconv.ParseFloat(cdEnv("COVDIAG_SCALE", "0.1"), 64)
	ref := os.Getenv("COVDIAG_REF")
	for seed := first; seed < first+seeds; seed++ {
		cfg := realnight.DefaultConfig()
		cfg.Seed, cfg.RefDir, cfg.Scale, cfg.Order = uint64(seed), ref, scale, order
		n, err := realnight.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := DefaultMethod()
		est, err := NewEstimator(n.Country, m)
		if err != nil {
			t.Fatal(err)
		}
		fin, _ := NewEstimator(n.Country, m)
		for i, s := range n.Country.Stations {
			if tl, ok := n.Results.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}]; ok {
				fin.applyTally(int32(i), election.BallotPartyList, tl)
			}
		}
		final, err := finalOf(est.lay, n.Results)
		if err != nil {
			t.Fatal(err)
		}
		bc := DefaultBacktestConfig()
		bc.Order = OrderFile
		ord, _, err := replayOrder(n.Country, n.Results, bc)
		if err != nil {
			t.Fatal(err)
		}
		fracs := []float64{0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.3, 0.5}
		next := 0
		for i, si := range ord {
			s := n.Country.Stations[si]
			for _, b := range election.Ballots {
				if tl, ok := n.Results.Tallies[election.StationBallot{StationID: s.ID, Ballot: b}]; ok {
					est.applyTally(int32(si), b, tl)
				}
			}
			if next < len(fracs) && i+1 >= int(math.Ceil(fracs[next]*float64(len(ord)))) {
				fmt.Printf("\n=== %s seed %d at %.1f %% of stations\n", order, seed, 100*fracs[next])
				covDiagStep(est, fin, final)
				next++
			}
		}
	}
}

func covDiagStep(e, fin *Estimator, final *finalResult) {
	l, bs, fb := e.lay, e.ballots[0], fin.ballots[0]
	K := len(l.parties)
	res := e.Estimate()
	rc := newRatioCalc(l, bs, e.method)
	rc.compute()
	st, turnout := e.projectShares(rc)
	sc := e.pooledScatter(st.share, turnout)
	share := st.share
	nu := e.method.VarianceDF
	// The model's pieces, each into its own slice.
	stn, lev, kind, size, drift := make([]float64, K), make([]float64, K), make([]float64, K), make([]float64, K), make([]float64, K)
	lean := make([]float64, K)
	acc := newGroupAcc(rc)
	own := make([]float64, K)
	for h := range l.strata {
		xu := rc.unreported(h)
		if xu <= 0 {
			continue
		}
		x := float64(bs.x[h])
		dfh := float64(max(bs.n[h]-1, 0))
		off := bs.optOff[h]
		var ownSum float64
		for j := range K {
			a := xu * rc.sb[off+j] * rc.r[off+j]
			own[j] = a * a * rc.tauRel[levelStratum][j]
			ownSum += own[j]
			acc.add(h, j, a)
		}
		for k := range K {
			p := share[k]
			sigma2 := nu * sc.pool[k] / (dfh + nu)
			if bs.n[h] >= 2 {
				sigma2 = (sc.ssr(h, k) + nu*sc.pool[k]) / (dfh + nu)
			}
			v := sigma2*xu + own[k]*(1-2*p) + p*p*ownSum
			if x > 0 {
				w := 1 - rc.sb[off+k]
				v += xu * xu * w * w * sigma2 / x
			}
			stn[k] += v
		}
	}
	acc.addShareVariance(lev, lean, share)
	acc.addKindShareVariance(kind, share)
	rc.sizeShareVariance(size, share)
	e.driftVariance(rc, share, sc.pool, drift)
	block, imb := make([]float64, K), make([]float64, K)
	var u2 float64
	for _, x := range e.blockOutstanding() {
		u2 += x
	}
	d2, _ := e.imbalance()
	if tau2 := e.blockTau2(share, sc.pool); tau2 != nil {
		for k := range K {
			block[k] = tau2[k] * u2
			imb[k] = tau2[k] * e.method.Imbalance * d2
		}
	}
	T := st.total
	// Truth: the error of each stratum's projection, linearised as the share's.
	var vf float64
	for h := range l.strata {
		for k := range K {
			vf += float64(fb.y[fb.optOff[h]+k])
		}
	}
	consRep := make([]int32, len(l.cons))
	for h := range l.strata {
		consRep[l.strata[h].cons] += bs.n[h]
	}
	// classes: 0 constituency with nothing reported, 1 stratum with nothing in a reported
	// constituency, 2 stratum with reports (its stations still out)
	var byClass [3][]float64
	byCons := make([][]float64, len(l.cons))
	byRegion := make([][]float64, len(l.regions))
	for i := range byClass {
		byClass[i] = make([]float64, K)
	}
	for c := range byCons {
		byCons[c] = make([]float64, K)
	}
	for r := range byRegion {
		byRegion[r] = make([]float64, K)
	}
	var xuClass [3]float64
	for h := range l.strata {
		xu := rc.unreported(h)
		c := l.strata[h].cons
		cl := 2
		switch {
		case consRep[c] == 0:
			cl = 0
		case bs.n[h] == 0:
			cl = 1
		}
		xuClass[cl] += xu
		var pv, fv float64
		for k := range K {
			pv += rc.projected(h, k)
			fv += float64(fb.y[fb.optOff[h]+k])
		}
		for k := range K {
			eh := (rc.projected(h, k) - float64(fb.y[fb.optOff[h]+k])) - share[k]*(pv-fv)
			byClass[cl][k] += eh
			byCons[c][k] += eh
			byRegion[l.provRegion[l.cons[c].province]][k] += eh
		}
	}
	keys := make([]int, K)
	for k := range keys {
		keys[k] = k
	}
	slices.SortFunc(keys, func(a, b int) int { return cmpFloat(final.share[b], final.share[a]) })
	u := float64(res.PartyList.EligibleReported) / float64(res.PartyList.EligibleTotal)
	if os.Getenv("COVDIAG_BRIEF") != "" {
		fmt.Printf("%s u %.3f:", res.SharesState, u)
		for _, k := range keys {
			if final.share[k] < 0.01 {
				continue
			}
			p := res.Parties[k]
			err := p.Share - final.share[k]
			mark := ""
			if math.Abs(err) > 1.96*p.ShareSE {
				mark = "*"
			}
			fmt.Printf(" %d:%.2f:%+.2f/%.2f%s", l.parties[k], 100*p.Share, 100*err, 100*p.ShareSE, mark)
		}
		fmt.Println()
		return
	}
	fmt.Printf("state %s, eligible reported %.3f, outstanding eligible: cons-none %.3f, stratum-none %.3f, stratum-some %.3f; inflation %.2f\n",
		res.SharesState, u, xuClass[0]/float64(e.eligibleTotal), xuClass[1]/float64(e.eligibleTotal), xuClass[2]/float64(e.eligibleTotal), res.Inflation)
	pt := func(v float64) float64 { return 100 * math.Sqrt(max(v, 0)) / T }
	fmt.Printf("%5s %6s %6s %6s %6s %5s | sd(pts): %5s %5s %5s %5s %5s %5s %5s %5s %5s | err(pts) cons-none strat-none strat-some | coh cons  coh reg\n",
		"party", "final", "est", "err", "se", "z", "stn", "lev", "lean", "kind", "size", "drift", "block", "imb", "model")
	for _, k := range keys[:7] {
		p := res.Parties[k]
		err := p.Share - final.share[k]
		// coherence: |Σ_c e_c| / sqrt(Σ_c e_c²), about 1 if constituencies' errors were
		// independent of mean zero, sqrt(n) if all alike
		var sc2, ss, rs2 float64
		for c := range byCons {
			sc2 += byCons[c][k] * byCons[c][k]
			ss += byCons[c][k]
		}
		for r := range byRegion {
			rs2 += byRegion[r][k] * byRegion[r][k]
		}
		model := stn[k] + lev[k] + kind[k] + size[k] + drift[k] + block[k] + imb[k]
		fmt.Printf("%5d %6.2f %6.2f %+6.2f %6.2f %+5.1f | %13s %5.2f %5.2f %5.2f %5.2f %5.2f %5.2f %5.2f %5.2f %5.2f | %+9.2f %+10.2f %+10.2f | %8.1f %8.1f\n",
			l.parties[k], 100*final.share[k], 100*p.Share, 100*err, 100*p.ShareSE, err/max(p.ShareSE, 1e-9), "",
			pt(stn[k]), pt(lev[k]), pt(lean[k]), pt(kind[k]), pt(size[k]), pt(drift[k]), pt(block[k]), pt(imb[k]), pt(model),
			100*byClass[0][k]/vf, 100*byClass[1][k]/vf, 100*byClass[2][k]/vf,
			math.Abs(ss)/math.Sqrt(sc2), math.Abs(ss)/math.Sqrt(rs2))
	}
	tau2 := e.blockTau2(share, sc.pool)
	var xr float64
	for h := range l.strata {
		xr += float64(bs.x[h])
	}
	var urbRep, urbTot, rurRep, rurTot float64
	for h, st := range l.strata {
		if st.sub >= l.nSub/2 {
			urbRep += float64(bs.x[h])
			urbTot += float64(st.eligible)
		} else {
			rurRep += float64(bs.x[h])
			rurTot += float64(st.eligible)
		}
	}
	// Within each kind: the subdistrict's urban-labelled share and the station's ln size,
	// reported against outstanding voters, in the kind's standard deviations.
	{
		nb := len(l.blockCons)
		bu, bx := make([]float64, nb), make([]float64, nb)
		for _, st := range l.stations {
			bx[st.block] += float64(st.eligible)
			if int(st.stratum)%l.nSub >= l.nSub/2 {
				bu[st.block] += float64(st.eligible)
			}
		}
		for g := range 2 {
			var w, m1, m2 [2]float64 // [reported, outstanding]
			var lw, l1, l2 [2]float64
			for si, st := range l.stations {
				if (int(st.stratum)%l.nSub >= l.nSub/2) != (g == 1) {
					continue
				}
				rep := 1
				if bs.seen[si] {
					rep = 0
				}
				x := float64(st.eligible)
				v := bu[st.block] / bx[st.block]
				w[rep] += x
				m1[rep] += x * v
				m2[rep] += x * v * v
				lv := math.Log(max(x, 1))
				lw[rep] += x
				l1[rep] += x * lv
				l2[rep] += x * lv * lv
			}
			sd := func(a, b, c [2]float64) float64 {
				n := a[0] + a[1]
				mu := (b[0] + b[1]) / n
				return math.Sqrt(max((c[0]+c[1])/n-mu*mu, 1e-12))
			}
			fmt.Printf("kind %d: subdistrict urban share rep %.3f out %.3f m %.2f; ln size rep %.2f out %.2f m %.2f\n", g,
				m1[0]/w[0], m1[1]/w[1], (m1[1]/w[1]-m1[0]/w[0])/sd(w, m1, m2), l1[0]/lw[0], l1[1]/lw[1], (l1[1]/lw[1]-l1[0]/lw[0])/sd(lw, l1, l2))
		}
	}
	fmt.Printf("d2 %.3g  urban coverage %.3f rural %.3f  (x reported %.0f)\n", d2, urbRep/urbTot, rurRep/rurTot, xr)
	for _, k := range keys[:3] {
		var y float64
		for h := range l.strata {
			y += float64(bs.y[bs.optOff[h]+k])
		}
		rho := y / xr
		tb := 0.0
		if tau2 != nil {
			tb = tau2[k]
		}
		fmt.Printf("  party %d rho %.4f tauBlock %.3g rel %.3f kindVar %.4f kindF1 %.3f u(profile) %v tauRel lv:",
			l.parties[k], rho, tb, tb/(rho*rho), rc.kindVar[k], rc.kindF1[k], profile(rc, k))
		for lv := range nLevels {
			fmt.Printf(" %.4f", rc.tauRel[lv][k])
		}
		fmt.Println()
	}
}

func profile(rc *ratioCalc, k int) []string {
	var out []string
	for s := range rc.l.nSub {
		out = append(out, fmt.Sprintf("%.2f", rc.u[s*rc.K+k]))
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
