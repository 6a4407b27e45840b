package consolidate

import (
	"slices"
	"strconv"
	"testing"

	"votestream/schemas"
)

func TestBallotGap(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	for _, tc := range []struct {
		name      string
		partyCast int
		gap       bool
	}{
		// Tolerance: max(10, 0.02 x 500) = 10 ballots.
		{"30 apart", 470, true},
		{"11 apart", 489, true},
		{"10 apart is within tolerance", 490, false},
		{"8 apart", 492, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.partyCast - 15
			_, out := run(t, rules,
				f1(report("a1", "S01", c, final, "alice", "OrgA", 30)).in(t, cc),
				report("a2", "S01", pl, final, "alice", "OrgA", 60).figs(tc.partyCast, 10, 5, 7, n-100, 3, 100).in(t, cc),
			)
			cres, pres := last(out, "S01", c), last(out, "S01", pl)
			if got := slices.Contains(cres.Anomalies, "BALLOT_GAP") && slices.Contains(pres.Anomalies, "BALLOT_GAP"); got != tc.gap {
				t.Errorf("BALLOT_GAP on both results = %v, want %v (%v / %v)", got, tc.gap, cres.Anomalies, pres.Anomalies)
			}
			as := anomaliesOf(out, "BALLOT_GAP")
			if tc.gap && (len(as) != 1 || as[0].Ballot != "" || as[0].Evidence["gap"] != itoa(500-tc.partyCast)) {
				t.Errorf("BALLOT_GAP anomalies %+v, want one on the station with gap %d", as, 500-tc.partyCast)
			}
			if cres.Status != schemas.StatusProvisional {
				t.Errorf("status %s: BALLOT_GAP is soft", cres.Status)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Station S01, C1 candidates: 1 for party 7, 2 for party 3, 3 for party 12.
//
//	right party list P   = 7:200 3:150 12:80 1:20 5:20 9:15 (485 valid)
//	swapped party list P' = 1:220 2:150 3:80 5:20 9:15  (party 7 -> 1 merges with party 1's 20)
//	right constituency C = F1 = 1:250 2:150 3:85 (485 valid)
//	swapped constituency C' = 7:250 3:150 12:85 (numbers 7 and 12 are no candidate here)
//
// P' against C: read as candidate numbers the overlap is .4536+.3093+.1649 = .9278; read
// right it is 0 (party 7) + min(.3093, P'(3)=.1649) + 0 (party 12) = .1649: swapped by .763.
// P' has .9278 of its votes under candidate numbers 1-3 and .1649 under parties 7, 3, 12:
// candidate-keyed, so P' is the swapped one and C is not flagged.
// P against C: read right .4124+.3093+.1649 = .8866, read swapped .0412+.1753 = .2165: fine.
func TestNumberSwap(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	rightP := func(b *rb) *rb { return b.figs(500, 10, 5, 7, 200, 3, 150, 12, 80, 1, 20, 5, 20, 9, 15) }
	swappedP := func(b *rb) *rb { return b.figs(500, 10, 5, 1, 220, 2, 150, 3, 80, 5, 20, 9, 15) }
	for _, tc := range []struct {
		name    string
		inputs  []Input
		flagged []string // submissions flagged NUMBER_SWAP
		reason  string
	}{
		{"right counts", []Input{
			f1(report("c1", "S01", c, final, "alice", "OrgA", 30)).in(t, cc),
			rightP(report("p1", "S01", pl, final, "alice", "OrgA", 60)).in(t, cc),
		}, nil, ""},
		{"party list keyed by candidate numbers", []Input{
			f1(report("c1", "S01", c, final, "alice", "OrgA", 30)).in(t, cc),
			swappedP(report("p1", "S01", pl, final, "alice", "OrgA", 60)).in(t, cc),
		}, []string{"p1"}, "shares"},
		{"party list first, then the constituency count", []Input{
			swappedP(report("p1", "S01", pl, final, "alice", "OrgA", 20)).in(t, cc),
			f1(report("c1", "S01", c, final, "alice", "OrgA", 30)).in(t, cc),
		}, []string{"p1"}, "shares"},
		{"constituency keyed by party numbers", []Input{
			report("c1", "S01", c, final, "alice", "OrgA", 30).figs(500, 10, 5, 7, 250, 3, 150, 12, 85).in(t, cc),
		}, []string{"c1"}, "keys"},
		{"too few votes to compare", []Input{
			report("c1", "S01", c, final, "alice", "OrgA", 30).figs(60, 0, 0, 1, 30, 2, 20, 3, 10).in(t, cc),
			report("p1", "S01", pl, final, "alice", "OrgA", 60).figs(60, 0, 0, 1, 30, 2, 20, 3, 10).in(t, cc),
		}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out := run(t, rules, tc.inputs...)
			var flagged []string
			for _, a := range anomaliesOf(out, "NUMBER_SWAP") {
				flagged = append(flagged, a.Submissions...)
				if a.Evidence["reason"] != tc.reason {
					t.Errorf("reason %q, want %q", a.Evidence["reason"], tc.reason)
				}
			}
			if !slices.Equal(flagged, tc.flagged) {
				t.Errorf("flagged %v, want %v", flagged, tc.flagged)
			}
			for _, sub := range tc.flagged {
				ballot := c
				if sub[0] == 'p' {
					ballot = pl
				}
				if res := last(out, "S01", ballot); !slices.Contains(res.Anomalies, "NUMBER_SWAP") || res.Status != schemas.StatusDisputed {
					t.Errorf("%s result %s %v, want disputed with NUMBER_SWAP", ballot, res.Status, res.Anomalies)
				}
			}
		})
	}
}

// Twelve stations of C1 report final constituency counts with shares 50/30/20 and turnouts
// of 80-87 %; S12 has 180 ballots (30 %); S13 has shares 10/50/40.
// Turnout: median of the 13 about .817, MAD below the .02 floor, so S12 scores
// (.30 - .817) / (1.4826 x .02) = -17: TURNOUT_OUTLIER. Shares of number 1: median .5, MAD
// 0 -> floor .02, S13 scores (.10 - .50) / .0297 = -13.5: SHARE_OUTLIER (number 2 at .5
// against .3 scores 6.7, less extreme). Everyone else is within 4.
func TestOutliers(t *testing.T) {
	rules := testRules(t)
	rules.OutlierMinStations = 10 // the test country's constituency has 14 stations
	cc := rules.Country
	normal := func(id, station string, m, cast int) Input {
		return report(id, station, c, final, "v"+station, "OrgA", m).figs(cast, 0, 0, 1, cast/2, 2, 3*cast/10, 3, cast/5).in(t, cc)
	}
	casts := []int{480, 490, 500, 510, 520, 480, 490, 500, 510, 520, 500}
	ins := []Input{
		normal("s12", "S12", 10, 180), // arrives first: judged once enough others have reported
		report("s13", "S13", c, final, "vS13", "OrgA", 11).figs(490, 0, 0, 1, 49, 2, 245, 3, 196).in(t, cc),
	}
	for i, cast := range casts {
		st := "S" + string(rune('0'+(i+1)/10)) + string(rune('0'+(i+1)%10))
		ins = append(ins, normal("s"+st, st, 20+i, cast))
	}
	l, out := run(t, rules, ins...)
	for _, tc := range []struct {
		code     string
		stations []string
	}{
		{"TURNOUT_OUTLIER", []string{"S12"}},
		{"SHARE_OUTLIER", []string{"S13"}},
	} {
		var got []string
		for _, a := range anomaliesOf(out, tc.code) {
			got = append(got, a.StationID)
		}
		if !slices.Equal(got, tc.stations) {
			t.Errorf("%s raised for %v, want %v", tc.code, got, tc.stations)
		}
		l.Stations(func(_ int32, st *Station) {
			res, _ := st.Result("constituency")
			if want := slices.Contains(tc.stations, st.ID); slices.Contains(res.Anomalies, tc.code) != want {
				t.Errorf("%s result codes %v: %s on it should be %v", st.ID, res.Anomalies, tc.code, want)
			}
		})
	}
	a := anomaliesOf(out, "SHARE_OUTLIER")[0]
	if a.Evidence["number"] != "1" || a.Evidence["share"] != "10.0%" || a.Evidence["median"] != "50.0%" {
		t.Errorf("SHARE_OUTLIER evidence %v, want number 1 at 10.0%% against 50.0%%", a.Evidence)
	}
	if r, _ := l.Station(0, "S12"); true {
		res, _ := r.Result("constituency")
		if res.Status != schemas.StatusProvisional {
			t.Errorf("an outlier is soft: S12 status %s", res.Status)
		}
	}
}

// The robust statistics by hand: 1, 2, 3, 4, 100 has median 3 and absolute deviations 2, 1,
// 0, 1, 97, whose median is 1.
func TestMedianMAD(t *testing.T) {
	med, mad := medianMAD([]float64{100, 2, 4, 1, 3})
	if med != 3 || mad != 1 {
		t.Errorf("median %v MAD %v, want 3 and 1", med, mad)
	}
	med, mad = medianMAD([]float64{1, 2, 3, 4})
	if med != 2.5 || mad != 1 {
		t.Errorf("median %v MAD %v, want 2.5 and 1", med, mad)
	}
	if z := robustZ(100, 3, 1, 0.5); z < 65.42 || z > 65.43 {
		t.Errorf("z = %v, want 97 / 1.4826 = 65.425", z)
	}
}

func TestPhotoReuse(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	const h1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const h2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	l := NewLedger(rules)
	l.AddPartition(0)
	l.AddPartition(1)
	var out []Output
	apply := func(p int32, in Input) { out = append(out, l.Apply(p, in)...); l.Commit() }
	apply(0, f1(report("a1", "S01", c, final, "alice", "OrgA", 30)).evidence(h1).in(t, cc))
	apply(0, f1(report("a2", "S01", c, final, "alice", "OrgA", 31)).evidence(h1).in(t, cc)) // same station: fine
	apply(0, f1(report("b1", "S01", c, final, "bob", "OrgB", 32)).evidence(h2).in(t, cc))
	if got := raised(out); len(got) != 0 {
		t.Fatalf("raised %v before any reuse", got)
	}
	apply(1, f1(report("x1", "S02", c, final, "xavier", "OrgX", 40)).evidence(h1).in(t, cc)) // another partition
	as := anomaliesOf(out, "PHOTO_REUSE")
	var stations []string
	for _, a := range as {
		stations = append(stations, a.StationID+"/"+a.Ballot)
		if a.Evidence["evidence"] != h1 {
			t.Errorf("evidence %v", a.Evidence)
		}
	}
	if !slices.Equal(sortedCopy(stations), []string{"S01/constituency", "S02/constituency"}) {
		t.Errorf("PHOTO_REUSE on %v, want S01 and S02", stations)
	}
	for _, k := range []struct {
		p  int32
		id string
	}{{0, "S01"}, {1, "S02"}} {
		st, _ := l.Station(k.p, k.id)
		res, _ := st.Result("constituency")
		if !slices.Contains(res.Anomalies, "PHOTO_REUSE") {
			t.Errorf("%s codes %v, want PHOTO_REUSE", k.id, res.Anomalies)
		}
	}
	if got := anomaliesOf(out, "PHOTO_REUSE")[0].Submissions; !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("S01's anomaly names %v, want both of alice's reports", got)
	}
}

func TestSpread(t *testing.T) {
	rules := testRules(t) // SpreadMaxStations 3
	cc := rules.Country
	l := NewLedger(rules)
	l.AddPartition(0)
	var out []Output
	send := func(id, station, role string) {
		b := f1(report(id, station, c, final, "vic", "OrgV", 30))
		b.r.Role = role
		out = append(out, l.Apply(0, b.in(t, cc))...)
		l.Commit()
	}
	for i, s := range []string{"S01", "S02", "S03"} {
		send("v"+itoa(i), s, schemas.RoleStation)
	}
	send("v9", "S03", schemas.RoleStation) // a second report for a known station
	if got := raised(out); len(got) != 0 {
		t.Fatalf("raised %v with three stations", got)
	}
	send("v4", "S04", schemas.RoleStation)
	var got []string
	for _, a := range anomaliesOf(out, "SPREAD") {
		got = append(got, a.StationID)
		if a.VolunteerID != "vic" || a.Evidence["stations"] != "4" {
			t.Errorf("SPREAD %+v", a)
		}
	}
	// The first three stations (by received_at) are presumed the assignment.
	if !slices.Equal(got, []string{"S04"}) {
		t.Errorf("SPREAD on %v, want S04, the station beyond the first three", got)
	}
	send("v5", "S05", schemas.RoleStation)
	if n := len(anomaliesOf(out, "SPREAD")); n != 2 {
		t.Errorf("%d SPREAD anomalies after a fifth station, want 2", n)
	}
	st, _ := l.Station(0, "S01")
	if res, _ := st.Result("constituency"); slices.Contains(res.Anomalies, "SPREAD") {
		t.Errorf("S01, in the presumed assignment, carries SPREAD: %v", res.Anomalies)
	}

	// Ingest's flag (a station outside the token's scope) needs no count.
	l3 := NewLedger(rules)
	l3.AddPartition(0)
	b := f1(report("w1", "S07", c, final, "wanda", "OrgW", 30))
	in := b.in(t, cc)
	in.Report.IngestFlags = []string{"SPREAD"}
	if as := anomaliesOf(l3.Apply(0, in), "SPREAD"); len(as) != 1 || as[0].Evidence["flagged_by"] != "ingest" {
		t.Errorf("ingest-flagged report raised %+v, want one SPREAD flagged by ingest", as)
	}

	// A district lead reports for many stations by right.
	l2 := NewLedger(rules)
	l2.AddPartition(0)
	for i, s := range []string{"S01", "S02", "S03", "S04", "S05"} {
		b := f1(report("d"+itoa(i), s, c, final, "lead", "OrgL", 30))
		b.r.Role = schemas.RoleDistrictLead
		if out := l2.Apply(0, b.in(t, cc)); len(raised(out)) != 0 {
			t.Errorf("district lead: raised %v", raised(out))
		}
	}
}
