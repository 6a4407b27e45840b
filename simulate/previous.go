package simulate

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing/fstest"

	"votestream/election"
)

// A previous election for the estimator's baseline (`votestream estimate --baseline DIR`),
// correlated with the simulated night as real consecutive elections are: each station's
// party strengths are tonight's less a national, a regional and a constituency swing per
// party and a station's own noise, so the estimator must find the swing, not copy the
// baseline. As real baselines are, it is imperfect: some stations were renumbered (their
// ids match nothing tonight), some are new (no baseline), some closed (ids only in the
// baseline), one party is new (absent from the previous election), and the previous
// election numbered the parties differently (parties.csv says which is which by name).

// PreviousConfig says how a previous election differs from the night.
type PreviousConfig struct {
	// National, Regional, Constituency and Station are standard deviations of the log
	// strength of a party: its swing nationally, per region, per constituency, and a
	// station's own noise. Defaults 0.15, 0.1, 0.1, 0.1: a good baseline.
	National, Regional, Constituency, Station float64
	// Renumbered, New and Closed are fractions of tonight's stations whose baseline id
	// matches nothing, that have no baseline, and extra baseline ids of stations gone.
	// Defaults 0.03, 0.03, 0.01.
	Renumbered, New, Closed float64
	// NewParty leaves the third strongest party of tonight out of the baseline. Default true.
	NewParty bool
	// PerConstituency writes the baseline per constituency (station_id = constituency id)
	// rather than per station. Default false.
	PerConstituency bool
}

// DefaultPreviousConfig is a good, imperfect baseline.
func DefaultPreviousConfig() PreviousConfig {
	return PreviousConfig{National: 0.15, Regional: 0.1, Constituency: 0.1, Station: 0.1,
		Renumbered: 0.03, New: 0.03, Closed: 0.01, NewParty: true}
}

// MisleadingPreviousConfig is a baseline that correlates weakly with tonight: large
// regional, constituency and station swings.
func MisleadingPreviousConfig() PreviousConfig {
	c := DefaultPreviousConfig()
	c.National, c.Regional, c.Constituency, c.Station = 0.3, 0.5, 0.6, 0.8
	return c
}

// PreviousKinds are the names --previous-election accepts.
var PreviousKinds = map[string]func() PreviousConfig{
	"good":         DefaultPreviousConfig,
	"misleading":   MisleadingPreviousConfig,
	"constituency": func() PreviousConfig { c := DefaultPreviousConfig(); c.PerConstituency = true; return c },
	"good-no-changes": func() PreviousConfig {
		c := DefaultPreviousConfig()
		c.Renumbered, c.New, c.Closed, c.NewParty = 0, 0, 0, false
		return c
	},
}

// Previous is a previous election in the results-set CSV format: station_votes.csv,
// station_totals.csv, parties.csv and candidates.csv.
type Previous struct {
	files map[string][][]string // file -> rows, the header first
	// NewParty is tonight's party number left out of the baseline (0 for none).
	NewParty int
}

// FS is the previous election as an in-memory folder (for the estimator's LoadBaseline).
func (p *Previous) FS() fs.FS {
	m := fstest.MapFS{}
	for name, rows := range p.files {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.WriteAll(rows) // a bytes.Buffer does not fail
		m[name] = &fstest.MapFile{Data: b.Bytes(), Mode: 0o644}
	}
	return m
}

// Write writes the previous election's files into dir.
func (p *Previous) Write(dir string) error {
	names := make([]string, 0, len(p.files))
	for n := range p.files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		rows := p.files[n]
		if err := writeCSV(dir, n, rows[0], func(row func(...string)) {
			for _, r := range rows[1:] {
				row(r...)
			}
		}); err != nil {
			return err
		}
	}
	return nil
}

