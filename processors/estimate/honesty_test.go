package estimate

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// feed applies the true results of the stations at positions idx (both ballots).
func feed(t *testing.T, e *Estimator, c *election.Country, r *election.Results, idx []int) {
	t.Helper()
	for _, i := range idx {
		s := c.Stations[i]
		for _, b := range election.Ballots {
			tl, ok := r.Tallies[election.StationBallot{StationID: s.ID, Ballot: b}]
			if !ok {
				continue
			}
			if err := e.Apply(resultOf(s, b, tl, schemas.StatusVerified, 1)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The guard on hand-worked cases: one station, two stations, a whole region and nothing
// of the other, half the country, all of it.
func TestGuard(t *testing.T) {
	c, r := syntheticNight(t, 21, 16, 40) // 640 stations: the guard wants 10 (1 %, at least 10)
	region := map[string]string{}
	for _, p := range c.Provinces {
		region[p.ID] = p.Region
	}
	regionOf := func(i int) string {
		k, _ := c.Constituency(c.Stations[i].ConstituencyID)
		return region[k.ProvinceID]
	}
	// Stations arrive in a random order (in the order of the list, one constituency after
	// another, the estimate would move so much that the drift term holds it back).
	var north, all []int
	for _, i := range rand.New(rand.NewPCG(21, 1)).Perm(len(c.Stations)) {
		all = append(all, i)
		if regionOf(i) == "north" {
			north = append(north, i)
		}
	}
	half := all[:len(all)/2]
	tests := []struct {
		name     string
		stations []int
		want     schemas.EstimateState
	}{
		{"one station", all[:1], schemas.StateTooEarly},
		{"two stations", all[:2], schemas.StateTooEarly},
		{"one region of two (" + strconv.Itoa(len(north)) + " stations)", north, schemas.StateTooEarly},
		{"half the country", half, schemas.StateEstimate},
		{"every station", all, schemas.StateCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEstimator(c, DefaultMethod())
			if err != nil {
				t.Fatal(err)
			}
			feed(t, e, c, r, tt.stations)
			res := e.Estimate()
			if res.SharesState != tt.want {
				t.Fatalf("shares %s at %d stations, want %s", res.SharesState, res.PartyList.StationsReported, tt.want)
			}
			msg := res.ToSchema("x", res.DataTime)
			if msg.SharesState != tt.want {
				t.Errorf("estimates.v1 says %q, want %q", msg.SharesState, tt.want)
			}
			if tt.want == schemas.StateTooEarly {
				for _, p := range msg.Parties {
					if p.Share != 0 || p.ShareLo != 0 || p.ShareHi != 0 || p.Seats != 0 || p.ProjectedVotes != 0 {
						t.Fatalf("too early, yet party %d is published: %+v", p.PartyNo, p)
					}
				}
			}
		})
	}
}

// A party drifting steadily with the reported share u, p(u) = 0.3 + 0.1u: what is left to
// move at u = 0.5 is 0.1 × (1 - 0.5) = 0.05, whose square the bias term must return; shares
// that do not move add nothing.
func TestTrendBias(t *testing.T) {
	var drift, still trendHistory
	const se = 0.001
	for u := 0.25; u < 0.5; u += 0.02 {
		drift.snaps = append(drift.snaps, snapshot{u: u, share: []float64{0.3 + 0.1*u, 0.7 - 0.1*u}, se: []float64{se, se}})
		still.snaps = append(still.snaps, snapshot{u: u, share: []float64{0.4, 0.6}, se: []float64{se, se}})
	}
	got := drift.bias2(0.5, []float64{0.35, 0.65}, []float64{se, se})
	for k, b2 := range got {
		if math.Abs(b2-0.0025) > 1e-6 {
			t.Errorf("party %d: drift variance %.6f, want 0.0025", k, b2)
		}
	}
	for k, b2 := range still.bias2(0.5, []float64{0.4, 0.6}, []float64{se, se}) {
		if b2 > 1e-12 {
			t.Errorf("party %d: shares that do not move get a drift variance %g", k, b2)
		}
	}
}

// The drift history is taken as stations arrive, so how often the estimate is asked for
// does not change it.
func TestTrendIndependentOfPublishing(t *testing.T) {
	c, r := syntheticNight(t, 22, 12, 40)
	order := make([]int, len(c.Stations))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return int(r.ReportTimes[c.Stations[a].ID]*10) - int(r.ReportTimes[c.Stations[b].ID]*10)
	})
	order = order[:len(order)*3/4]
	quiet, _ := NewEstimator(c, DefaultMethod())
	busy, _ := NewEstimator(c, DefaultMethod())
	feed(t, quiet, c, r, order)
	for i := range order {
		feed(t, busy, c, r, order[i:i+1])
		if i%7 == 0 {
			busy.Estimate()
		}
	}
	a, b := quiet.Estimate(), busy.Estimate()
	if len(quiet.trend.snaps) < 10 {
		t.Fatalf("only %d snapshots over three quarters of the night", len(quiet.trend.snaps))
	}
	for k := range a.Parties {
		if a.Parties[k].ShareLo != b.Parties[k].ShareLo || a.Parties[k].ShareHi != b.Parties[k].ShareHi {
			t.Errorf("party %d: [%v, %v] without publishing, [%v, %v] publishing often", a.Parties[k].PartyNo,
				a.Parties[k].ShareLo, a.Parties[k].ShareHi, b.Parties[k].ShareLo, b.Parties[k].ShareHi)
		}
	}
}
