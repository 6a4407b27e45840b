package consolidate

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// The Ledger keeps a superseded tally board without its arrival (role, evidence, ingest's
// flags) and still reads everything its rules need from it: a late re-delivery is a
// duplicate, a photo it carried found again is a PHOTO_REUSE, a later tally board lower than
// it is a REGRESSION against its figures, and a review can accept it (issue 18).
func TestLedgerKeepsSupersededReportsSmall(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	const h1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const h2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	l := NewLedger(rules)
	l.AddPartition(0)
	l.AddPartition(1)
	var out []Output
	apply := func(p int32, in Input) []Output {
		o := l.Apply(p, in)
		l.Commit()
		out = append(out, o...)
		return o
	}
	a1 := p1(report("a1", "S01", c, prog, "alice", "OrgA", 10)).counted(9).evidence(h1)
	apply(0, a1.in(t, cc))
	apply(0, p2(report("a2", "S01", c, prog, "alice", "OrgA", 20)).counted(19).evidence(h2).in(t, cc))
	apply(0, f1(report("a3", "S01", c, final, "alice", "OrgA", 30)).in(t, cc)) // a final supersedes both

	st, _ := l.Station(0, "S01")
	bs := &st.ballots[ballotIndex(c)]
	k := slices.IndexFunc(bs.reports, func(r *Report) bool { return r.SubmissionID == "a1" })
	if k < 0 {
		t.Fatal("a1 is not held")
	}
	kept := bs.reports[k]
	if kept.arrival != nil {
		t.Errorf("the superseded a1 is held with its arrival %+v", *kept.arrival)
	}
	if got := kept.fig.String(); got != keyP1 {
		t.Errorf("a1 is held with figures %s, want %s", got, keyP1)
	}
	// Everything but the arrival is what was sent.
	want := a1.r
	want.Role, want.Evidence = "", nil
	if got := kept.wire(); !reflect.DeepEqual(got, want) {
		t.Errorf("a1 is held as %+v, want %+v", got, want)
	}
	for _, u := range l.photoUses(photoKeyOf(h1)) {
		if u.rep.arrival != nil {
			t.Errorf("the photo index holds %s with its arrival", u.submission())
		}
	}
	before, _ := st.Result(election.BallotConstituency)

	// A late re-delivery of a1.
	if o := apply(0, a1.in(t, cc)); len(o) != 0 {
		t.Errorf("a1 delivered again published %d records", len(o))
	}
	st, _ = l.Station(0, "S01")
	if got := st.Duplicates(election.BallotConstituency); got != 1 {
		t.Errorf("duplicates %d, want 1", got)
	}
	if after, _ := st.Result(election.BallotConstituency); after.Version != before.Version {
		t.Errorf("the duplicate moved the version from %d to %d", before.Version, after.Version)
	}

	// a1's photo on another station, in another partition.
	apply(1, f1(report("x1", "S02", c, final, "xavier", "OrgX", 40)).evidence(h1).in(t, cc))
	as := anomaliesOf(out, "PHOTO_REUSE")
	var s01 *schemas.Anomaly
	for _, a := range as {
		if a.StationID == "S01" {
			s01 = a
		}
	}
	if len(as) != 2 || s01 == nil || !slices.Equal(s01.Submissions, []string{"a1"}) || s01.Evidence["evidence"] != h1 {
		t.Fatalf("PHOTO_REUSE %+v, want S01 (a1) and S02 on %s", as, h1)
	}

	// A tally board counted between a1 and a2, lower than a1, arriving last: a REGRESSION
	// whose earlier side is the superseded a1.
	apply(0, report("a0", "S01", c, prog, "alice", "OrgA", 50).counted(15).figs(150, 3, 1, 1, 80, 2, 40, 3, 26).in(t, cc))
	rg := anomaliesOf(out, "REGRESSION")
	if len(rg) != 1 || rg[0].Evidence["earlier_submission"] != "a1" || rg[0].Evidence["earlier_figures"] != keyP1 {
		t.Errorf("REGRESSION %+v, want one against a1's %s", rg, keyP1)
	}

	// A review accepting the superseded a1: its figures are published.
	r := review("r1", "lead-1", schemas.RoleDistrictLead, 60)
	r.AcceptSubmissionID = "a1"
	rev, err := NewReview(r, cc)
	if err != nil {
		t.Fatal(err)
	}
	res := last(apply(0, Input{Review: rev}), "S01", c)
	if res == nil || figuresOf(res) != keyP1 || res.Stage != prog || !slices.Contains(sourceIDs(res), "a1") {
		t.Errorf("after accepting a1: %+v, want a1's figures %s", res, keyP1)
	}
}

// The photo index's key tells apart every two evidence strings: a digest in its text form
// and anything else (upper case, other lengths, the empty string).
func TestPhotoKeyOf(t *testing.T) {
	hs := []string{
		"sha256:" + strings.Repeat("0", 64),
		"sha256:" + strings.Repeat("a", 64),
		"sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("0", 63),
		"sha256:" + strings.Repeat("0", 65),
		"md5:" + strings.Repeat("0", 67),
		"",
		"\x00",
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee",
	}
	seen := map[photoKey]string{}
	for _, h := range hs {
		k := photoKeyOf(h)
		if k != photoKeyOf(strings.Clone(h)) {
			t.Errorf("%q keys differently twice", h)
		}
		if o, dup := seen[k]; dup {
			t.Errorf("%q and %q share a key", h, o)
		}
		seen[k] = h
	}
}
