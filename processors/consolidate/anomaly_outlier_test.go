package consolidate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"votestream/election"
)

// selectMedian must give exactly the median a sort gives, duplicates and all.
func TestSelectMedian(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 60; n++ {
		for range 20 {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(r.IntN(7)) / 7 // many ties
			}
			s := slices.Clone(xs)
			slices.Sort(s)
			if got, want := selectMedian(slices.Clone(xs)), median(s); got != want {
				t.Fatalf("median of %v: %v, want %v", xs, got, want)
			}
		}
	}
}

// outlierCountry: constituency C1 with 30 stations of 600 voters: subdistrict A (S01-S10)
// leans to number 2, subdistricts B (S11-S20) and C (S21-S30) do not.
func outlierCountry(t *testing.T) *election.Country {
	t.Helper()
	c := &election.Country{
		Provinces:      []election.Province{{ID: "P1", NameTH: "หนึ่ง", NameEN: "One", Region: "central"}},
		Constituencies: []election.Constituency{{ID: "C1", ProvinceID: "P1", Number: 1, EligibleVoters: 18000, Stations: 30}},
		Candidates:     []election.Candidate{{ConstituencyID: "C1", No: 1, Name: "A", PartyNo: 1}, {ConstituencyID: "C1", No: 2, Name: "B", PartyNo: 2}, {ConstituencyID: "C1", No: 3, Name: "C", PartyNo: 3}},
	}
	for i := 1; i <= 30; i++ {
		c.Stations = append(c.Stations, election.Station{ID: fmt.Sprintf("S%02d", i), ConstituencyID: "C1",
			Subdistrict: string(rune('A' + (i-1)/10)), Number: i, EligibleVoters: 600})
	}
	for no := 1; no <= 3; no++ {
		c.Parties = append(c.Parties, election.Party{No: no, NameTH: fmt.Sprintf("พรรค %d", no), NameEN: fmt.Sprintf("Party %d", no)})
	}
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	return c
}

// A whole subdistrict voting its own way is local politics, not ten falsified counts; one
// station far from its own subdistrict is an outlier. Shares of number 2 (of 500 valid):
// subdistrict A about 60 %, B and C about 30 %, and S25 in C at 60 %.
func TestOutliersSubdistrict(t *testing.T) {
	rules := DefaultRules()
	rules.Country = outlierCountry(t)
	cc := rules.Country
	var ins []Input
	for i := 1; i <= 30; i++ {
		st := fmt.Sprintf("S%02d", i)
		two := 150 + i%5*4 // 150-166: 30-33 %
		if i <= 10 || i == 25 {
			two = 300 + i%5*4
		}
		one := (500 - two) * 2 / 3
		ins = append(ins, report("s"+st, st, c, final, "v"+st, "OrgA", 10+i).figs(500, 0, 0, 1, one, 2, two, 3, 500-two-one).in(t, cc))
	}
	l, _ := run(t, &rules, ins...)
	// The state once everyone has reported: along the way, before a subdistrict has
	// OutlierSubdistrictMin finals, its stations are compared with the constituency and may
	// be flagged for a while (docs/consolidation.md).
	var got []string
	l.Stations(func(_ int32, st *Station) {
		if res, _ := st.Result(c); slices.Contains(res.Anomalies, "SHARE_OUTLIER") {
			got = append(got, st.ID)
		}
	})
	if !slices.Equal(got, []string{"S25"}) {
		t.Errorf("SHARE_OUTLIER on %v, want [S25] alone (subdistrict A leans as a whole)", got)
	}
}

// Figures that already carry a station's own code (here ARITH: the votes do not add up)
// are not flagged again as outliers: the lead has the item already.
func TestOutliersSkipExplained(t *testing.T) {
	rules := testRules(t)
	rules.OutlierMinStations = 10
	cc := rules.Country
	var ins []Input
	for i := 1; i <= 12; i++ {
		st := fmt.Sprintf("S%02d", i)
		ins = append(ins, report("s"+st, st, c, final, "v"+st, "OrgA", 10+i).figs(500, 0, 0, 1, 250, 2, 150, 3, 100).in(t, cc))
	}
	ins = append(ins, report("s13", "S13", c, final, "vS13", "OrgA", 30).figs(500, 0, 0, 1, 50, 2, 150, 3, 100).in(t, cc))
	_, out := run(t, rules, ins...)
	if got := anomaliesOf(out, "SHARE_OUTLIER"); len(got) != 0 {
		t.Errorf("SHARE_OUTLIER on %s, whose figures are ARITH already", got[0].StationID)
	}
	if len(anomaliesOf(out, "ARITH")) != 1 {
		t.Errorf("ARITH not raised on S13: the test does not test what it says")
	}
}

// Across partitions: a constituency split over two partitions is judged whole only with
// OutlierAcrossPartitions; per partition, neither half has enough stations.
func TestOutliersAcrossPartitions(t *testing.T) {
	for _, across := range []bool{false, true} {
		rules := testRules(t)
		rules.OutlierMinStations = 10
		rules.OutlierAcrossPartitions = across
		cc := rules.Country
		l := NewLedger(rules)
		l.AddPartition(0)
		l.AddPartition(1)
		var out []Output
		for i := 1; i <= 13; i++ {
			st := fmt.Sprintf("S%02d", i)
			two := 150 + i%3*5
			if i == 13 {
				two = 350
			}
			in := report("s"+st, st, c, final, "v"+st, "OrgA", 10+i).figs(500, 0, 0, 1, 400-two, 2, two, 3, 100).in(t, cc)
			out = append(out, l.Apply(int32(i%2), in)...)
			l.Commit()
		}
		got := anomaliesOf(out, "SHARE_OUTLIER")
		if across && (len(got) != 1 || got[0].StationID != "S13" || got[0].Evidence["stations"] != "13") {
			t.Errorf("across partitions: SHARE_OUTLIER %v, want S13 against all 13 stations", got)
		}
		if !across && len(got) != 0 {
			t.Errorf("per partition (7 and 6 stations, under OutlierMinStations): SHARE_OUTLIER on %s", got[0].StationID)
		}
	}
}
