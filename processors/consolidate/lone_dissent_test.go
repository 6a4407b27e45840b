package consolidate

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/simulate"
)

// The rival's strongholds: S01-S06 hold final forms F1 corroborated by OrgA and OrgB (two
// people, two organisations). OrgR, the rival, then files other finals there: one volunteer
// at S01-S04, two of its volunteers with two more figure sets at S05, one person through
// the tokens of OrgR and OrgS at S06. Controls: at S07 two independent sources disagree
// with nothing corroborated; at S08 a corroboration meets two independent dissenters.
type strongholdNight struct{ before, after []*rb }

func newStrongholdNight() strongholdNight {
	var n strongholdNight
	m := 30
	next := func() int { m++; return m }
	for s := 1; s <= 6; s++ {
		st := fmt.Sprintf("S%02d", s)
		n.before = append(n.before,
			f1(report("a-"+st, st, c, final, "alice-"+st, "OrgA", next())),
			f1(report("b-"+st, st, c, final, "bob-"+st, "OrgB", next())))
	}
	n.before = append(n.before,
		f1(report("c-S07", "S07", c, final, "carol", "OrgC", next())),
		f1(report("a-S08", "S08", c, final, "alice-S08", "OrgA", next())),
		f1(report("b-S08", "S08", c, final, "bob-S08", "OrgB", next())))

	f3 := func(b *rb) *rb { return b.figs(500, 10, 5, 1, 245, 2, 155, 3, 85) }
	for s := 1; s <= 6; s++ {
		st := fmt.Sprintf("S%02d", s)
		n.after = append(n.after, f2(report("r-"+st, st, c, final, "OrgR/rex-"+st, "OrgR", next())).person(personP))
	}
	n.after = append(n.after,
		f3(report("r2-S05", "S05", c, final, "OrgR/rita", "OrgR", next())).person(personQ),
		f3(report("s-S06", "S06", c, final, "OrgS/rex-S06", "OrgS", next())).person(personP),
		f2(report("d-S07", "S07", c, final, "dan", "OrgD", next())),
		f2(report("c-S08", "S08", c, final, "carol", "OrgC", next())),
		f2(report("d-S08", "S08", c, final, "dan", "OrgD", next())))
	return n
}

var strongholds = []string{"S01", "S02", "S03", "S04", "S05", "S06"}

// estimateInputs is what the estimator takes from each result (processors/estimate, Apply):
// a disputed result or a tally board counts as unreported, anything else by its figures.
func estimateInputs(results map[string]schemas.StationResult) map[string]string {
	in := map[string]string{}
	for k, r := range results {
		if r.Status == schemas.StatusDisputed || r.Stage == schemas.StageProgress {
			in[k] = "unreported"
			continue
		}
		in[k] = figuresOf(&r)
	}
	return in
}

// checkStrongholds asserts the outcome of the stronghold night from the results before and
// after the rival's finals and the CONFLICT anomalies raised.
func checkStrongholds(t *testing.T, before, after map[string]schemas.StationResult, conflicts []schemas.Anomaly) {
	t.Helper()
	key := func(st string) string { return ResultKey(st, c) }
	for _, st := range strongholds {
		if r := before[key(st)]; r.Status != schemas.StatusCorroborated {
			t.Fatalf("%s before the rival: %s, want corroborated", st, r.Status)
		}
		r := after[key(st)]
		if r.Status != schemas.StatusCorroborated || figuresOf(&r) != keyF1 || !slices.Equal(r.Anomalies, []string{"CONFLICT"}) {
			t.Errorf("%s after the rival: %s %s %v, want corroborated %s flagged CONFLICT", st, r.Status, figuresOf(&r), r.Anomalies, keyF1)
		}
		if got := sourceIDs(&r); !slices.Equal(got, []string{"a-" + st, "b-" + st}) {
			t.Errorf("%s sources %v, want OrgA's and OrgB's", st, got)
		}
	}
	in0, in1 := estimateInputs(before), estimateInputs(after)
	for _, st := range strongholds {
		if in0[key(st)] != in1[key(st)] {
			t.Errorf("estimate input of %s moved: %s -> %s", st, in0[key(st)], in1[key(st)])
		}
	}
	if in1[key("S07")] != "unreported" || in1[key("S08")] != "unreported" {
		t.Errorf("controls: S07 %s, S08 %s; want both disputed (unreported)", after[key("S07")].Status, after[key("S08")].Status)
	}

	// The war room's alerts: every stronghold flagged, each figure set once, saying the result
	// stands; the controls flagged as disputes.
	lone, disputes := map[string]int{}, map[string]int{}
	ids := map[string]int{}
	for _, a := range conflicts {
		ids[a.AnomalyID]++
		switch {
		case a.Evidence["dissent"] == "lone" && a.Evidence["disputes_result"] == "false":
			lone[a.StationID]++
		case a.Evidence["disputes_result"] == "true":
			disputes[a.StationID]++
		default:
			t.Errorf("CONFLICT %s on %s: evidence %v", a.AnomalyID, a.StationID, a.Evidence)
		}
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("anomaly %s raised %d times", id, n)
		}
	}
	wantLone := map[string]int{"S01": 1, "S02": 1, "S03": 1, "S04": 1, "S05": 2, "S06": 2, "S08": 1}
	if !maps.Equal(lone, wantLone) {
		t.Errorf("lone-dissent CONFLICTs by station %v, want %v", lone, wantLone)
	}
	if want := map[string]int{"S07": 1, "S08": 1}; !maps.Equal(disputes, want) {
		t.Errorf("disputing CONFLICTs by station %v, want %v", disputes, want)
	}
}

