package simulate

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"votestream/election"
)

// Scenario names. Each is a different way a night's early reports differ from its late
// ones; the estimator must stay honest under all of them without being told which it is.
const (
	// ScenarioDefault: small and rural stations count first (a count takes time in
	// proportion to its ballots, urban stations a little slower), a few long delays.
	ScenarioDefault = "default"
	// ScenarioSizeDrift: parties' shares drift with station size inside each
	// constituency, so the big stations that report last vote differently.
	ScenarioSizeDrift = "size-drift"
	// ScenarioNoUrban: the urban/rural split shapes the vote and the report times, but
	// stations.csv says nothing about it.
	ScenarioNoUrban = "no-urban"
	// ScenarioCapitalLast: the capital's stations report one to two and a half hours late,
	// and every province's town constituency (its first) about forty minutes late.
	ScenarioCapitalLast = "capital-last"
	// ScenarioStrongholdSlow: where the second party is strong, stations count slowly.
	ScenarioStrongholdSlow = "stronghold-slow"
	// ScenarioTurnoutDrift: a hidden station factor raises turnout, slows the count and
	// favours the strongest party: late reports turn out more and lean one way.
	ScenarioTurnoutDrift = "turnout-drift"
	// ScenarioClusters: each subdistrict votes as a block and reports all at once, when its
	// last station is done.
	ScenarioClusters = "clusters"
	// ScenarioLateProvinces: a sixth of the provinces report as a block one to three hours
	// late (a slow counting centre, a transmission failure).
	ScenarioLateProvinces = "late-provinces"
	// ScenarioDirichlet: another generator altogether (dirichlet.go): real-looking
	// constituency shares with a few dominant parties and a long tail of tiny ones,
	// Dirichlet-multinomial stations around them, shares that move with station size, no
	// urban flag, no priority sample, and a reporting order by counting centre.
	ScenarioDirichlet = "dirichlet"
	// ScenarioHostile is the night the estimator once failed on: size drift, no urban
	// column and the capital last, together.
	ScenarioHostile = "hostile"
)

// scenario is what a scenario changes: the vote model's extra terms, the report times, what
// the reference data says, or the generator.
type scenario struct {
	doc  string
	vote func(*VoteConfig)
	// noUrban and noPriority blank those columns of stations.csv once the truth is drawn.
	noUrban, noPriority bool
	// times moves report times once the truth is drawn.
	times func(seed uint64, t *Truth)
	// dirichlet replaces the vote model with dirichletTruth.
	dirichlet bool
	// heldOut: added after the estimator was tuned, and never used to tune it.
	heldOut bool
}

var scenarios = map[string]scenario{
	ScenarioDefault:   {doc: "small and rural stations first (the simulator's own pattern)"},
	ScenarioSizeDrift: {doc: "shares drift with station size inside constituencies", vote: func(v *VoteConfig) { v.SizeSlope = 1.2 }},
	ScenarioNoUrban:   {doc: "no urban column in stations.csv", noUrban: true},
	ScenarioCapitalLast: {doc: "the capital and the provinces' towns report last",
		times: capitalLast},
	ScenarioStrongholdSlow: {doc: "the second party's strongholds count slowly", times: strongholdSlow},
	ScenarioTurnoutDrift:   {doc: "turnout and the first party's vote rise with report order", vote: func(v *VoteConfig) { v.TurnoutDrift = 0.4 }, times: turnoutDrift},
	ScenarioClusters: {doc: "subdistricts vote as blocks and report together",
		vote: func(v *VoteConfig) { v.ClusterEffect = 0.35 }, times: clustersTogether},
	ScenarioLateProvinces: {doc: "a sixth of the provinces report as a block, late", times: lateProvinces},
	ScenarioDirichlet:     {doc: "another generator: Dirichlet-multinomial stations, counting-centre order, no urban or priority columns", dirichlet: true, noUrban: true, noPriority: true},
	ScenarioHostile: {doc: "size drift, no urban column and the capital last",
		vote: func(v *VoteConfig) { v.SizeSlope = 1.2 }, noUrban: true, times: capitalLast},
}

