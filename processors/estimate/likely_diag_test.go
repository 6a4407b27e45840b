//go:build likelydiag

package estimate

// The likely calls, step by step, with the coverage rules (likely.go) off, and what each
// rule would have done with them: docs/estimation.md, "Likely calls that rest on coverage".
//
//	LIKELYDIAG_GEN=realnight LIKELYDIAG_SCEN=rural-city LIKELYDIAG_SEEDS=3 \
//	LIKELYDIAG_REF=/path/to/thailand-2023 go test -tags likelydiag -run TestLikelyDiag -v ./processors/estimate/
//
// LIKELYDIAG_FIRST is the first seed (1), LIKELYDIAG_GEN realnight or simulate, LIKELYDIAG_BASE none, previous (realnight) or a
// simulate previous kind (good), LIKELYDIAG_SCALE the scale (0.1).

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"votestream/election"
	"votestream/schemas"
	"votestream/simulate"
	"votestream/simulate/realnight"
)

type diagVariant struct {
	name     string
	coverage float64
	worst    bool
	swing    float64
	places   float64
	pswing   float64
}

var diagVariants = []diagVariant{
	{"off", 0, false, 0, 0, 0},
	{"coverage 0.05", 0.05, false, 0, 0, 0},
	{"coverage 0.1", 0.1, false, 0, 0, 0},
	{"coverage 0.25", 0.25, false, 0, 0, 0},
	{"worst stratum", 0, true, 0, 0, 0},
	{"swing 0.15 @0.1 + worst", 0.1, true, 0.15, 0, 0},
	{"swing 0.15 @0.25 + worst", 0.25, true, 0.15, 0, 0},
	{"swing 0.3 @0.1 + worst", 0.1, true, 0.3, 0, 0},
	{"swing 1 @0.1", 0.1, false, 1, 0, 0},
	{"coverage 0.1 + places 0.8", 0.1, false, 0, 0.8, 0},
	{"coverage 0.1 + places 0.9", 0.1, false, 0, 0.9, 0},
	{"coverage 0.1 + places swing 0.3", 0.1, false, 0, 0, 0.3},
	{"coverage 0.1 + places swing 0.5", 0.1, false, 0, 0, 0.5},
}