func TestLoneDissentKeepsStrongholds(t *testing.T) {
	rules := testRules(t)
	n := newStrongholdNight()
	l := NewLedger(rules)
	l.AddPartition(0)
	latest := func(out []Output, into map[string]schemas.StationResult) {
		for _, r := range results(out) {
			into[ResultKey(r.StationID, r.Ballot)] = *r
		}
	}
	var out []Output
	for _, b := range n.before {
		out = append(out, l.Apply(0, b.in(t, rules.Country))...)
		l.Commit()
	}
	before := map[string]schemas.StationResult{}
	latest(out, before)
	for _, b := range n.after {
		out = append(out, l.Apply(0, b.in(t, rules.Country))...)
		l.Commit()
	}
	after := maps.Clone(before)
	latest(out, after)
	var conflicts []schemas.Anomaly
	for _, a := range anomaliesOf(out, schemas.AnomalyConflict) {
		conflicts = append(conflicts, *a)
	}
	checkStrongholds(t, before, after, conflicts)
}

// The same night through the broker and a running consolidator: what the estimator and the
// war room read from station-results.v1 and anomalies.v1.
func TestLoneDissentKeepsStrongholdsEndToEnd(t *testing.T) {
	env := testenv.Kafka(t)
	cc := testCountry(t)
	n := newStrongholdNight()
	recs := func(bs []*rb) []*kgo.Record {
		var rs []*kgo.Record
		for _, b := range bs {
			rs = append(rs, record(t, env, schemas.TopicSubmissions, b.r))
		}
		return rs
	}
	stop := start(t, testConfig(env, cc, "g", "t"))

	produce(t, env, recs(n.before))
	corroborated := append(slices.Clone(strongholds), "S08")
	out := follow(t, env, func(o *outputLog) bool {
		got := o.latest()
		for _, st := range corroborated {
			if got[ResultKey(st, c)].Status != schemas.StatusCorroborated {
				return false
			}
		}
		return got[ResultKey("S07", c)].Status == schemas.StatusProvisional
	})
	before := out.latest()

	produce(t, env, recs(n.after))
	// Eleven CONFLICTs in all (see checkStrongholds), the last ones raised by the last reports
	// of each station, and the controls disputed.
	out = follow(t, env, func(o *outputLog) bool {
		k := 0
		for _, a := range o.anomalies {
			if a.Code == schemas.AnomalyConflict {
				k++
			}
		}
		got := o.latest()
		return k >= 11 && got[ResultKey("S07", c)].Status == schemas.StatusDisputed &&
			got[ResultKey("S08", c)].Status == schemas.StatusDisputed
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var conflicts []schemas.Anomaly
	for _, a := range out.anomalies {
		if a.Code == schemas.AnomalyConflict {
			conflicts = append(conflicts, a)
		}
	}
	checkStrongholds(t, before, out.latest(), conflicts)
}

// TestLoneDissentOnSimulatedNight: on the scored simulated night (TestDetection's), every
// result left corroborated under a lone dissent stands on sources free of the simulator's
// figure-changing faults, and its dissent holds one: the rule kept the right figures.
// docs/consolidation.md quotes the counts it logs.
func TestLoneDissentOnSimulatedNight(t *testing.T) {
	n := loadSimNight(t, 7, detectionFaultScale, detectionStationsScale)
	l, _ := n.runLedger(t, 6)
	wrong := map[string]bool{} // submissions whose figures a fault changed
	for _, f := range n.faults {
		switch f.Kind {
		case simulate.FaultTypo, simulate.FaultSwappedDigits, simulate.FaultMissingParty, simulate.FaultFalsification, simulate.FaultNumberSwap:
			wrong[f.SubmissionID] = true
		}
	}
	statuses := map[schemas.Status]int{}
	lone := 0
	l.Stations(func(_ int32, st *Station) {
		for _, b := range election.Ballots {
			r, ok := st.Result(b)
			if !ok {
				continue
			}
			statuses[r.Status]++
			if r.Status != schemas.StatusCorroborated || !slices.Contains(r.Anomalies, schemas.AnomalyConflict) {
				continue
			}
			lone++
			standing := map[string]bool{}
			for _, s := range r.Sources {
				standing[s.SubmissionID] = true
				if wrong[s.SubmissionID] {
					t.Errorf("%s %s stands on %s, a labelled fault", r.StationID, b, s.SubmissionID)
				}
			}
			if !slices.ContainsFunc(st.Reports(b), func(rep schemas.Report) bool { return !standing[rep.SubmissionID] && wrong[rep.SubmissionID] }) {
				t.Errorf("%s %s: lone dissent without a labelled fault among the dissenters", r.StationID, b)
			}
		}
	})
	t.Logf("results by status %v; corroborated under a lone dissent: %d", statuses, lone)
	if lone == 0 {
		t.Fatal("the simulated night has no lone dissent to judge")
	}
}
