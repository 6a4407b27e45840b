package simulate

import (
	"encoding/csv"
	"io/fs"
	"strconv"
	"strings"
	"testing"

	"votestream/election"
)

// readRows reads one CSV of a previous election, without its header.
func readRows(t *testing.T, fsys fs.FS, name string) [][]string {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows[1:]
}

// A previous election correlates with the night (a misleading one less), has the
// renumbered, new and closed stations and the new party it was asked for, and numbers the
// parties differently with their names in parties.csv.
func TestPreviousElection(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Country.Scale = 4, 0.03
	sim, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := sim.Country
	corr := func(pc PreviousConfig) (float64, *Previous, fs.FS) {
		prev, err := sim.PreviousElection(pc)
		if err != nil {
			t.Fatal(err)
		}
		fsys := prev.FS()
		// The strongest party's share per station, tonight against the baseline.
		var best int
		var bestV int
		tot := map[int]int{}
		for i := range c.Stations {
			for no, v := range sim.Truth.Tally(i, election.BallotPartyList).Votes {
				tot[no] += v
			}
		}
		for no, v := range tot {
			if v > bestV {
				best, bestV = no, v
			}
		}
		prevNo := strconv.Itoa(len(c.Parties) - partyIndex(c, best))
		prevShare := map[string][2]float64{}
		for _, r := range readRows(t, fsys, election.FileStationVotes) {
			if r[1] != string(election.BallotPartyList) {
				continue
			}
			v, _ := strconv.ParseFloat(r[3], 64)
			s := prevShare[r[0]]
			s[1] += v
			if r[2] == prevNo {
				s[0] += v
			}
			prevShare[r[0]] = s
		}
		var xs, ys []float64
		for i, st := range c.Stations {
			p, ok := prevShare[st.ID]
			if !ok || p[1] == 0 {
				continue
			}
			tl := sim.Truth.Tally(i, election.BallotPartyList)
			var valid int
			for _, v := range tl.Votes {
				valid += v
			}
			if valid == 0 {
				continue
			}
			xs = append(xs, p[0]/p[1])
			ys = append(ys, float64(tl.Votes[best])/float64(valid))
		}
		return pearson(xs, ys), prev, fsys
	}
	good, prev, fsys := corr(DefaultPreviousConfig())
	bad, _, _ := corr(MisleadingPreviousConfig())
	t.Logf("correlation of the strongest party's station shares: good %.3f, misleading %.3f", good, bad)
	if good < 0.8 || bad > good-0.1 {
		t.Errorf("correlations good %.3f, misleading %.3f: want good >= 0.8 and misleading clearly below", good, bad)
	}
	ids := map[string]bool{}
	for _, r := range readRows(t, fsys, election.FileStationVotes) {
		ids[r[0]] = true
	}
	var own, renamed, closed int
	for _, st := range c.Stations {
		if ids[st.ID] {
			own++
		}
		if ids["prev-"+st.ID] {
			renamed++
		}
	}
	for id := range ids {
		if strings.HasPrefix(id, "closed-") {
			closed++
		}
	}
	n := float64(len(c.Stations))
	if f := float64(renamed) / n; f < 0.01 || f > 0.06 {
		t.Errorf("renumbered %.3f of stations, want about 0.03", f)
	}
	if f := float64(own) / n; f < 0.9 || f > 0.97 {
		t.Errorf("stations with their own baseline %.3f, want about 0.94", f)
	}
	if closed == 0 {
		t.Error("no closed stations")
	}
	parties := readRows(t, fsys, election.FileParties)
	if len(parties) != len(c.Parties)-1 || prev.NewParty == 0 {
		t.Errorf("%d parties in the baseline of %d, new party %d: want one left out", len(parties), len(c.Parties), prev.NewParty)
	}
	for _, r := range parties {
		if r[1] == mustParty(t, c, prev.NewParty).NameTH {
			t.Error("the new party is in the previous election")
		}
	}
}

func partyIndex(c *election.Country, no int) int {
	for i, p := range c.Parties {
		if p.No == no {
			return i
		}
	}
	return -1
}

func mustParty(t *testing.T, c *election.Country, no int) election.Party {
	p, ok := c.Party(no)
	if !ok {
		t.Fatalf("no party %d", no)
	}
	return p
}
