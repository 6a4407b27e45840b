package estimate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"votestream/election"
	"votestream/schemas"
)

func baselineFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for n, d := range files {
		m[n] = &fstest.MapFile{Data: []byte(d)}
	}
	return m
}

// Every malformed baseline folder gives a *BaselineError with its stable code.
func TestLoadBaselineErrors(t *testing.T) {
	const head = "station_id,ballot,number,votes\n"
	cases := []struct {
		name  string
		files map[string]string
		code  string
	}{
		{"no votes file", map[string]string{"parties.csv": "party_no,name_th,name_en\n"}, BaselineNoVotes},
		{"missing column", map[string]string{"station_votes.csv": "station_id,ballot,votes\nS1,partylist,3\n"}, BaselineHeader},
		{"bad ballot", map[string]string{"station_votes.csv": head + "S1,senate,1,3\n"}, BaselineBallot},
		{"negative votes", map[string]string{"station_votes.csv": head + "S1,partylist,1,-3\n"}, BaselineNumber},
		{"number zero", map[string]string{"station_votes.csv": head + "S1,partylist,0,3\n"}, BaselineNumber},
		{"empty id", map[string]string{"station_votes.csv": head + ",partylist,1,3\n"}, BaselineEmptyID},
		{"duplicate", map[string]string{"station_votes.csv": head + "S1,partylist,1,3\nS1,partylist,1,4\n"}, BaselineDuplicate},
		{"field count", map[string]string{"station_votes.csv": head + "S1,partylist,1\n"}, BaselineSyntax},
		{"empty", map[string]string{"station_votes.csv": head}, BaselineEmpty},
		{"bad party_no", map[string]string{"station_votes.csv": head + "S1,partylist,1,3\n", "parties.csv": "party_no,name_th,name_en\nx,a,b\n"}, BaselineNumber},
		{"bad candidate", map[string]string{"station_votes.csv": head + "S1,partylist,1,3\n", "candidates.csv": "constituency_id,candidate_no,name,party_no\nC1,0,a,1\n"}, BaselineNumber},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBaseline(baselineFS(tc.files))
			var be *BaselineError
			if !errors.As(err, &be) || !errors.Is(err, ErrBaseline) {
				t.Fatalf("err = %v, want a *BaselineError", err)
			}
			if be.Code != tc.code {
				t.Errorf("code %s (%v), want %s", be.Code, err, tc.code)
			}
		})
	}
}

// previousOf makes a baseline folder from a night's own results: party-list votes of every
// station scaled by factor[party position] (a uniform relative swing), with the ids of the
// first renamed stations changed and the last missing ones left out, the party at position
// dropParty absent (a new party; -1 none), and noise ids of stations since closed.
func previousOf(c *election.Country, r *election.Results, factor []float64, renamed, missing, dropParty int) fstest.MapFS {
	var b strings.Builder
	b.WriteString("station_id,ballot,number,votes\n")
	for i, s := range c.Stations {
		if i >= len(c.Stations)-missing {
			break
		}
		id := s.ID
		if i < renamed {
			id = "old-" + id
		}
		tally := r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}]
		for p, pa := range c.Parties {
			if p == dropParty {
				continue
			}
			fmt.Fprintf(&b, "%s,partylist,%d,%d\n", id, pa.No, int(math.Round(float64(tally.Votes[pa.No])*factor[p])))
		}
	}
	b.WriteString("closed-1,partylist,3,100\n")
	return baselineFS(map[string]string{"station_votes.csv": b.String()})
}

