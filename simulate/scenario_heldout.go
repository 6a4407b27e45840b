package simulate

import (
	"math"
	"slices"
)

// Held-out scenarios: nights added after the estimator's settings were chosen, and never
// used to choose them. docs/estimation.md reports them apart from the tuned ones, so the
// figures say how the estimator does on a night nobody designed it for.
const (
	// ScenarioRegionSurge: a mid-size party surges in one region, which reports late.
	ScenarioRegionSurge = "region-surge"
	// ScenarioRuralFirst: every rural station reports before any urban one.
	ScenarioRuralFirst = "rural-first"
	// ScenarioRegionDrift: shares drift with station size inside constituencies, the
	// other way from one region to the next, so the drift nearly cancels nationally.
	ScenarioRegionDrift = "region-drift"
	// ScenarioBigFirst: the largest stations report first (more staff, an electronic
	// tally), the reverse of the usual order.
	ScenarioBigFirst = "big-first"
)

func init() {
	scenarios[ScenarioRegionSurge] = scenario{doc: "held out: a mid-size party surges in one region, which reports late",
		vote: func(v *VoteConfig) { v.RegionSurge = 0.8 }, times: regionSurgeLate, heldOut: true}
	scenarios[ScenarioRuralFirst] = scenario{doc: "held out: every rural station reports before any urban one",
		times: ruralFirst, heldOut: true}
	scenarios[ScenarioRegionDrift] = scenario{doc: "held out: shares drift with station size, the other way in every other region",
		vote: func(v *VoteConfig) { v.RegionSizeSlope = 1.0 }, heldOut: true}
	scenarios[ScenarioBigFirst] = scenario{doc: "held out: the largest stations report first",
		times: bigFirst, heldOut: true}
}

// HeldOut reports whether the named scenario was kept out of the estimator's tuning.
func HeldOut(name string) bool { return scenarios[name].heldOut }

// heldOutEffects are the held-out scenarios' terms of the vote model.
type heldOutEffects struct {
	regionOf    []int     // station -> region index (sorted region names)
	surgeRegion int       // the region where surgeParty surges
	surgeParty  int       // party index, -1 for none
	surge       float64   // its log-strength gain there
	regionSlope []float64 // region*np + party: slope on relative size
}

// surgeRegionOf is the region the seed picks for a surge, by index into the sorted region
// names of t's country.
func surgeRegionOf(seed uint64, nRegions int) int {
	return newRand(seed, "region-surge").IntN(max(nRegions, 1))
}

// stationRegions numbers the regions (sorted names) and returns each station's.
func stationRegions(t *Truth) (of []int, n int) {
	c := t.country
	provRegion := map[string]string{}
	var names []string
	for _, p := range c.Provinces {
		provRegion[p.ID] = p.Region
		if !slices.Contains(names, p.Region) {
			names = append(names, p.Region)
		}
	}
	slices.Sort(names)
	consRegion := make([]int, len(c.Constituencies))
	for k, cons := range c.Constituencies {
		consRegion[k] = slices.Index(names, provRegion[cons.ProvinceID])
	}
	of = make([]int, len(c.Stations))
	for i := range c.Stations {
		of[i] = max(consRegion[t.consOf[i]], 0)
	}
	return of, len(names)
}

func (fx *stationEffects) heldOut(seed uint64, t *Truth, m *voteModel, cfg VoteConfig) {
	fx.surgeParty = -1
	if cfg.RegionSurge == 0 && cfg.RegionSizeSlope == 0 {
		return
	}
	var nr int
	fx.regionOf, nr = stationRegions(t)
	np := fx.np
	if cfg.RegionSurge > 0 && len(m.rank) > 3 {
		fx.surgeParty, fx.surgeRegion, fx.surge = m.rank[3], surgeRegionOf(seed, nr), cfg.RegionSurge
	}
	if cfg.RegionSizeSlope > 0 {
		if fx.relSize == nil {
			fx.relSize = relativeSizes(t)
		}
		fx.regionSlope = make([]float64, nr*np)
		for reg := range nr {
			r := newRand(seed, "region-size-slope", uint64(reg))
			sign := 1.0
			if reg%2 == 1 {
				sign = -1
			}
			for j, p := range m.rank {
				sd := cfg.RegionSizeSlope
				if j >= m.nBig {
					sd /= 2
				}
				fx.regionSlope[reg*np+p] = sd * r.NormFloat64()
			}
			fx.regionSlope[reg*np+m.rank[0]] = sign * cfg.RegionSizeSlope
			if np > 1 {
				fx.regionSlope[reg*np+m.rank[1]] = -sign * cfg.RegionSizeSlope
			}
		}
	}
}

func (fx *stationEffects) applyHeldOut(i int, logW []float64) {
	if fx.regionOf == nil {
		return
	}
	reg := fx.regionOf[i]
	if fx.surgeParty >= 0 && reg == fx.surgeRegion {
		logW[fx.surgeParty] += fx.surge
	}
	if fx.regionSlope != nil {
		for p := range logW {
			logW[p] += fx.regionSlope[reg*fx.np+p] * fx.relSize[i]
		}
	}
}

// regionSurgeLate delays the surge region's provinces by 30 to 90 minutes each.
func regionSurgeLate(seed uint64, t *Truth) {
	of, nr := stationRegions(t)
	surge := surgeRegionOf(seed, nr)
	c := t.country
	delay := map[string]float64{}
	for i := range c.Stations {
		if of[i] != surge {
			continue
		}
		k := c.Constituencies[t.consOf[i]].ProvinceID
		d, ok := delay[k]
		if !ok {
			d = 30 + 60*newRand(seed, "region-surge-late", uint64(len(delay))).Float64()
			delay[k] = d
		}
		t.delay(i, d)
	}
}

// ruralFirst moves every urban station after the 95th percentile of the rural stations'
// report times (the rural long tail of delays still overlaps).
func ruralFirst(seed uint64, t *Truth) {
	c := t.country
	var rural []float64
	minUrban := math.Inf(1)
	for i, s := range c.Stations {
		if s.Urban {
			minUrban = min(minUrban, t.times[i].PartyListFinal)
		} else {
			rural = append(rural, t.times[i].PartyListFinal)
		}
	}
	if len(rural) == 0 || math.IsInf(minUrban, 1) {
		return
	}
	slices.Sort(rural)
	d := rural[len(rural)*95/100] - minUrban + 5
	for i, s := range c.Stations {
		if s.Urban {
			t.delay(i, d+10*newRand(seed, "rural-first", uint64(i)).Float64())
		}
	}
}

// bigFirst delays every station by up to six and a half hours the smaller it is against
// the country's largest (log scale), so the big ones come in first.
func bigFirst(seed uint64, t *Truth) {
	c := t.country
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Stations {
		x := math.Log(float64(max(s.EligibleVoters, 1)))
		lo, hi = min(lo, x), max(hi, x)
	}
	if hi <= lo {
		return
	}
	for i, s := range c.Stations {
		x := math.Log(float64(max(s.EligibleVoters, 1)))
		r := newRand(seed, "big-first", uint64(i))
		t.delay(i, 400*(hi-x)/(hi-lo)+10*r.Float64())
	}
}
