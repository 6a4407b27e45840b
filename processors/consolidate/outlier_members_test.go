package consolidate

import (
	"testing"
)

// The member entries the outlier detectors read (member) are a cache of the stations'
// states: after every input, rollback and replay they must equal what a walk over the
// states gives, or a judgement would use stale figures, flags or published results. A
// simulated night is applied with every so often a transaction rolled back, superseded
// reports (progressive then final figures, corrections) included.
func TestMembersFollowStates(t *testing.T) {
	n := loadSimNight(t, 7, 3, 0.5)
	l := NewLedger(n.rules(t))
	const parts = 6
	for p := range parts {
		l.AddPartition(int32(p))
	}
	offsets := make([]int64, parts)
	apply := func(i int) {
		r := n.reports[i]
		p := partitionOf(r.rep.StationID, parts)
		l.Advance(p, 0, offsets[p])
		offsets[p]++
		in, err := r.input(t, n.country)
		if err != nil {
			return
		}
		l.Apply(p, in)
		ref, _ := n.country.StationByID(r.rep.StationID)
		checkMembers(t, l, p, ref.ConstituencyID)
	}
	rollbacks, finals := 0, 0
	for i := range n.reports {
		if i%1500 == 700 && i+400 < len(n.reports) {
			saved := append([]int64(nil), offsets...)
			for j := i; j < i+400; j++ {
				apply(j)
			}
			l.Rollback()
			copy(offsets, saved)
			rollbacks++
			checkMembers(t, l, -1, "")
		}
		apply(i)
		if i%3 == 0 {
			l.Commit()
		}
		if i%250 == 0 {
			checkMembers(t, l, -1, "")
		}
	}
	l.Commit()
	checkMembers(t, l, -1, "")
	l.Stations(func(_ int32, st *Station) {
		for b := range 2 {
			if finalFigures(st, b) != nil {
				finals++
			}
		}
	})
	if rollbacks < 5 || finals < 1000 {
		t.Fatalf("%d rollbacks and %d final ballots: the night does not exercise the cache", rollbacks, finals)
	}
}

// checkMembers compares the member entries of partition p's constituency c (every
// partition and constituency for p < 0) with a walk over the stations' states.
func checkMembers(t *testing.T, l *Ledger, p int32, c string) {
	t.Helper()
	for _, q := range l.Partitions() {
		if p >= 0 && q != p {
			continue
		}
		part := l.parts[q]
		seen := 0
		for cons, ms := range part.members {
			if c != "" && cons != c {
				continue
			}
			for i, m := range ms {
				st, ok := part.stations[m.id]
				if !ok {
					t.Fatalf("partition %d: member %s of %s has no state", q, m.id, cons)
				}
				if st.ConstituencyID != cons || int(st.member) != i {
					t.Fatalf("partition %d: %s is member %d of %s, its state says %d of %s", q, m.id, i, cons, st.member, st.ConstituencyID)
				}
				ref, _ := l.rules.Country.StationByID(m.id)
				want := member{id: m.id, sub: l.subdistricts[ref.Subdistrict], urban: ref.Urban}
				if ref.Subdistrict == "" {
					want.sub = -1
				}
				want.read(&st)
				if name := l.subdistrictName(m.sub); name != ref.Subdistrict {
					t.Fatalf("partition %d: member %s has subdistrict %q, the reference data %q", q, m.id, name, ref.Subdistrict)
				}
				if m != want {
					t.Fatalf("partition %d: member %s is stale:\n got %+v\nwant %+v", q, m.id, m, want)
				}
				seen++
			}
		}
		if c == "" && seen != len(part.stations) {
			t.Fatalf("partition %d: %d members for %d stations", q, seen, len(part.stations))
		}
	}
}
