package estimate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"votestream/election"
)

// Order is how a backtest replays the stations of a results set.
type Order string

const (
	// OrderBiased replays a realistic night: by the results set's report times when it
	// has them, else by a model in which a station's count takes time in proportion to its
	// ballots (small stations first), urban stations count a little slower, and a few
	// stations are delayed by recounts.
	OrderBiased Order = "biased"
	// OrderRandom replays the stations in a random order: the best case for an estimator.
	OrderRandom Order = "random"
	// OrderFile replays the stations in the order of the results set's report_times.csv,
	// which must be present.
	OrderFile Order = "file"
)

// Sentinel errors of the backtest.
var (
	ErrBadOrder      = errors.New("estimate: backtest order must be biased, random or file")
	ErrNoReportTimes = errors.New("estimate: the results set has no report_times.csv")
	ErrNoResults     = errors.New("estimate: the results set has no party-list votes")
)

// BacktestConfig says how to replay a night. Flags of `votestream backtest` map onto it.
type BacktestConfig struct {
	// Order of the replay (--order). Default OrderBiased.
	Order Order
	// Seed of the random and modelled orders (--seed). Default 1.
	Seed uint64
	// Steps is how many evenly spaced shares of stations reported are scored (--steps), on
	// top of a few early ones (0.5, 1, 2, 5 %). Default 50 (every 2 %).
	Steps int
	// Method is the estimator's settings. Default DefaultMethod().
	Method Method
	// Baseline is a previous election to project the change from (--baseline); nil none.
	Baseline *Baseline `json:"-"`
}

// DefaultBacktestConfig returns the defaults.
func DefaultBacktestConfig() BacktestConfig {
	return BacktestConfig{Order: OrderBiased, Seed: 1, Steps: 50, Method: DefaultMethod()}
}

// Validate checks the configuration.
func (c BacktestConfig) Validate() error {
	switch c.Order {
	case OrderBiased, OrderRandom, OrderFile:
	default:
		return fmt.Errorf("%w: %q", ErrBadOrder, c.Order)
	}
	if c.Steps < 1 || c.Steps > 10000 {
		return fmt.Errorf("estimate: backtest steps %d not in 1..10000", c.Steps)
	}
	return c.Method.Validate()
}

// Backtest replays a results set (any source in the CSV contract: the simulator's, an
// official count) through the estimator in the order cfg asks for, scoring the estimate at
// every step against the final count. Each station's two ballots are reported together at
// its report time. It stops with ctx's error when ctx is cancelled.
func Backtest(ctx context.Context, c *election.Country, r *election.Results, cfg BacktestConfig) (*BacktestTable, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	est, err := NewEstimator(c, cfg.Method)
	if err != nil {
		return nil, err
	}
	if cfg.Baseline != nil {
		if _, err := est.SetBaseline(c, cfg.Baseline); err != nil {
			return nil, err
		}
	}
	lay := est.lay
	final, err := finalOf(lay, r)
	if err != nil {
		return nil, err
	}
	order, times, err := replayOrder(c, r, cfg)
	if err != nil {
		return nil, err
	}

	checkpoints := checkpointsOf(len(order), cfg.Steps)
	table := &BacktestTable{Config: cfg}
	for i, si := range order {
		s := c.Stations[si]
		for _, b := range election.Ballots {
			if t, ok := r.Tallies[election.StationBallot{StationID: s.ID, Ballot: b}]; ok {
				est.applyTally(int32(si), b, t)
			}
		}
		if !checkpoints[i+1] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row := final.score(est.Estimate(), len(c.Stations))
		row.MinutesAfterClose = times[i]
		table.Rows = append(table.Rows, row)
	}
	table.finish()
	return table, nil
}

// checkpointsOf is the set of reported-station counts a replay of n stations scores: the
// first few stations one by one (nothing may be published there), the early shares of the
// night where the goals are stated (5, 10, 20 %), and steps evenly spaced shares.
func checkpointsOf(n, steps int) map[int]bool {
	cp := map[int]bool{}
	for _, k := range []int{1, 2, 3, 5, 10, 20, 50, 100} {
		if k <= n {
			cp[k] = true
		}
	}
	for _, f := range []float64{0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2} {
		cp[max(1, int(math.Ceil(f*float64(n))))] = true
	}
	for i := 1; i <= steps; i++ {
		cp[int(math.Ceil(float64(i)*float64(n)/float64(steps)))] = true
	}
	return cp
}

// finalResult is the truth a backtest scores against.
type finalResult struct {
	share   []float64 // per party key
	seats   []int
	winners []map[int]bool // per constituency: candidate numbers with the most votes (several on a tie)
}

