package consolidate

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"votestream/schemas"
)

// blockNight: OrgA and OrgB report the true constituency counts of S01..S14 (candidate 1
// 250+d, candidate 2 150-d, candidate 3 85, d from -20 to 19 across stations); OrgR reports
// S01..S04 with 20 % of candidates 1's and 3's votes moved to candidate 2 (a shift of about
// 9 points of candidate 2's share, well inside the spread of a single station: candidate 2
// runs from 26 % to 35 % across stations).
func blockNight(t *testing.T, rules *Rules) []Input {
	t.Helper()
	var ins, rogue []Input
	for i := 1; i <= 14; i++ {
		s := fmt.Sprintf("S%02d", i)
		d := 3*i - 22
		v1, v2, v3 := 250+d, 150-d, 85
		for j, org := range []string{"OrgA", "OrgB"} {
			ins = append(ins, report(fmt.Sprintf("%s-%s", org, s), s, c, final, "v"+org+s, org, 30+i+j).
				figs(500, 10, 5, 1, v1, 2, v2, 3, v3).in(t, rules.Country))
		}
		if i <= 4 {
			m1, m3 := v1/5, v3/5
			rogue = append(rogue, report("OrgR-"+s, s, c, final, "vOrgR"+s, "OrgR", 50+i).
				figs(500, 10, 5, 1, v1-m1, 2, v2+m1+m3, 3, v3-m3).in(t, rules.Country))
		}
	}
	return append(ins, rogue...)
}

func flaggedBlocks(l *Ledger) []string {
	var out []string
	l.Stations(func(_ int32, st *Station) {
		if res, ok := st.Result("constituency"); ok && slices.Contains(res.Anomalies, schemas.AnomalyBlockShift) {
			out = append(out, st.ID)
		}
	})
	return out
}

func TestBlockShift(t *testing.T) {
	rules := testRules(t)
	l, out := run(t, rules, blockNight(t, rules)...)
	as := anomaliesOf(out, schemas.AnomalyBlockShift)
	var stations []string
	for _, a := range as {
		stations = append(stations, a.StationID)
		// Raised at OrgR's third final (BlockMinStations), S04's at the fourth.
		if a.Evidence["org"] != "OrgR" || a.Evidence["number"] != "2" || a.Evidence["rest_reports"] != "28" ||
			(a.Evidence["stations"] != "3" && a.Evidence["stations"] != "4") {
			t.Errorf("%s: evidence %v, want OrgR's finals shifting number 2 against the 28 others", a.StationID, a.Evidence)
		}
		if !slices.Equal(a.Submissions, []string{"OrgR-" + a.StationID}) {
			t.Errorf("%s: names %v, want OrgR's final", a.StationID, a.Submissions)
		}
	}
	if want := []string{"S01", "S02", "S03", "S04"}; !slices.Equal(sortedCopy(stations), want) {
		t.Fatalf("BLOCK_SHIFT raised on %v, want %v once each", stations, want)
	}
	if got := flaggedBlocks(l); !slices.Equal(got, []string{"S01", "S02", "S03", "S04"}) {
		t.Errorf("results carrying BLOCK_SHIFT: %v", got)
	}
	// The same shift at a single station is inside the spread: nothing is raised.
	rules1 := testRules(t)
	rules1.BlockMinStations = 2
	ins := blockNight(t, rules1)
	ins = slices.DeleteFunc(ins, func(in Input) bool {
		return in.Report.Org == "OrgR" && in.Report.StationID != "S01"
	})
	if _, out := run(t, rules1, ins...); len(anomaliesOf(out, schemas.AnomalyBlockShift)) != 0 {
		t.Errorf("one shifted station raised BLOCK_SHIFT")
	}
}

// A correction by the organisation (honest finals received later) clears the flags.
func TestBlockShiftClears(t *testing.T) {
	rules := testRules(t)
	ins := blockNight(t, rules)
	for i := 1; i <= 4; i++ {
		s := fmt.Sprintf("S%02d", i)
		d := 3*i - 22
		ins = append(ins, report("OrgR-fix-"+s, s, c, final, "vOrgR"+s, "OrgR", 90+i).
			figs(500, 10, 5, 1, 250+d, 2, 150-d, 3, 85).in(t, rules.Country))
	}
	l, _ := run(t, rules, ins...)
	if got := flaggedBlocks(l); len(got) != 0 {
		t.Errorf("after OrgR's corrections, BLOCK_SHIFT still on %v", got)
	}
}

// The verdict is a function of the finals, not of their order; a rolled-back final leaves
// the sums exactly as they were.
func TestBlockShiftOrderAndRollback(t *testing.T) {
	rules := testRules(t)
	ins := blockNight(t, rules)
	l0, _ := run(t, rules, ins...)
	want := flaggedBlocks(l0)
	for seed := range uint64(5) {
		shuffled := slices.Clone(ins)
		rand.New(rand.NewPCG(seed, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if l, _ := run(t, rules, shuffled...); !slices.Equal(flaggedBlocks(l), want) {
			t.Errorf("order %d: flagged %v, want %v", seed, flaggedBlocks(l), want)
		}
	}

	l := NewLedger(rules)
	l.AddPartition(0)
	for _, in := range ins[:len(ins)-1] {
		l.Apply(0, in)
		l.Commit()
	}
	snap := func() map[blockCons]blockConsState {
		m := map[blockCons]blockConsState{}
		for k, v := range l.blockCons {
			m[k] = blockConsState{blockSums: blockSums{n: v.n, sum: slices.Clone(v.sum), sq: slices.Clone(v.sq)}, nos: slices.Clone(v.nos), groups: slices.Clone(v.groups)}
		}
		return m
	}
	before, flagsBefore := snap(), flaggedBlocks(l)
	l.Apply(0, ins[len(ins)-1])
	l.Rollback()
	if after := snap(); !reflect.DeepEqual(before, after) {
		t.Errorf("rollback left the sums at %+v, want %+v", after, before)
	}
	if got := flaggedBlocks(l); !slices.Equal(got, flagsBefore) {
		t.Errorf("rollback left flags %v, want %v", got, flagsBefore)
	}
}

// A rebuild replays the partitions without publishing, judges the blocks once at the end
// and leaves the flags whose anomalies are not known to be published to Drain.
func TestBlockShiftReplay(t *testing.T) {
	rules := testRules(t)
	l := NewLedger(rules)
	l.AddPartition(0)
	for i, in := range blockNight(t, rules) {
		l.Replay(0, 0, int64(i), in)
	}
	l.SettleReplay()
	if got := flaggedBlocks(l); len(got) != 0 {
		t.Fatalf("the replay published state for %v before Drain", got)
	}
	out := l.Drain()
	l.Commit()
	var stations []string
	for _, a := range anomaliesOf(out, schemas.AnomalyBlockShift) {
		stations = append(stations, a.StationID)
	}
	if want := []string{"S01", "S02", "S03", "S04"}; !slices.Equal(sortedCopy(stations), want) {
		t.Errorf("drain raised BLOCK_SHIFT on %v, want %v", stations, want)
	}
}
