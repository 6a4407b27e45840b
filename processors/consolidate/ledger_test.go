package consolidate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"votestream/schemas"
)

const hShared = "sha256:3333333333333333333333333333333333333333333333333333333333333333"

// night is a small mixed night: tally boards, finals that agree and disagree, a correction,
// a reused photo across partitions, a review and an official figure.
func night(t *testing.T, rules *Rules) []struct {
	p  int32
	in Input
} {
	cc := rules.Country
	rev := schemas.Review{ReviewID: "r1", StationID: "S02", Ballot: c, AcceptSubmissionID: "e1", Reason: "form photo",
		ReviewerID: "lead-1", Role: schemas.RoleDistrictLead, ReceivedAt: minute(80)}
	r, err := NewReview(rev, cc)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOfficial(schemas.Official{OfficialID: "o1", StationID: "S03", Ballot: c, BallotsCast: 500, Invalid: 10, NoVote: 5,
		Votes: map[string]int{"1": 240, "2": 160, "3": 85}, EnteredBy: "lead-1", Role: schemas.RoleDistrictLead, ReceivedAt: minute(90)}, cc)
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		p  int32
		in Input
	}{
		{0, p1(report("a1", "S01", c, prog, "alice", "OrgA", 10)).in(t, cc)},
		{0, p2(report("a2", "S01", c, prog, "alice", "OrgA", 20)).in(t, cc)},
		{0, f1(report("a3", "S01", c, final, "alice", "OrgA", 30)).evidence(hShared).in(t, cc)},
		{0, f1(report("b3", "S01", c, final, "bob", "OrgB", 31)).in(t, cc)},
		{1, fA(report("d1", "S02", c, final, "dan", "OrgD", 32)).in(t, cc)},
		{1, f2(report("e1", "S02", c, final, "eve", "OrgE", 33)).in(t, cc)},
		{1, Input{Review: r}},
		{1, f1(report("g1", "S03", c, final, "gus", "OrgG", 35)).evidence(hShared).in(t, cc)},
		{1, f1(report("g2", "S03", c, final, "gus", "OrgG", 36)).in(t, cc)},
		{1, Input{Official: o}},
		{0, report("h1", "S04", pl, final, "hal", "OrgH", 50).figs(470, 10, 5, 7, 200, 3, 255).in(t, cc)},
		{0, f1(report("h2", "S04", c, final, "hal", "OrgH", 40)).in(t, cc)},
	}
}

// current returns every published result with version and data time blanked, as JSON.
func current(l *Ledger) map[string]string {
	out := map[string]string{}
	l.Stations(func(_ int32, st *Station) {
		for _, b := range []string{c, pl} {
			if res, ok := st.Result(schemasBallot(b)); ok {
				res.Version = 0
				res.UpdatedAt = res.UpdatedAt.UTC().Truncate(0)
				js, _ := json.Marshal(res)
				out[st.ID+"/"+b] = string(js)
			}
		}
	})
	return out
}

