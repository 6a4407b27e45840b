package estimate

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"text/tabwriter"

	"votestream/election"
	"votestream/schemas"
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

// BacktestRow scores the estimate at one step of the replay against the final count.
type BacktestRow struct {
	StationsReported  int
	ShareReported     float64 // of all stations, 0..1
	MinutesAfterClose float64 // report time of the last station replayed
	// MaxShareError is the largest absolute difference between a party's estimated and
	// final party-list share, in percentage points.
	MaxShareError float64
	// Coverage is the fraction of parties whose 95 % interval holds the final share;
	// CoverageMajor the same over parties with at least 1 % of the final vote.
	Coverage      float64
	CoverageMajor float64
	// SeatsOff is the sum over parties of |projected seats - final seats|.
	SeatsOff int
	// Constituencies with a named leader (not too_early), and how many leaders are not the
	// final winner.
	LeadersRight, LeadersWrong int
	Likely, LikelyWrong        int
	Called, CalledWrong        int
	PriorityUsed               bool
}

// BacktestTable is the whole replay.
type BacktestTable struct {
	Config BacktestConfig
	Rows   []BacktestRow
}

// BacktestSummary condenses a table (or several nights) into the figures the goals of
// docs/estimation.md are stated in.
type BacktestSummary struct {
	Nights int
	// MaxErrorAfter20 is the largest MaxShareError once at least 20 % of stations reported.
	MaxErrorAfter20 float64
	// Coverage is the share of (step, party) pairs whose interval held the final share,
	// over the steps strictly between 0 and 100 % reported; CoverageMajor the same for
	// parties with at least 1 % of the vote.
	Coverage, CoverageMajor float64
	Likely, LikelyWrong     int
	Called, CalledWrong     int
	LeadersRight            int
	LeadersWrong            int
}

// Summary condenses the table.
func (t *BacktestTable) Summary() BacktestSummary { return Summarize([]*BacktestTable{t}) }