func finalOf(lay *layout, r *election.Results) (*finalResult, error) {
	K := len(lay.parties)
	votes := make([]int64, K)
	consVotes := make([]map[int]int64, len(lay.cons))
	for i := range consVotes {
		consVotes[i] = map[int]int64{}
	}
	for key, t := range r.Tallies {
		si, ok := lay.stationIdx[key.StationID]
		if !ok {
			continue
		}
		if key.Ballot == election.BallotPartyList {
			for no, v := range t.Votes {
				if k, ok := lay.partyKey[no]; ok {
					votes[k] += int64(v)
				}
			}
			continue
		}
		c := lay.stations[si].cons
		for no, v := range t.Votes {
			if _, ok := lay.cons[c].candIdx[no]; ok {
				consVotes[c][no] += int64(v)
			}
		}
	}
	var total int64
	for _, v := range votes {
		total += v
	}
	if total == 0 {
		return nil, ErrNoResults
	}
	f := &finalResult{share: make([]float64, K), seats: make([]int, K), winners: make([]map[int]bool, len(lay.cons))}
	byNo := make(map[int]int, K)
	for k, v := range votes {
		f.share[k] = float64(v) / float64(total)
		byNo[lay.parties[k]] = int(v)
	}
	seats, err := election.AllocatePartyList(byNo, election.PartyListSeats)
	if err != nil {
		return nil, fmt.Errorf("estimate: final seats: %w", err)
	}
	for k := range K {
		f.seats[k] = seats[lay.parties[k]]
	}
	for c, cv := range consVotes {
		var best int64 = -1
		for _, v := range cv {
			best = max(best, v)
		}
		f.winners[c] = map[int]bool{}
		for no, v := range cv {
			if v == best {
				f.winners[c][no] = true
			}
		}
	}
	return f, nil
}

// replayOrder returns the station positions in replay order and each one's report time.
func replayOrder(c *election.Country, r *election.Results, cfg BacktestConfig) ([]int, []float64, error) {
	n := len(c.Stations)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	times := make([]float64, n)
	byTime := func() {
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(times[a], times[b]) })
	}
	switch {
	case cfg.Order == OrderFile && r.ReportTimes == nil:
		return nil, nil, ErrNoReportTimes
	case cfg.Order == OrderFile || (cfg.Order == OrderBiased && r.ReportTimes != nil):
		// Stations the file leaves out report last, in station order.
		for i, s := range c.Stations {
			t, ok := r.ReportTimes[s.ID]
			if !ok {
				t = math.Inf(1)
			}
			times[i] = t
		}
		byTime()
	case cfg.Order == OrderBiased:
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x6f72646572))
		for i, s := range c.Stations {
			times[i] = modelReportTime(rng, s, r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}],
				r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotConstituency}])
		}
		byTime()
	case cfg.Order == OrderRandom:
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x72616e646f6d))
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		// The clock still runs as on a real night: the i-th station in random order is
		// given the i-th report time of the night (the set's, or the model's).
		clock := make([]float64, 0, n)
		if r.ReportTimes != nil {
			for _, t := range r.ReportTimes {
				clock = append(clock, t)
			}
		} else {
			mr := rand.New(rand.NewPCG(cfg.Seed, 0x6f72646572))
			for _, s := range c.Stations {
				clock = append(clock, modelReportTime(mr, s, r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}],
					r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotConstituency}]))
			}
		}
		slices.Sort(clock)
		for len(clock) < n {
			clock = append(clock, math.Inf(1))
		}
		for i, si := range order {
			times[si] = clock[i]
		}
	}
	out := make([]float64, n)
	for i, si := range order {
		out[i] = times[si]
	}
	return order, out, nil
}

// modelReportTime is the biased order's model of when a station's party-list count is
// known, in minutes after close: set-up, both ballots read one paper at a time at a
// station-specific pace (urban stations a little slower), forms, and for 6 % of stations a
// long delay.
func modelReportTime(r *rand.Rand, s election.Station, pl, cons election.Tally) float64 {
	pace := 0.13 * math.Exp(0.2*r.NormFloat64())
	if s.Urban {
		pace *= 1.1
	}
	t := 8 + 12*r.Float64() + float64(cons.BallotsCast+pl.BallotsCast)*pace + 7 + 6*math.Exp(0.5*r.NormFloat64())
	if r.Float64() < 0.06 {
		t += 60 * r.ExpFloat64()
	}
	return math.Round(t*10) / 10
}