// PreviousElection draws a previous election for s (same seed, same draws every time).
func (s *Simulation) PreviousElection(cfg PreviousConfig) (*Previous, error) {
	for _, v := range []float64{cfg.National, cfg.Regional, cfg.Constituency, cfg.Station, cfg.Renumbered, cfg.New, cfg.Closed} {
		if v < 0 || math.IsNaN(v) || v > 5 {
			return nil, fmt.Errorf("simulate: previous election: setting %v out of range", v)
		}
	}
	c, t := s.Country, s.Truth
	seed := s.Config.Seed
	np := len(c.Parties)
	pIdx := map[int]int{}
	for i, p := range c.Parties {
		pIdx[p.No] = i
	}
	// Tonight's national totals pick the new party.
	nat := make([]float64, np)
	for i := range c.Stations {
		for no, v := range t.Tally(i, election.BallotPartyList).Votes {
			nat[pIdx[no]] += float64(v)
		}
	}
	newParty := -1
	if cfg.NewParty && np >= 3 {
		order := make([]int, np)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmpF(nat[b], nat[a]) })
		newParty = order[2]
	}
	// The previous election numbered the parties in reverse.
	prevNo := func(p int) int { return np - p }

	r := newRand(seed, "previous")
	natSw := make([]float64, np)
	for p := range natSw {
		natSw[p] = cfg.National * r.NormFloat64()
	}
	regionSw := map[string][]float64{}
	provRegion := map[string]string{}
	for _, pr := range c.Provinces {
		provRegion[pr.ID] = pr.Region
		if regionSw[pr.Region] == nil {
			v := make([]float64, np)
			for p := range v {
				v[p] = cfg.Regional * r.NormFloat64()
			}
			regionSw[pr.Region] = v
		}
	}
	consSw := map[string][]float64{}
	consRegion := map[string]string{}
	for _, k := range c.Constituencies {
		v := make([]float64, np)
		for p := range v {
			v[p] = cfg.Constituency * r.NormFloat64()
		}
		consSw[k.ID] = v
		consRegion[k.ID] = provRegion[k.ProvinceID]
	}
	swing := func(p int, consID string) float64 {
		return natSw[p] + regionSw[consRegion[consID]][p] + consSw[consID][p]
	}

	type row struct {
		id    string
		cons  string
		pl    []int32 // per party index
		cb    map[int]int32
		valid int32
	}
	var rows []row
	src := rand.NewPCG(0, 0)
	sr := rand.New(src)
	w := make([]float64, np)
	for i, st := range c.Stations {
		reseed(src, seed, "previous-station", uint64(i))
		u := sr.Float64()
		if u < cfg.New {
			continue
		}
		id := st.ID
		if u < cfg.New+cfg.Renumbered {
			id = "prev-" + st.ID
		}
		pl := t.Tally(i, election.BallotPartyList)
		valid := 0
		for p := range w {
			v := float64(pl.Votes[c.Parties[p].No])
			w[p] = math.Exp(math.Log(v+0.5) - swing(p, st.ConstituencyID) + cfg.Station*sr.NormFloat64())
			valid += int(v)
		}
		if newParty >= 0 {
			w[newParty] = 0
		}
		valid = max(int(float64(valid)*math.Exp(0.08*sr.NormFloat64())), 0)
		out := row{id: id, cons: st.ConstituencyID, pl: make([]int32, np), cb: map[int]int32{}}
		multinomial(sr, valid, w, out.pl)
		out.valid = int32(valid)
		cbT := t.Tally(i, election.BallotConstituency)
		cands := c.CandidatesIn(st.ConstituencyID)
		cw := make([]float64, len(cands))
		for j, d := range cands {
			v := float64(cbT.Votes[d.No])
			lw := math.Log(v+0.5) + cfg.Station*sr.NormFloat64()
			if p, ok := pIdx[d.PartyNo]; ok {
				lw -= swing(p, st.ConstituencyID)
				if p == newParty {
					lw = math.Inf(-1)
				}
			}
			cw[j] = math.Exp(lw)
		}
		cv := make([]int32, len(cands))
		multinomial(sr, valid, cw, cv)
		for j, d := range cands {
			out.cb[d.No] = cv[j]
		}
		rows = append(rows, out)
	}
	// Stations gone since: a copy of a station's figures under an id unknown tonight.
	nClosed := int(cfg.Closed * float64(len(c.Stations)))
	for k := 0; k < nClosed && len(rows) > 0; k++ {
		o := rows[r.IntN(len(rows))]
		o.id = fmt.Sprintf("closed-%d", k)
		rows = append(rows, o)
	}
	if cfg.PerConstituency {
		byCons := map[string]*row{}
		var order []string
		for _, o := range rows {
			if len(o.id) > 5 && (o.id[:5] == "prev-" || o.id[:5] == "close") {
				continue
			}
			a := byCons[o.cons]
			if a == nil {
				a = &row{id: o.cons, cons: o.cons, pl: make([]int32, np), cb: map[int]int32{}}
				byCons[o.cons] = a
				order = append(order, o.cons)
			}
			for p, v := range o.pl {
				a.pl[p] += v
			}
			for no, v := range o.cb {
				a.cb[no] += v
			}
			a.valid += o.valid
		}
		rows = rows[:0]
		for _, id := range order {
			rows = append(rows, *byCons[id])
		}
	}

	itoa := strconv.Itoa
	votes := [][]string{{"station_id", "ballot", "number", "votes"}}
	totals := [][]string{{"station_id", "ballot", "ballots_cast", "invalid", "no_vote"}}
	for _, o := range rows {
		for _, b := range []election.Ballot{election.BallotConstituency, election.BallotPartyList} {
			totals = append(totals, []string{o.id, string(b), itoa(int(o.valid)), "0", "0"})
		}
		nos := make([]int, 0, len(o.cb))
		for no := range o.cb {
			nos = append(nos, no)
		}
		slices.Sort(nos)
		for _, no := range nos {
			if v := o.cb[no]; v > 0 {
				votes = append(votes, []string{o.id, string(election.BallotConstituency), itoa(no), itoa(int(v))})
			}
		}
		for p, v := range o.pl {
			if v > 0 {
				votes = append(votes, []string{o.id, string(election.BallotPartyList), itoa(prevNo(p)), itoa(int(v))})
			}
		}
	}
	parties := [][]string{{"party_no", "name_th", "name_en"}}
	for p, pa := range c.Parties {
		if p != newParty {
			parties = append(parties, []string{itoa(prevNo(p)), pa.NameTH, pa.NameEN})
		}
	}
	cands := [][]string{{"constituency_id", "candidate_no", "name", "party_no"}}
	for _, d := range c.Candidates {
		party := ""
		if p, ok := pIdx[d.PartyNo]; ok {
			if p == newParty {
				continue
			}
			party = itoa(prevNo(p))
		}
		cands = append(cands, []string{d.ConstituencyID, itoa(d.No), d.Name, party})
	}
	prev := &Previous{files: map[string][][]string{
		election.FileStationVotes: votes, election.FileStationTotals: totals,
		election.FileParties: parties, election.FileCandidates: cands,
	}}
	if newParty >= 0 {
		prev.NewParty = c.Parties[newParty].No
	}
	return prev, nil
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