type diagTally struct {
	likely, wrong int
	wrongCons     map[string]bool
	firstCons     map[string]float64 // constituency -> its eligible share reported at first likely
	firstNat      map[string]float64 // constituency -> national stations share at first likely
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestLikelyDiag(t *testing.T) {
	gen := env("LIKELYDIAG_GEN", "realnight")
	scens := strings.Split(env("LIKELYDIAG_SCEN", "rural-city"), ",")
	seeds, _ := strconv.Atoi(env("LIKELYDIAG_SEEDS", "1"))
	first, _ := strconv.Atoi(env("LIKELYDIAG_FIRST", "1"))
	scale, _ := strconv.ParseFloat(env("LIKELYDIAG_SCALE", "0.1"), 64)
	ref := os.Getenv("LIKELYDIAG_REF")
	base := env("LIKELYDIAG_BASE", "none")
	for _, scen := range scens {
		tallies := make([]diagTally, len(diagVariants))
		for i := range tallies {
			tallies[i] = diagTally{wrongCons: map[string]bool{}, firstCons: map[string]float64{}, firstNat: map[string]float64{}}
		}
		for seed := uint64(first); seed < uint64(first+seeds); seed++ {
			var c *election.Country
			var r *election.Results
			var bl *Baseline
			var err error
			switch gen {
			case "realnight":
				cfg := realnight.DefaultConfig()
				cfg.Seed, cfg.RefDir, cfg.Scale, cfg.Order = seed, ref, scale, scen
				n, err := realnight.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				c, r = n.Country, n.Results
				if base == "previous" {
					if bl, err = LoadBaseline(n.Previous().FS()); err != nil {
						t.Fatal(err)
					}
				}
			default:
				cfg := simulate.DefaultConfig()
				cfg.Seed, cfg.Scenario, cfg.Country.Scale, cfg.Country.RefDir = seed, scen, scale, ref
				sim, err := simulate.Generate(cfg)
				if err != nil {
					t.Fatal(err)
				}
				c, r = sim.Country, sim.Truth.Results()
				if base != "none" {
					prev, err := sim.PreviousElection(simulate.PreviousKinds[base]())
					if err != nil {
						t.Fatal(err)
					}
					if bl, err = LoadBaseline(prev.FS()); err != nil {
						t.Fatal(err)
					}
				}
			}
			m := DefaultMethod()
			m.LikelyCoverage, m.LikelyWorstStratum, m.LikelyUnseenSwing, m.LikelyPlaces, m.LikelyPlacesSwing = 0, false, 0, 0, 0
			est, err := NewEstimator(c, m)
			if err != nil {
				t.Fatal(err)
			}
			if bl != nil {
				if _, err := est.SetBaseline(c, bl); err != nil {
					t.Fatal(err)
				}
			}
			final, err := finalOf(est.lay, r)
			if err != nil {
				t.Fatal(err)
			}
			bc := DefaultBacktestConfig()
			bc.Seed = seed
			order, _, err := replayOrder(c, r, bc)
			if err != nil {
				t.Fatal(err)
			}
			finalLead := finalLeads(est.lay, r)
			cps := checkpointsOf(len(order), bc.Steps)
			for i, si := range order {
				s := c.Stations[si]
				for _, b := range election.Ballots {
					if tl, ok := r.Tallies[election.StationBallot{StationID: s.ID, Ballot: b}]; ok {
						est.applyTally(int32(si), b, tl)
					}
				}
				if !cps[i+1] {
					continue
				}
				conf := est.leadConformal()
				est.method.LikelyPlaces = 1
				seenB := est.seenBlocks()
				est.method.LikelyPlaces = 0
				res := est.Estimate()
				nat := float64(i+1) / float64(len(order))
				for ci, cr := range res.Constituencies {
					if cr.Call != schemas.CallLikely {
						continue
					}
					cl := &est.lay.cons[ci]
					lead := cl.candIdx[cr.LeaderNo]
					right := final.winners[ci][cr.LeaderNo]
					consU := float64(cr.Progress.EligibleReported) / float64(cr.Progress.EligibleTotal)
					pass := make([]bool, len(diagVariants))
					for vi, v := range diagVariants {
						est.method.LikelyCoverage, est.method.LikelyWorstStratum, est.method.LikelyUnseenSwing, est.method.LikelyPlaces, est.method.LikelyPlacesSwing = v.coverage, v.worst, v.swing, v.places, v.pswing
						pass[vi] = est.likelyCovered(ci, lead, seenB)
						if !pass[vi] {
							continue
						}
						tl := &tallies[vi]
						tl.likely++
						key := fmt.Sprintf("%d/%s", seed, cl.id)
						if !right {
							tl.wrong++
							tl.wrongCons[key] = true
						}
						if _, ok := tl.firstCons[key]; !ok {
							tl.firstCons[key], tl.firstNat[key] = consU, nat
						}
					}
					est.method.LikelyCoverage, est.method.LikelyWorstStratum, est.method.LikelyUnseenSwing, est.method.LikelyPlaces, est.method.LikelyPlacesSwing = 0, false, 0, 0, 0
					if right {
						continue
					}
					// The wrong call, in detail.
					var sb strings.Builder
					fmt.Fprintf(&sb, "WRONG seed %d %s at %.1f%% stations (cons %.0f%% eligible, %d/%d stations, subdistricts seen %.0f%%): leader %d p=%.4f likelyOK=%v conf=%.2f infl=%.2f state=%s pass=%v\n",
						seed, cl.id, 100*nat, 100*consU, cr.Progress.StationsReported, cr.Progress.StationsTotal, 100*float64(seenB[ci])/float64(cl.eligible), cr.LeaderNo, cr.WinProbability,
						est.likelyAllowed(res.SharesState, res.Parties), conf, res.Inflation, res.SharesState, pass)
					win := -1
					for no := range final.winners[ci] {
						win = cl.candIdx[no]
					}
					bs := est.ballots[1]
					var tot float64
					for sub := range est.lay.nSub {
						tot += float64(est.lay.strata[ci*est.lay.nSub+sub].eligible)
					}
					for sub := range est.lay.nSub {
						h := ci*est.lay.nSub + sub
						st := est.lay.strata[h]
						if st.eligible == 0 {
							continue
						}
						rate := math.NaN()
						if bs.x[h] > 0 {
							rate = float64(bs.y[bs.optOff[h]+lead]-bs.y[bs.optOff[h]+win]) / float64(bs.x[h])
						}
						fmt.Fprintf(&sb, "   stratum urban=%v size=%d: %.0f%% of race, %d/%d stations, %.0f%% reported, lead rate %.3f, final %.3f\n",
							sub >= est.method.SizeClasses, sub%est.method.SizeClasses, 100*float64(st.eligible)/tot, bs.n[h], st.stations,
							100*float64(bs.x[h])/float64(st.eligible), rate, finalLead[h][lead]-finalLead[h][win])
					}
					cands := cr.Candidates
					fmt.Fprintf(&sb, "   projected lead %.0f (counted %d), final lead %.0f\n",
						cands[lead].Projected-cands[win].Projected, cands[lead].Counted-cands[win].Counted, finalTot(finalLead, est.lay, ci, lead)-finalTot(finalLead, est.lay, ci, win))
					t.Log(sb.String())
				}
			}
		}
		for vi, v := range diagVariants {
			tl := tallies[vi]
			var fc, fn []float64
			for k, x := range tl.firstCons {
				fc = append(fc, x)
				fn = append(fn, tl.firstNat[k])
			}
			t.Logf("SUMMARY %s %s base=%s seeds=%d %-24s likely %5d wrong %3d (%.2f per 1000) cons wrong %d, cons ever likely %d, median first likely at %.0f%% of race / %.0f%% of stations",
				gen, scen, base, seeds, v.name, tl.likely, tl.wrong, 1000*ratio(tl.wrong, tl.likely), len(tl.wrongCons), len(tl.firstCons), 100*medianOf(fc), 100*medianOf(fn))
		}
	}
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// finalLeads is, per stratum, each constituency option's final votes per eligible voter of
// the stratum.
func finalLeads(l *layout, r *election.Results) [][]float64 {
	out := make([][]float64, len(l.strata))
	x := make([]float64, len(l.strata))
	for h := range l.strata {
		out[h] = make([]float64, len(l.cons[l.strata[h].cons].candNos))
		x[h] = float64(l.strata[h].eligible)
	}
	for key, tl := range r.Tallies {
		if key.Ballot != election.BallotConstituency {
			continue
		}
		si, ok := l.stationIdx[key.StationID]
		if !ok {
			continue
		}
		st := l.stations[si]
		for no, v := range tl.Votes {
			if j, ok := l.cons[st.cons].candIdx[no]; ok {
				out[st.stratum][j] += float64(v)
			}
		}
	}
	for h := range out {
		for j := range out[h] {
			if x[h] > 0 {
				out[h][j] /= x[h]
			}
		}
	}
	return out
}

func finalTot(fl [][]float64, l *layout, c, j int) float64 {
	var v float64
	for s := range l.nSub {
		h := c*l.nSub + s
		v += fl[h][j] * float64(l.strata[h].eligible)
	}
	return v
}
