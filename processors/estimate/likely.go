package estimate

import "math"

// Likely calls that rest on coverage. A win probability is only as good as the model's
// claim that the stations still out vote like the reported ones of their stratum; when the
// reporting order follows something the reference data does not show (how urban a place
// really is, a party's strongholds), the reported stations of a race are not a sample of
// its outstanding ones, and no variance term measured on them can say so: at the steps of
// the wrong calls measured (docs/estimation.md, "Likely calls that rest on coverage") the
// conformal factor was 1 and the national width rule let them through. So a race is
// called likely only when, besides its win probability, what has been seen of it covers
// what is still out: every kind of station that holds a real part of the race (each
// stratum, urban label x size class, with at least likelyStratumShare of its eligible
// voters) has at least Method.LikelyCoverage of its eligible voters reported on the
// constituency ballot. A kind of station the race has not shown is projected from other
// races' stations of that kind, which is where a hidden factor hides. And the places of the
// race never seen (subdistricts with no report: a hidden district that reports in one
// dump) must not be able to overturn the lead: were their voters to vote
// Method.LikelyPlacesSwing votes per eligible voter further against the leader than the
// race's reported lead, the leader must still be ahead (placesCovered).
//
// Softer rules were tried and are kept as settings, off by default: a margin instead of
// the strata veto (Method.LikelyUnseenSwing: the lead must survive the unseen strata voting
// that much further against the leader), the worst seen stratum (Method.LikelyWorstStratum:
// the lead must survive every outstanding voter voting like the race's reported stratum
// least favourable to the leader), and a threshold on seen places (Method.LikelyPlaces).
// The first two did not catch the wrong calls of the realnight nights: there the reported
// stations of a race favoured its leader in every stratum, by up to half a vote per eligible
// voter more than the stations still out; the third costs far more than the margin.
//
// None of the rules changes the leader or its win probability; they only keep a race at
// leading. `called` does not use them: it rests on arithmetic alone.

const (
	// likelyStratumShare: a stratum holding less than this share of the race's eligible
	// voters need not have been seen: even voting half a vote per eligible voter against
	// the leader (the largest gap measured) it moves the lead by 2.5 points of the race.
	likelyStratumShare = 0.05
	// likelyWorstMinStations: a stratum enters the worst-stratum rule once this many of
	// its stations have reported; one station is too noisy a rate to bound a race with.
	likelyWorstMinStations = 2
)

// likelyCovered says whether constituency c's constituency-ballot reports cover the race
// well enough for a likely call of option lead over every other option: the rules in the
// comment above. A stratum is covered once Method.LikelyCoverage of its eligible voters
// have reported. With Method.LikelyUnseenSwing 0 a race with an uncovered stratum of at
// least likelyStratumShare of its voters is not likely; above 0, the outstanding voters of
// uncovered strata are taken to vote that much (votes per eligible voter) further against
// the leader than the base rate, and the leader must still be ahead. The base rate is the
// race's reported stratum least favourable to the leader (Method.LikelyWorstStratum), else
// the race's reported lead per eligible voter.
func (e *Estimator) likelyCovered(c, lead int, seenPlaces []int64) bool {
	l, bs, m := e.lay, e.ballots[1], e.method
	if seenPlaces != nil && !e.placesCovered(c, lead, seenPlaces[c]) {
		return false
	}
	if m.LikelyCoverage == 0 && !m.LikelyWorstStratum {
		return true
	}
	nk := len(l.cons[c].candNos)
	var total, reported int64
	for s := range l.nSub {
		h := c*l.nSub + s
		total += l.strata[h].eligible
		reported += bs.x[h]
	}
	if total == 0 || reported == 0 {
		return false
	}
	covered := func(h int) bool {
		return float64(bs.x[h]) >= m.LikelyCoverage*float64(l.strata[h].eligible)
	}
	if m.LikelyCoverage > 0 && m.LikelyUnseenSwing == 0 {
		for s := range l.nSub {
			h := c*l.nSub + s
			if float64(l.strata[h].eligible) >= likelyStratumShare*float64(total) && !covered(h) {
				return false
			}
		}
	}
	if m.LikelyUnseenSwing == 0 && !m.LikelyWorstStratum {
		return true
	}
	// The published roll may be larger than the stations listed: those voters are out, and
	// unseen.
	extra := float64(max(l.cons[c].eligible-total, 0))
	for j := range nk {
		if j == lead {
			continue
		}
		var counted int64
		worst := math.Inf(1)
		for s := range l.nSub {
			h := c*l.nSub + s
			d := bs.y[bs.optOff[h]+lead] - bs.y[bs.optOff[h]+j]
			counted += d
			if bs.n[h] >= likelyWorstMinStations && bs.x[h] > 0 {
				worst = min(worst, float64(d)/float64(bs.x[h]))
			}
		}
		base := float64(counted) / float64(reported)
		if m.LikelyWorstStratum {
			if math.IsInf(worst, 1) {
				return false
			}
			base = worst
		}
		bound := float64(counted) + extra*(base-m.LikelyUnseenSwing)
		for s := range l.nSub {
			h := c*l.nSub + s
			out := float64(l.strata[h].eligible - bs.x[h])
			if m.LikelyUnseenSwing > 0 && !covered(h) {
				bound += out * (base - m.LikelyUnseenSwing)
			} else {
				bound += out * base
			}
		}
		if bound <= 0 {
			return false
		}
	}
	return true
}

// seenBlocks is, per constituency (nil when Method.LikelyPlaces and LikelyPlacesSwing are both 0), the eligible voters of its subdistricts with at least one
// constituency-ballot report: the part of the race whose places have been seen at all.
func (e *Estimator) seenBlocks() []int64 {
	l, bs := e.lay, e.ballots[1]
	if e.method.LikelyPlaces == 0 && e.method.LikelyPlacesSwing == 0 {
		return nil
	}
	seen := make([]bool, len(l.blockCons))
	for si := range l.stations {
		if bs.votes[si] != nil {
			seen[l.stations[si].block] = true
		}
	}
	out := make([]int64, len(l.cons))
	for b, ok := range seen {
		if ok {
			out[l.blockCons[b]] += l.blockEligible[b]
		}
	}
	return out
}

// placesCovered is the rule on places for option lead of constituency c, seen the eligible voters of its
// subdistricts with a report: with Method.LikelyPlacesSwing 0, seen must hold
// Method.LikelyPlaces of the race's voters; above 0, the leader must stay ahead of every
// rival were the voters of the unseen subdistricts to vote that much (votes per eligible
// voter) further against the leader than the race's reported lead, and the voters still out
// in the seen subdistricts like the reported lead.
func (e *Estimator) placesCovered(c, lead int, seen int64) bool {
	l, bs, m := e.lay, e.ballots[1], e.method
	el := float64(l.cons[c].eligible)
	if m.LikelyPlacesSwing == 0 {
		return float64(seen) >= m.LikelyPlaces*el
	}
	var reported int64
	for s := range l.nSub {
		reported += bs.x[c*l.nSub+s]
	}
	if reported == 0 {
		return false
	}
	unseen := el - float64(seen)
	seenOut := float64(seen - reported)
	for j := range len(l.cons[c].candNos) {
		if j == lead {
			continue
		}
		var counted int64
		for s := range l.nSub {
			h := c*l.nSub + s
			counted += bs.y[bs.optOff[h]+lead] - bs.y[bs.optOff[h]+j]
		}
		rate := float64(counted) / float64(reported)
		if float64(counted)+seenOut*rate+unseen*(rate-m.LikelyPlacesSwing) <= 0 {
			return false
		}
	}
	return true
}