// The derivation is a function of the set of inputs: any order (within a station's own
// topic order, reports of one volunteer keep theirs) gives the same results.
func TestOrderDoesNotMatter(t *testing.T) {
	rules := testRules(t)
	inputs := night(t, rules)
	l := NewLedger(rules)
	l.AddPartition(0)
	l.AddPartition(1)
	for _, x := range inputs {
		l.Apply(x.p, x.in)
		l.Commit()
	}
	want := current(l)
	if len(want) != 5 {
		t.Fatalf("%d results, want 5: %v", len(want), want)
	}
	for seed := range uint64(20) {
		shuffled := append(inputs[:0:0], inputs...)
		rand.New(rand.NewPCG(seed, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		l := NewLedger(rules)
		l.AddPartition(0)
		l.AddPartition(1)
		for _, x := range shuffled {
			l.Apply(x.p, x.in)
			l.Commit()
		}
		got := current(l)
		for k, w := range want {
			if got[k] != w {
				t.Errorf("seed %d: %s\n got %s\nwant %s", seed, k, got[k], w)
			}
		}
	}
}

// Rollback restores the state of the last Commit exactly: applying the same inputs again
// publishes the same records as the first time.
func TestRollback(t *testing.T) {
	rules := testRules(t)
	inputs := night(t, rules)
	l := NewLedger(rules)
	l.AddPartition(0)
	l.AddPartition(1)
	for _, x := range inputs[:4] {
		l.Apply(x.p, x.in)
	}
	l.Commit()
	before := current(l)
	var first []Output
	for _, x := range inputs[4:] {
		first = append(first, l.Apply(x.p, x.in)...)
	}
	l.Rollback()
	if got := current(l); len(got) != len(before) {
		t.Fatalf("after rollback %d results, want %d", len(got), len(before))
	} else {
		for k, w := range before {
			if got[k] != w {
				t.Errorf("after rollback %s = %s, want %s", k, got[k], w)
			}
		}
	}
	if n := len(l.photoUses(photoKeyOf(hShared))); n != 1 {
		t.Errorf("photo index holds %d uses after rollback, want 1", n)
	}
	var again []Output
	for _, x := range inputs[4:] {
		again = append(again, l.Apply(x.p, x.in)...)
	}
	l.Commit()
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Errorf("re-applying after rollback published\n%s\nthe first time\n%s", b, a)
	}
}

// A replayed partition publishes nothing itself; what its replay flags on another
// partition, or on its own stations from reports of another partition, waits for Drain.
// Here partition 1 is taken over from a process that did not hold partition 0, so it never
// saw the photo on S01: S02's PHOTO_REUSE was never published either. Versions continue
// from the replayed position.
func TestReplayAndDrain(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	l := NewLedger(rules)
	l.AddPartition(0)
	l.Advance(0, 0, 0)
	l.Apply(0, f1(report("a1", "S01", c, final, "alice", "OrgA", 30)).evidence(hShared).in(t, cc))
	l.Commit()
	s01, _ := l.Station(0, "S01")
	published, _ := s01.Result("constituency")
	if published.Version != VersionStep {
		t.Fatalf("first version %d, want %d (position 1)", published.Version, VersionStep)
	}

	l.AddPartition(1)
	l.Replay(1, 0, 0, f1(report("x1", "S02", c, final, "xavier", "OrgX", 40)).evidence(hShared).in(t, cc))
	l.Replay(1, 0, 1, p1(report("x2", "S05", c, prog, "xavier", "OrgX", 41)).in(t, cc))
	if st, _ := l.Station(0, "S01"); true {
		if res, _ := st.Result("constituency"); res.Version != published.Version {
			t.Fatalf("replaying partition 1 changed S01's published version %d -> %d", published.Version, res.Version)
		}
	}
	out := l.Drain()
	l.Commit()
	// Drain publishes in the upper half of the step: S01 at partition 0's position 1, S02 at
	// partition 1's position 2.
	rs := results(out)
	wantS01, wantS02 := int64(VersionStep+VersionStep/2), int64(2*VersionStep+VersionStep/2)
	if len(rs) != 2 || rs[0].StationID != "S01" || rs[0].Version != wantS01 || !slices.Contains(rs[0].Anomalies, "PHOTO_REUSE") ||
		rs[1].StationID != "S02" || rs[1].Version != wantS02 || !slices.Contains(rs[1].Anomalies, "PHOTO_REUSE") {
		for _, r := range rs {
			t.Logf("published %s v%d %v", r.StationID, r.Version, r.Anomalies)
		}
		t.Errorf("drain published %d results, want S01 v%d and S02 v%d, both with PHOTO_REUSE", len(rs), wantS01, wantS02)
	}
	if as := anomaliesOf(out, "PHOTO_REUSE"); len(as) != 2 || as[0].StationID != "S01" || as[1].StationID != "S02" {
		t.Errorf("drain raised %d PHOTO_REUSE, want S01's and S02's", len(as))
	}

	// The next record of partition 1 is at offset 2: position 3.
	l.Advance(1, 0, 2)
	out = l.Apply(1, f2(report("x3", "S02", c, final, "xavier", "OrgX", 50)).in(t, cc))
	if rs := results(out); len(rs) != 1 || rs[0].Version != 3*VersionStep {
		t.Errorf("after the replay published %+v, want version %d", rs, 3*VersionStep)
	}
}

// A photo reused between two stations of the replayed partition was seen whole by whoever
// owned that partition, who published the flags: the replay applies them silently and
// leaves nothing for Drain.
func TestReplayKeepsLocalFlagsSilent(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	l := NewLedger(rules)
	l.AddPartition(1)
	l.Replay(1, 0, 0, f1(report("x1", "S02", c, final, "xavier", "OrgX", 40)).evidence(hShared).in(t, cc))
	l.Replay(1, 0, 1, f1(report("y1", "S05", c, final, "yuki", "OrgY", 41)).evidence(hShared).in(t, cc))
	if out := l.Drain(); len(out) != 0 {
		t.Errorf("drain published %d records, want none", len(out))
	}
	for _, id := range []string{"S02", "S05"} {
		st, _ := l.Station(1, id)
		if res, _ := st.Result("constituency"); !slices.Contains(res.Anomalies, "PHOTO_REUSE") {
			t.Errorf("%s after the replay: codes %v, want PHOTO_REUSE", id, res.Anomalies)
		}
	}
}

// The same for SPREAD: a volunteer's fourth station is replayed on partition 1 while the
// first three are on partition 0, held here; the partition's previous owner saw one
// station and never flagged it, so Drain publishes the flag.
func TestReplayDrainsSpreadAcrossPartitions(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	l := NewLedger(rules)
	l.AddPartition(0)
	for i, id := range []string{"S01", "S02", "S03"} {
		l.Advance(0, 0, int64(i))
		l.Apply(0, f1(report(fmt.Sprint("v", i), id, c, final, "vic", "OrgV", 30+i)).in(t, cc))
		l.Commit()
	}
	l.AddPartition(1)
	l.Replay(1, 0, 0, f1(report("v3", "S04", c, final, "vic", "OrgV", 40)).in(t, cc))
	out := l.Drain()
	l.Commit()
	if as := anomaliesOf(out, "SPREAD"); len(as) != 1 || as[0].StationID != "S04" {
		t.Fatalf("drain raised %d SPREAD, want S04's", len(as))
	}
	if rs := results(out); len(rs) != 1 || rs[0].StationID != "S04" || !slices.Contains(rs[0].Anomalies, "SPREAD") {
		t.Errorf("drain published %d results, want S04's with SPREAD", len(rs))
	}
}

// A process consolidates S02 (partition 1) and then S01 (partition 0), which carries the
// same photo: S01 is published at position 1 (1024), then flagged (1025), and S02 flagged
// at partition 1's position 1 (1025). It is killed and restarted; the replay finds the pair
// again and Drain publishes both flags once more. Those records must still come after the
// ones already on the topic: a version equal to 1025 would leave downstream tables that keep
// the highest version to pick either.
func TestRestartDrainsAboveEarlierVersions(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	x1 := f1(report("x1", "S02", c, final, "xavier", "OrgX", 40)).evidence(hShared)
	a1 := f1(report("a1", "S01", c, final, "alice", "OrgA", 41)).evidence(hShared)

	before := NewLedger(rules)
	before.AddPartition(0)
	before.AddPartition(1)
	published := map[string]int64{}
	keep := func(out []Output) {
		for _, r := range results(out) {
			published[r.StationID] = r.Version
		}
	}
	before.Advance(1, 0, 0)
	keep(before.Apply(1, x1.in(t, cc)))
	before.Advance(0, 0, 0)
	keep(before.Apply(0, a1.in(t, cc)))
	before.Commit()
	if published["S01"] != VersionStep+1 || published["S02"] != VersionStep+1 {
		t.Fatalf("before the crash: %v, want S01 and S02 at %d", published, VersionStep+1)
	}

	after := NewLedger(rules)
	after.AddPartition(0)
	after.AddPartition(1)
	after.Replay(1, 0, 0, x1.in(t, cc))
	after.Replay(0, 0, 0, a1.in(t, cc))
	out := after.Drain()
	after.Commit()
	if len(results(out)) != 2 {
		t.Fatalf("drain published %d results, want S01 and S02", len(results(out)))
	}
	for _, r := range results(out) {
		if r.Version <= published[r.StationID] {
			t.Errorf("%s drained at version %d, not above the %d published before the crash", r.StationID, r.Version, published[r.StationID])
		}
	}
}

// A cross-partition flag whose anomaly is already on anomalies.v1 (Ledger.published) was
// published with its station's result when it was raised: a rebuild applies it in state
// and Drain publishes nothing. Without the read-back (published nil) the same rebuild
// publishes both flags a second time.
func TestReplayAppliesKnownFlagsSilently(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	// The process before held both partitions and raised PHOTO_REUSE on S01 and S02.
	prev := NewLedger(rules)
	prev.AddPartition(0)
	prev.AddPartition(1)
	prev.Advance(0, 0, 0)
	prev.Apply(0, f1(report("a1", "S01", c, final, "alice", "OrgA", 30)).evidence(hShared).in(t, cc))
	prev.Advance(1, 0, 0)
	known := map[string]bool{}
	for _, a := range anomaliesOf(prev.Apply(1, f1(report("x1", "S02", c, final, "xavier", "OrgX", 40)).evidence(hShared).in(t, cc)), "PHOTO_REUSE") {
		known[a.AnomalyID] = true
	}
	if len(known) != 2 {
		t.Fatalf("the process before raised %d PHOTO_REUSE, want S01's and S02's", len(known))
	}
	for _, tc := range []struct {
		name      string
		published func(string) bool
		wantOut   int // anomalies Drain publishes
	}{
		{"ids read back", func(id string) bool { return known[id] }, 0},
		{"no read-back", nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLedger(rules)
			l.published = tc.published
			l.AddPartition(0)
			l.AddPartition(1)
			l.Replay(0, 0, 0, f1(report("a1", "S01", c, final, "alice", "OrgA", 30)).evidence(hShared).in(t, cc))
			l.Replay(1, 0, 0, f1(report("x1", "S02", c, final, "xavier", "OrgX", 40)).evidence(hShared).in(t, cc))
			l.SettleReplay()
			out := l.Drain()
			l.Commit()
			if got := len(anomaliesOf(out, "PHOTO_REUSE")); got != tc.wantOut {
				t.Errorf("drain published %d PHOTO_REUSE, want %d", got, tc.wantOut)
			}
			for p, id := range map[int32]string{0: "S01", 1: "S02"} {
				st, _ := l.Station(p, id)
				if res, _ := st.Result("constituency"); !slices.Contains(res.Anomalies, "PHOTO_REUSE") {
					t.Errorf("%s after the rebuild: codes %v, want PHOTO_REUSE", id, res.Anomalies)
				}
			}
		})
	}
}