// A baseline whose ids partly match: the match is counted, stations and parties without a
// baseline fall back to the level model (no correction), and every estimate carries the
// swing of the constituencies that are not too early.
func TestBaselinePartialMatch(t *testing.T) {
	c, r := syntheticNight(t, 3, 12, 80)
	factor := []float64{1.2, 0.9, 1, 1.1, 1}
	const renamed, missing = 30, 50
	b, err := LoadBaseline(previousOf(c, r, factor, renamed, missing, 4))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEstimator(c, DefaultMethod())
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.SetBaseline(c, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(c.Stations) - renamed - missing; m.Stations != want || m.StationsFromCons != 0 {
		t.Errorf("stations matched %d (+%d by constituency), want %d", m.Stations, m.StationsFromCons, want)
	}
	if m.IDsUnmatched != renamed+1 {
		t.Errorf("ids unmatched %d, want %d", m.IDsUnmatched, renamed+1)
	}
	if m.Parties != 4 || m.PartiesLeft != 1 {
		t.Errorf("parties with a baseline %d, without %d; want 4 and 1", m.Parties, m.PartiesLeft)
	}
	order := byReportTime(c, r)
	feed(t, e, c, r, order[:len(order)/3])
	rc := newRatioCalc(e.lay, e.ballots[0], e.method)
	rc.compute()
	a := e.baselineAdjust(rc)
	for h := range e.lay.strata {
		if c := a.correction[e.ballots[0].optOff[h]+4]; c != 0 {
			t.Fatalf("the party without a baseline was corrected by %v in stratum %d", c, h)
		}
	}
	res := e.Estimate()
	if res.SharesState == schemas.StateTooEarly {
		t.Fatal("shares too early at a third of the night")
	}
	msg := res.ToSchema("x", time.Time{})
	withSwing := 0
	for _, cr := range msg.Constituencies {
		for _, d := range cr.Candidates {
			if d.Swing != nil {
				withSwing++
			}
		}
	}
	if withSwing == 0 {
		t.Error("no candidate carries a swing")
	}
	// Without a baseline: no swing, no adjustment.
	e2, _ := NewEstimator(c, DefaultMethod())
	if e2.baselineAdjust(rc) != nil {
		t.Error("an estimator without a baseline adjusted its ratios")
	}
	feed(t, e2, c, r, order[:len(order)/3])
	for _, cr := range e2.Estimate().ToSchema("x", time.Time{}).Constituencies {
		for _, d := range cr.Candidates {
			if d.Swing != nil {
				t.Fatal("a swing without a baseline")
			}
		}
	}
}

// byReportTime is the night's stations in report order.
func byReportTime(c *election.Country, r *election.Results) []int {
	idx := make([]int, len(c.Stations))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ta, tb := r.ReportTimes[c.Stations[a].ID], r.ReportTimes[c.Stations[b].ID]
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	return idx
}

// A baseline that is tonight's results under a uniform relative swing predicts every
// station's difference from the others exactly: the slope is measured near 1 and the
// estimate at a fifth of the night is closer to the count than without it.
func TestBaselineUniformSwingIsUsed(t *testing.T) {
	c, r := syntheticNight(t, 5, 16, 100)
	b, err := LoadBaseline(previousOf(c, r, []float64{1.3, 0.8, 1, 1.2, 0.9}, 0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	final, _ := truthOf(c, r)
	var total float64
	for _, v := range final {
		total += float64(v)
	}
	errOf := func(res Result) float64 {
		var worst float64
		for _, p := range res.Parties {
			worst = max(worst, math.Abs(p.Share-float64(final[p.PartyNo])/total))
		}
		return worst
	}
	order := byReportTime(c, r)
	with, _ := NewEstimator(c, DefaultMethod())
	if _, err := with.SetBaseline(c, b); err != nil {
		t.Fatal(err)
	}
	without, _ := NewEstimator(c, DefaultMethod())
	part := order[:len(order)/5]
	feed(t, with, c, r, part)
	feed(t, without, c, r, part)
	for k, g := range with.baselineSlopes()[:4] {
		if g < 0.7 || g > 1.3 {
			t.Errorf("party %d: slope %.3f, want near 1", c.Parties[k].No, g)
		}
	}
	ew, eo := errOf(with.Estimate()), errOf(without.Estimate())
	t.Logf("largest share error at 20 %%: %.3f pts with the baseline, %.3f without", 100*ew, 100*eo)
	if ew >= eo {
		t.Errorf("the baseline did not make the estimate closer: %.4f with, %.4f without", ew, eo)
	}
	if got := slices.Max(with.baselineSlopes()); math.IsNaN(got) {
		t.Error("no slope")
	}
	if s := without.baselineSlopes(); !math.IsNaN(s[0]) {
		t.Errorf("slopes without a baseline: %v", s)
	}
}

// A baseline known only per constituency is spread over the constituency's stations.
func TestBaselinePerConstituency(t *testing.T) {
	c, r := syntheticNight(t, 2, 8, 40)
	var b strings.Builder
	b.WriteString("station_id,ballot,number,votes\n")
	_, _ = truthOf(c, r)
	for _, k := range c.Constituencies[:6] {
		for _, p := range c.Parties {
			fmt.Fprintf(&b, "%s,partylist,%d,%d\n", k.ID, p.No, 1000+p.No)
		}
	}
	bl, err := LoadBaseline(baselineFS(map[string]string{"station_votes.csv": b.String()}))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := NewEstimator(c, DefaultMethod())
	m, err := e.SetBaseline(c, bl)
	if err != nil {
		t.Fatal(err)
	}
	if m.Stations != 0 || m.StationsFromCons != 6*40 || m.Constituencies != 6 {
		t.Errorf("match %+v, want 240 stations from 6 constituencies", m)
	}
	// Nothing matching is an error with its code.
	none, _ := LoadBaseline(baselineFS(map[string]string{"station_votes.csv": "station_id,ballot,number,votes\nnowhere,partylist,3,5\n"}))
	e2, _ := NewEstimator(c, DefaultMethod())
	var be *BaselineError
	if _, err := e2.SetBaseline(c, none); !errors.As(err, &be) || be.Code != BaselineNoMatch {
		t.Errorf("err = %v, want %s", err, BaselineNoMatch)
	}
}

// Party numbers of the previous election are matched to tonight's by name.
func TestBaselinePartiesByName(t *testing.T) {
	c, _ := syntheticNight(t, 2, 4, 10)
	files := map[string]string{
		"station_votes.csv": fmt.Sprintf("station_id,ballot,number,votes\n%s,partylist,1,50\n%s,partylist,2,40\n", c.Stations[0].ID, c.Stations[0].ID),
		"parties.csv":       "party_no,name_th,name_en\n1," + c.Parties[2].NameTH + ",\n2,พรรคที่ไม่มีแล้ว,Gone Party\n",
	}
	bl, err := LoadBaseline(baselineFS(files))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := NewEstimator(c, DefaultMethod())
	m, err := e.SetBaseline(c, bl)
	if err != nil {
		t.Fatal(err)
	}
	if m.Parties != 1 {
		t.Errorf("parties matched %d, want 1 (by name)", m.Parties)
	}
	if got := e.bl.base[0][0][2]; got != 50 {
		t.Errorf("station 0's baseline for %s = %d, want 50", c.Parties[2].NameTH, got)
	}
}

func FuzzLoadBaseline(f *testing.F) {
	f.Add("station_id,ballot,number,votes\nS1,partylist,1,3\nS1,constituency,2,4\n", "party_no,name_th,name_en\n1,ก,A\n")
	f.Add("station_id,ballot,number,votes\n,,,\n", "")
	f.Fuzz(func(t *testing.T, votes, parties string) {
		files := map[string]string{"station_votes.csv": votes}
		if parties != "" {
			files["parties.csv"] = parties
		}
		b, err := LoadBaseline(baselineFS(files))
		if err != nil {
			var be *BaselineError
			if !errors.As(err, &be) {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		for id, u := range b.Votes {
			if id == "" {
				t.Fatal("empty id accepted")
			}
			for _, m := range u {
				for no, v := range m {
					if no < 1 || v < 0 {
						t.Fatalf("number %d votes %d accepted", no, v)
					}
				}
			}
		}
	})
}
