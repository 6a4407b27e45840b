package realnight

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing/fstest"

	"votestream/election"
)

// Previous is a previous election in the results-set CSV format the estimator's
// `--baseline` reads: station_votes.csv, station_totals.csv, parties.csv, candidates.csv.
type Previous struct {
	files map[string][][]string
	// NewParty is tonight's party number that did not stand last time.
	NewParty int
}

// Previous draws the previous election from the night's hidden structure (not from
// tonight's counts): every party's strength moves by a national and a regional swing, and
// fresh noise is drawn per constituency, subdistrict and station; candidates and their
// quality are drawn anew. 4 % of stations had another id, 3 % are new tonight, 1 % of the
// previous ids are stations closed since; the third party is new tonight; the parties were
// numbered differently (parties.csv says which by name).
func (n *Night) Previous() *Previous {
	c := n.Country
	seed := n.Config.Seed
	np := n.np
	r := rng(seed, "previous")
	swing := make([]float64, (n.nRegions+1)*np)
	for p := range np {
		nat := 0.2 * r.NormFloat64()
		for reg := range n.nRegions {
			swing[reg*np+p] = nat + 0.2*r.NormFloat64()
		}
	}
	consSw := make([]float64, len(c.Constituencies)*np)
	for i := range consSw {
		consSw[i] = 0.15 * r.NormFloat64()
	}
	newParty := n.rank[2]
	prevNo := make([]int, np) // previous party numbers: a shuffle
	for p, j := range r.Perm(np) {
		prevNo[p] = j + 1
	}
	itoa := strconv.Itoa
	votes := [][]string{{"station_id", "ballot", "number", "votes"}}
	totals := [][]string{{"station_id", "ballot", "ballots_cast", "invalid", "no_vote"}}
	cands := [][]string{{"constituency_id", "candidate_no", "name", "party_no"}}
	// Previous candidates per constituency: the same parties (not the new one), renumbered,
	// with fresh quality.
	type cand struct {
		no, party int
		q         float64
	}
	prevCands := make([][]cand, len(c.Constituencies))
	for k, cons := range c.Constituencies {
		cr := rng(seed, "previous-candidates", uint64(k))
		var ps []int
		for _, p := range n.candParty[k] {
			if p != newParty {
				ps = append(ps, p)
			}
		}
		for j, no := range cr.Perm(len(ps)) {
			q := 0.5 * cr.NormFloat64()
			if ps[j] < 0 {
				q = math.Log(0.08) + 1.2*cr.NormFloat64()
			}
			prevCands[k] = append(prevCands[k], cand{no + 1, ps[j], q})
			party := ""
			if ps[j] >= 0 {
				party = itoa(prevNo[ps[j]])
			}
			cands = append(cands, []string{cons.ID, itoa(no + 1), fmt.Sprintf("ผู้สมัครเดิม %s-%d", cons.ID, no+1), party})
		}
	}
	w := make([]float64, np)
	var closedPool []int
	for i, s := range c.Stations {
		sr := rng(seed, "previous-station", uint64(i))
		u := sr.Float64()
		if u < 0.03 {
			continue // new tonight
		}
		id := s.ID
		if u < 0.07 {
			id = "old-" + s.ID
		}
		k := n.consOf[i]
		reg := n.region[k]
		maxL := math.Inf(-1)
		lw := make([]float64, np)
		for p := range np {
			lw[p] = n.lat[i*np+p] - swing[reg*np+p] - consSw[k*np+p] + 0.15*studentT(sr)
			maxL = max(maxL, lw[p])
		}
		for p := range np {
			w[p] = math.Exp(lw[p] - maxL)
		}
		w[newParty] = 0
		eligible := float64(s.EligibleVoters) * math.Exp(0.05*sr.NormFloat64())
		cast := binomial(sr, int(eligible), 0.7+0.05*sr.NormFloat64())
		for p, v := range multinomial(sr, cast, w) {
			if v > 0 {
				votes = append(votes, []string{id, string(election.BallotPartyList), itoa(prevNo[p]), itoa(v)})
			}
		}
		pc := prevCands[k]
		cw := make([]float64, len(pc))
		for j, d := range pc {
			l := d.q + 0.1*studentT(sr)
			if d.party >= 0 {
				l += lw[d.party] - maxL
			} else {
				l += math.Log(0.1)
			}
			cw[j] = math.Exp(l)
		}
		for j, v := range multinomial(sr, cast, cw) {
			if v > 0 {
				votes = append(votes, []string{id, string(election.BallotConstituency), itoa(pc[j].no), itoa(v)})
			}
		}
		for _, b := range election.Ballots {
			totals = append(totals, []string{id, string(b), itoa(cast), "0", "0"})
		}
		if sr.Float64() < 0.01 {
			closedPool = append(closedPool, len(votes))
		}
	}
	// Stations closed since: a few extra ids, each with a copy of one row of a station.
	for j, at := range closedPool {
		row := slices.Clone(votes[at-1])
		row[0] = fmt.Sprintf("closed-%d", j)
		votes = append(votes, row)
	}
	parties := [][]string{{"party_no", "name_th", "name_en"}}
	for p, pa := range c.Parties {
		if p != newParty {
			parties = append(parties, []string{itoa(prevNo[p]), pa.NameTH, pa.NameEN})
		}
	}
	return &Previous{NewParty: c.Parties[newParty].No, files: map[string][][]string{
		election.FileStationVotes: votes, election.FileStationTotals: totals,
		election.FileParties: parties, election.FileCandidates: cands,
	}}
}

// FS is the previous election as an in-memory folder (for estimate.LoadBaseline).
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

// Write writes the previous election's files into dir (created if needed).
func (p *Previous) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("realnight: previous election: %w", err)
	}
	for name, data := range p.FS().(fstest.MapFS) {
		if err := os.WriteFile(filepath.Join(dir, name), data.Data, 0o644); err != nil {
			return fmt.Errorf("realnight: previous election: %w", err)
		}
	}
	return nil
}