// Scenarios lists the scenario names, ScenarioDefault first, then alphabetically.
func Scenarios() []string {
	out := make([]string, 0, len(scenarios))
	for name := range scenarios {
		if name != ScenarioDefault {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return append([]string{ScenarioDefault}, out...)
}

// ScenarioDoc is a one-line description of the named scenario, "" for an unknown name.
func ScenarioDoc(name string) string { return scenarios[name].doc }

// withScenario returns cfg with its scenario's vote-model terms added.
func withScenario(cfg Config) Config {
	if sc := scenarios[cfg.Scenario]; sc.vote != nil {
		sc.vote(&cfg.Vote)
	}
	return cfg
}

// truthFor draws the truth of c under cfg's scenario and rewrites what the reference data
// says (urban, priority), re-indexing c when it changes.
func truthFor(cfg Config, c *election.Country) (*Truth, error) {
	sc := scenarios[cfg.Scenario]
	var t *Truth
	var err error
	if sc.dirichlet {
		t, err = dirichletTruth(cfg.Seed, c, cfg.Vote)
	} else {
		t, err = NewTruth(cfg.Seed, c, cfg.Vote)
	}
	if err != nil {
		return nil, err
	}
	if sc.times != nil {
		sc.times(cfg.Seed, t)
	}
	if sc.noUrban || sc.noPriority {
		for i := range c.Stations {
			if sc.noUrban {
				c.Stations[i].Urban = false
			}
			if sc.noPriority {
				c.Stations[i].Priority = false
			}
		}
		if err := c.Index(); err != nil {
			return nil, fmt.Errorf("simulate: scenario %s: %w", cfg.Scenario, err)
		}
	}
	return t, nil
}

// stationEffects are the vote model's scenario terms for each station: a slope on size
// within the constituency, a subdistrict block, a hidden turnout factor.
type stationEffects struct {
	np        int
	relSize   []float64 // log size less its constituency's mean log size
	slope     []float64 // per party
	clusterOf []int32   // station -> subdistrict cluster
	cluster   []float64 // cluster*np + party
	drift     []float64 // station -> hidden factor times TurnoutDrift
	top       int       // the strongest party
	heldOutEffects
}

// newStationEffects returns nil when cfg adds nothing to the vote model. Its draws come
// from streams of their own, so the default night is not moved by them.
func newStationEffects(seed uint64, t *Truth, m *voteModel, cfg VoteConfig) *stationEffects {
	if cfg.SizeSlope == 0 && cfg.ClusterEffect == 0 && cfg.TurnoutDrift == 0 && cfg.RegionSurge == 0 && cfg.RegionSizeSlope == 0 {
		return nil
	}
	c := t.country
	np := len(c.Parties)
	fx := &stationEffects{np: np, top: m.rank[0]}
	if cfg.SizeSlope > 0 {
		fx.relSize = relativeSizes(t)
		r := newRand(seed, "size-slope")
		fx.slope = make([]float64, np)
		for j, p := range m.rank {
			sd := cfg.SizeSlope
			if j >= m.nBig {
				sd /= 2
			}
			fx.slope[p] = sd * r.NormFloat64()
		}
		// The two strongest parties lean opposite ways, so the drift always matters.
		fx.slope[m.rank[0]] = cfg.SizeSlope
		if np > 1 {
			fx.slope[m.rank[1]] = -cfg.SizeSlope
		}
	}
	if cfg.ClusterEffect > 0 {
		fx.clusterOf, _ = subdistrictClusters(c)
		n := 0
		for _, cl := range fx.clusterOf {
			n = max(n, int(cl)+1)
		}
		fx.cluster = make([]float64, n*np)
		for cl := range n {
			r := newRand(seed, "cluster", uint64(cl))
			for p := range np {
				fx.cluster[cl*np+p] = cfg.ClusterEffect * r.NormFloat64()
			}
		}
	}
	if cfg.TurnoutDrift > 0 {
		fx.drift = make([]float64, len(c.Stations))
		for i := range fx.drift {
			fx.drift[i] = cfg.TurnoutDrift * newRand(seed, "turnout-drift", uint64(i)).NormFloat64()
		}
	}
	fx.heldOut(seed, t, m, cfg) // scenario_heldout.go
	return fx
}

// apply adds station i's terms to the parties' log-strengths and returns its turnout shift
// (logit scale). A nil receiver adds nothing.
func (fx *stationEffects) apply(i int, logW []float64) float64 {
	if fx == nil {
		return 0
	}
	if fx.slope != nil {
		for p := range logW {
			logW[p] += fx.slope[p] * fx.relSize[i]
		}
	}
	if fx.cluster != nil {
		off := int(fx.clusterOf[i]) * fx.np
		for p := range logW {
			logW[p] += fx.cluster[off+p]
		}
	}
	fx.applyHeldOut(i, logW)
	if fx.drift != nil {
		logW[fx.top] += 1.5 * fx.drift[i]
		return fx.drift[i]
	}
	return 0
}

// relativeSizes is each station's log eligible voters less its constituency's mean.
func relativeSizes(t *Truth) []float64 {
	c := t.country
	sum := make([]float64, len(c.Constituencies))
	n := make([]float64, len(c.Constituencies))
	for i, s := range c.Stations {
		k := t.consOf[i]
		sum[k] += math.Log(float64(max(s.EligibleVoters, 1)))
		n[k]++
	}
	out := make([]float64, len(c.Stations))
	for i, s := range c.Stations {
		k := t.consOf[i]
		out[i] = math.Log(float64(max(s.EligibleVoters, 1))) - sum[k]/n[k]
	}
	return out
}

// subdistrictClusters numbers the (constituency, subdistrict) pairs in station order and
// returns each station's number and the stations of each.
func subdistrictClusters(c *election.Country) ([]int32, [][]int) {
	type key struct{ cons, sub string }
	idx := map[key]int32{}
	of := make([]int32, len(c.Stations))
	var members [][]int
	for i, s := range c.Stations {
		k := key{s.ConstituencyID, s.Subdistrict}
		cl, ok := idx[k]
		if !ok {
			cl = int32(len(members))
			idx[k] = cl
			members = append(members, nil)
		}
		of[i] = cl
		members[cl] = append(members[cl], i)
	}
	return of, members
}

// delay moves station i's whole count later by d minutes.
func (t *Truth) delay(i int, d float64) {
	if d <= 0 {
		return
	}
	round := func(x float64) float64 { return math.Round(x*10) / 10 }
	tl := &t.times[i]
	tl.Start = round(tl.Start + d)
	tl.ConstituencyEnd = round(tl.ConstituencyEnd + d)
	tl.ConstituencyFinal = round(tl.ConstituencyFinal + d)
	tl.PartyListStart = round(tl.PartyListStart + d)
	tl.PartyListEnd = round(tl.PartyListEnd + d)
	tl.PartyListFinal = round(tl.PartyListFinal + d)
}

// capitalProvince is the province with most constituencies (the first on a tie).
func capitalProvince(c *election.Country) string {
	capital, _ := capitalSeats(c)
	return capital
}

// capitalSeats is capitalProvince and its number of constituencies.
func capitalSeats(c *election.Country) (string, int) {
	seats := map[string]int{}
	for _, k := range c.Constituencies {
		seats[k.ProvinceID]++
	}
	capital, most := "", 0
	for _, p := range c.Provinces {
		if seats[p.ID] > most {
			capital, most = p.ID, seats[p.ID]
		}
	}
	return capital, most
}

func capitalLast(seed uint64, t *Truth) {
	c := t.country
	capital := capitalProvince(c)
	consDelay := make([]float64, len(c.Constituencies))
	for k, cons := range c.Constituencies {
		r := newRand(seed, "capital-last", uint64(k))
		switch {
		case cons.ProvinceID == capital:
			consDelay[k] = 60 + 90*r.Float64()
		case cons.Number == 1:
			consDelay[k] = 25 + 30*r.Float64()
		}
	}
	for i := range c.Stations {
		t.delay(i, consDelay[t.consOf[i]])
	}
}

// strongholdSlow delays each station by up to two hours the more the second party
// outpolls its national share there.
func strongholdSlow(seed uint64, t *Truth) {
	c := t.country
	np := len(c.Parties)
	totals := make([]float64, np)
	var valid float64
	for i := range c.Stations {
		for p, v := range t.plVotes[i*np : (i+1)*np] {
			totals[p] += float64(v)
			valid += float64(v)
		}
	}
	byVotes := make([]int, np)
	for p := range byVotes {
		byVotes[p] = p
	}
	slices.SortStableFunc(byVotes, func(a, b int) int { return cmp.Compare(totals[b], totals[a]) })
	second := byVotes[min(1, np-1)]
	national := totals[second] / max(valid, 1)
	for i := range c.Stations {
		var v float64
		for _, x := range t.plVotes[i*np : (i+1)*np] {
			v += float64(x)
		}
		if v <= 0 || national <= 0 {
			continue
		}
		share := (float64(t.plVotes[i*np+second]) + 0.5) / v
		r := newRand(seed, "stronghold-slow", uint64(i))
		t.delay(i, 60*min(max(math.Log(share/national), 0), 2)*(0.5+r.Float64()))
	}
}

// turnoutDrift: the hidden factor that raises turnout also slows the count.
func turnoutDrift(seed uint64, t *Truth) {
	for i := range t.country.Stations {
		z := newRand(seed, "turnout-drift", uint64(i)).NormFloat64()
		t.delay(i, 20*max(z+1, 0))
	}
}

// clustersTogether reports every subdistrict's stations together, a few minutes after its
// last one is done.
func clustersTogether(seed uint64, t *Truth) {
	_, members := subdistrictClusters(t.country)
	for cl, ss := range members {
		r := newRand(seed, "clusters-together", uint64(cl))
		last := 0.0
		for _, i := range ss {
			last = max(last, t.times[i].PartyListFinal)
		}
		last += 5 + 15*r.Float64()
		for _, i := range ss {
			t.delay(i, last-t.times[i].PartyListFinal)
		}
	}
}

func lateProvinces(seed uint64, t *Truth) {
	c := t.country
	r := newRand(seed, "late-provinces")
	late := map[string]float64{}
	n := max(1, len(c.Provinces)/6)
	for _, pi := range r.Perm(len(c.Provinces))[:n] {
		late[c.Provinces[pi].ID] = 60 + 120*r.Float64()
	}
	for i, s := range c.Stations {
		k, _ := c.Constituency(s.ConstituencyID)
		t.delay(i, late[k.ProvinceID])
	}
}