// Summarize condenses several nights.
func Summarize(tables []*BacktestTable) BacktestSummary {
	s := BacktestSummary{Nights: len(tables)}
	var covN, covMajorN float64
	var covSum, covMajorSum float64
	for _, t := range tables {
		for _, r := range t.Rows {
			if r.ShareReported >= 0.2 {
				s.MaxErrorAfter20 = max(s.MaxErrorAfter20, r.MaxShareError)
			}
			if r.ShareReported > 0 && r.ShareReported < 1 {
				covSum += r.Coverage
				covN++
				covMajorSum += r.CoverageMajor
				covMajorN++
			}
			s.Likely += r.Likely
			s.LikelyWrong += r.LikelyWrong
			s.Called += r.Called
			s.CalledWrong += r.CalledWrong
			s.LeadersRight += r.LeadersRight
			s.LeadersWrong += r.LeadersWrong
		}
	}
	if covN > 0 {
		s.Coverage = covSum / covN
		s.CoverageMajor = covMajorSum / covMajorN
	}
	return s
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
	lay := est.lay
	final, err := finalOf(lay, r)
	if err != nil {
		return nil, err
	}
	order, times, err := replayOrder(c, r, cfg)
	if err != nil {
		return nil, err
	}

	checkpoints := map[int]bool{}
	n := len(order)
	for _, f := range []float64{0.005, 0.01, 0.02, 0.05} {
		checkpoints[int(math.Ceil(f*float64(n)))] = true
	}
	for i := 1; i <= cfg.Steps; i++ {
		checkpoints[int(math.Ceil(float64(i)*float64(n)/float64(cfg.Steps)))] = true
	}
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
	return table, nil
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

func (f *finalResult) score(res Result, stations int) BacktestRow {
	row := BacktestRow{
		StationsReported: res.PartyList.StationsReported,
		ShareReported:    float64(res.PartyList.StationsReported) / float64(max(stations, 1)),
		PriorityUsed:     res.Priority.Used,
	}
	// Shares are computed in floating point along two different paths; a final estimate
	// equal to the count may differ from it in the last bits.
	const eps = 1e-12
	var covered, major, majorCovered int
	for k, p := range res.Parties {
		truth := f.share[k]
		row.MaxShareError = max(row.MaxShareError, 100*math.Abs(p.Share-truth))
		in := p.ShareLo-eps <= truth && truth <= p.ShareHi+eps
		if in {
			covered++
		}
		if truth >= 0.01 {
			major++
			if in {
				majorCovered++
			}
		}
		row.SeatsOff += abs(p.Seats - f.seats[k])
	}
	row.Coverage = float64(covered) / float64(max(len(res.Parties), 1))
	row.CoverageMajor = 1
	if major > 0 {
		row.CoverageMajor = float64(majorCovered) / float64(major)
	}
	for c, cr := range res.Constituencies {
		if cr.Call == schemas.CallTooEarly {
			continue
		}
		right := f.winners[c][cr.LeaderNo]
		if right {
			row.LeadersRight++
		} else {
			row.LeadersWrong++
		}
		switch cr.Call {
		case schemas.CallLikely:
			row.Likely++
			if !right {
				row.LikelyWrong++
			}
		case schemas.CallCalled:
			row.Called++
			if !right {
				row.CalledWrong++
			}
		}
	}
	return row
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
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

// WriteCSV writes the table with a header row.
func (t *BacktestTable) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"stations_reported", "share_reported", "minutes_after_close", "max_share_error_pts",
		"coverage", "coverage_major", "seats_off", "leaders_right", "leaders_wrong", "likely", "likely_wrong",
		"called", "called_wrong", "priority_used"})
	f := func(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	for _, r := range t.Rows {
		_ = cw.Write([]string{
			strconv.Itoa(r.StationsReported), f(r.ShareReported, 4), f(r.MinutesAfterClose, 1), f(r.MaxShareError, 3),
			f(r.Coverage, 3), f(r.CoverageMajor, 3), strconv.Itoa(r.SeatsOff), strconv.Itoa(r.LeadersRight), strconv.Itoa(r.LeadersWrong),
			strconv.Itoa(r.Likely), strconv.Itoa(r.LikelyWrong), strconv.Itoa(r.Called), strconv.Itoa(r.CalledWrong),
			strconv.FormatBool(r.PriorityUsed),
		})
	}
	cw.Flush()
	return cw.Error()
}

// Format prints the table for a person, then its summary.
func (t *BacktestTable) Format(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "reported\tminutes\tmax err (pts)\tcoverage\tmajor cov.\tseats off\tleaders right\twrong\tlikely\twrong\tcalled\twrong\tpriority\t")
	for _, r := range t.Rows {
		pri := ""
		if r.PriorityUsed {
			pri = "yes"
		}
		fmt.Fprintf(tw, "%.1f %%\t%.0f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			100*r.ShareReported, r.MinutesAfterClose, r.MaxShareError, r.Coverage, r.CoverageMajor, r.SeatsOff,
			r.LeadersRight, r.LeadersWrong, r.Likely, r.LikelyWrong, r.Called, r.CalledWrong, pri)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return t.Summary().Format(w)
}

// Format prints the summary.
func (s BacktestSummary) Format(w io.Writer) error {
	likelyRate := 0.0
	if s.Likely > 0 {
		likelyRate = float64(s.LikelyWrong) / float64(s.Likely)
	}
	_, err := fmt.Fprintf(w, "nights %d: max share error once 20 %% reported %.3f pts; interval coverage %.3f (parties >= 1 %%: %.3f); "+
		"leaders right %d, wrong %d; likely %d, wrong %d (%.5f); called %d, wrong %d\n",
		s.Nights, s.MaxErrorAfter20, s.Coverage, s.CoverageMajor, s.LeadersRight, s.LeadersWrong,
		s.Likely, s.LikelyWrong, likelyRate, s.Called, s.CalledWrong)
	return err
}
