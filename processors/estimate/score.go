package estimate

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"votestream/schemas"
)

// BacktestRow scores the estimate at one step of the replay against the final count.
type BacktestRow struct {
	StationsReported  int
	ShareReported     float64 // of all stations, 0..1
	MinutesAfterClose float64 // report time of the last station replayed
	// SharesState is the party-list estimate's state: too_early (nothing published beyond
	// the counted votes), estimate, or count.
	SharesState schemas.EstimateState
	// MaxShareError is the largest absolute difference between a party's estimated and
	// final party-list share, in percentage points (published steps only; 0 otherwise).
	MaxShareError float64
	// Major is the number of parties with at least 1 % of the final vote, Covered how many
	// of them have a 95 % interval that holds their final share (published steps only).
	Major, Covered int
	// Widths are the 95 % interval widths, in points, of the parties with at least 10 %
	// of the final vote (published steps only).
	Widths []float64
	// SeatsOff is the sum over parties of |projected list seats - final list seats|.
	SeatsOff int
	// Constituencies with a named leader (not too_early), and how many leaders are not the
	// final winner.
	LeadersRight, LeadersWrong int
	Likely, LikelyWrong        int
	Called, CalledWrong        int
	PriorityUsed               bool
	Seats                      SeatScore // seats_score.go

	leaders     []int // per constituency: the named leader, 0 when too early
	wrongLikely []int // constituencies called likely for the wrong candidate
}

// Coverage is the share of major parties whose interval held their final share, 1 when the
// step published nothing to check.
func (r BacktestRow) Coverage() float64 {
	if r.Major == 0 {
		return 1
	}
	return float64(r.Covered) / float64(r.Major)
}

func (r BacktestRow) published() bool {
	return r.SharesState == schemas.StateEstimate || r.SharesState == schemas.StateCount
}

// BacktestTable is the whole replay.
type BacktestTable struct {
	Config BacktestConfig
	Rows   []BacktestRow
	// FlipFlops counts the times a constituency's named leader changed from one scored step
	// to the next; WrongLikely the constituencies called likely for a wrong candidate at any
	// step (each once), of Constituencies.
	FlipFlops, WrongLikely, Constituencies int
	// flipBand is where each flip-flop happened, by stage band.
	flipBand [nBands]int
}

// finish works out the night-wide counts once every row is in.
func (t *BacktestTable) finish() {
	if len(t.Rows) == 0 {
		return
	}
	nc := len(t.Rows[0].leaders)
	t.Constituencies = nc
	last := make([]int, nc)
	wrong := make([]bool, nc)
	for _, r := range t.Rows {
		for c, l := range r.leaders {
			if l == 0 {
				continue
			}
			if last[c] != 0 && last[c] != l {
				t.FlipFlops++
				t.flipBand[bandOf(r.ShareReported)]++
			}
			last[c] = l
		}
		for _, c := range r.wrongLikely {
			if !wrong[c] {
				wrong[c] = true
				t.WrongLikely++
			}
		}
	}
}

// Stage bands of the night, by share of stations reported. The last scored step (every
// station in) is the count, not an estimate, and is left out of them.
const nBands = 5

var bandNames = [nBands]string{"0-5 %", "5-20 %", "20-50 %", "50-80 %", "80-100 %"}

// BandName names stage band b (0 .. len(BacktestSummary.Bands)-1).
func BandName(b int) string { return bandNames[b] }

func bandOf(f float64) int {
	switch {
	case f < 0.05:
		return 0
	case f < 0.2:
		return 1
	case f < 0.5:
		return 2
	case f < 0.8:
		return 3
	}
	return 4
}

// BandStats pools the scored steps of one stage band over one or several nights.
type BandStats struct {
	Steps, Published int
	// Major and Covered pool the (step, party) pairs of parties with >= 1 % of the final vote
	// over published steps.
	Major, Covered int
	MaxError       float64 // points, published steps
	Widths         []float64
	LeadersRight   int
	LeadersWrong   int
	Likely         int
	LikelyWrong    int
	Called         int
	CalledWrong    int
	FlipFlops      int
}

// Coverage is Covered/Major, NaN when nothing was published.
func (b BandStats) Coverage() float64 {
	if b.Major == 0 {
		return math.NaN()
	}
	return float64(b.Covered) / float64(b.Major)
}

// MedianWidth is the median interval width of the parties with >= 10 %, NaN without any.
func (b BandStats) MedianWidth() float64 { return median(b.Widths) }

// BacktestSummary condenses one or several nights into the figures the goals of
// docs/estimation.md are stated in.
type BacktestSummary struct {
	Nights int
	Bands  [nBands]BandStats
	// At10 is the largest MaxShareError at the first step with at least 10 % of stations
	// reported, over nights where shares were published there; Unpublished10 counts the
	// nights where they were not.
	At10          float64
	Unpublished10 int
	// LeadersRight20 and LeadersNamed20 pool, at the first step with at least 20 % of
	// stations in, the named leaders that are right and all named leaders.
	LeadersRight20, LeadersNamed20 int
	// Widths20 are the interval widths (points) of the parties with >= 10 % at that step.
	Widths20 []float64
	// PublishedEarly counts nights that published shares at 1 or 2 stations; FirstPublished
	// is the latest (over nights) share of stations at which shares were first published, 1
	// when a night never published before the count.
	PublishedEarly int
	FirstPublished float64
	// WrongLikelyCons counts constituencies called likely for a wrong candidate at any step,
	// of Constituencies (summed over nights); FlipFlops the leader changes.
	WrongLikelyCons, Constituencies, FlipFlops int
}

// Summary condenses the table.
func (t *BacktestTable) Summary() BacktestSummary { return Summarize([]*BacktestTable{t}) }

// Summarize condenses several nights.
func Summarize(tables []*BacktestTable) BacktestSummary {
	s := BacktestSummary{Nights: len(tables)}
	for _, t := range tables {
		s.WrongLikelyCons += t.WrongLikely
		s.Constituencies += t.Constituencies
		s.FlipFlops += t.FlipFlops
		for b := range nBands {
			s.Bands[b].FlipFlops += t.flipBand[b]
		}
		first := 1.0
		seen10, seen20 := false, false
		for i, r := range t.Rows {
			if r.published() && r.SharesState != schemas.StateCount {
				first = min(first, r.ShareReported)
				if r.StationsReported <= 2 {
					s.PublishedEarly++
				}
			}
			if !seen10 && r.ShareReported >= 0.1 {
				seen10 = true
				if r.published() {
					s.At10 = max(s.At10, r.MaxShareError)
				} else {
					s.Unpublished10++
				}
			}
			if !seen20 && r.ShareReported >= 0.2 {
				seen20 = true
				s.LeadersRight20 += r.LeadersRight
				s.LeadersNamed20 += r.LeadersRight + r.LeadersWrong
				s.Widths20 = append(s.Widths20, r.Widths...)
			}
			if i == len(t.Rows)-1 && r.StationsReported == t.Rows[len(t.Rows)-1].StationsReported && r.ShareReported >= 1 {
				continue // the count
			}
			b := &s.Bands[bandOf(r.ShareReported)]
			b.Steps++
			if r.published() {
				b.Published++
				b.Major += r.Major
				b.Covered += r.Covered
				b.MaxError = max(b.MaxError, r.MaxShareError)
				b.Widths = append(b.Widths, r.Widths...)
			}
			b.LeadersRight += r.LeadersRight
			b.LeadersWrong += r.LeadersWrong
			b.Likely += r.Likely
			b.LikelyWrong += r.LikelyWrong
			b.Called += r.Called
			b.CalledWrong += r.CalledWrong
		}
		s.FirstPublished = max(s.FirstPublished, first)
	}
	return s
}

// Total pools the bands.
func (s BacktestSummary) Total() BandStats {
	var t BandStats
	for _, b := range s.Bands {
		t.Steps += b.Steps
		t.Published += b.Published
		t.Major += b.Major
		t.Covered += b.Covered
		t.MaxError = max(t.MaxError, b.MaxError)
		t.Widths = append(t.Widths, b.Widths...)
		t.LeadersRight += b.LeadersRight
		t.LeadersWrong += b.LeadersWrong
		t.Likely += b.Likely
		t.LikelyWrong += b.LikelyWrong
		t.Called += b.Called
		t.CalledWrong += b.CalledWrong
		t.FlipFlops += b.FlipFlops
	}
	return t
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (f *finalResult) score(res Result, stations int) BacktestRow {
	row := BacktestRow{
		StationsReported: res.PartyList.StationsReported,
		ShareReported:    float64(res.PartyList.StationsReported) / float64(max(stations, 1)),
		PriorityUsed:     res.Priority.Used,
		SharesState:      res.SharesState,
	}
	row.Seats = f.seatScore(res) // seats_score.go
	// Shares are computed in floating point along two different paths; a final estimate
	// equal to the count may differ from it in the last bits.
	const eps = 1e-12
	if row.published() {
		for k, p := range res.Parties {
			truth := f.share[k]
			row.MaxShareError = max(row.MaxShareError, 100*math.Abs(p.Share-truth))
			if truth >= 0.01 {
				row.Major++
				if p.ShareLo-eps <= truth && truth <= p.ShareHi+eps {
					row.Covered++
				}
			}
			if truth >= 0.1 {
				row.Widths = append(row.Widths, 100*(p.ShareHi-p.ShareLo))
			}
			row.SeatsOff += abs(p.Seats - f.seats[k])
		}
	}
	row.leaders = make([]int, len(res.Constituencies))
	for c, cr := range res.Constituencies {
		if cr.Call == schemas.CallTooEarly {
			continue
		}
		row.leaders[c] = cr.LeaderNo
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
				row.wrongLikely = append(row.wrongLikely, c)
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

// WriteCSV writes the table with a header row.
func (t *BacktestTable) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"stations_reported", "share_reported", "minutes_after_close", "shares_state", "max_share_error_pts",
		"major_parties", "major_covered", "median_width_big_pts", "seats_off", "leaders_right", "leaders_wrong", "likely", "likely_wrong",
		"called", "called_wrong", "priority_used"})
	f := func(x float64, prec int) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', prec, 64)
	}
	for _, r := range t.Rows {
		_ = cw.Write([]string{
			strconv.Itoa(r.StationsReported), f(r.ShareReported, 4), f(r.MinutesAfterClose, 1), string(r.SharesState), f(r.MaxShareError, 3),
			strconv.Itoa(r.Major), strconv.Itoa(r.Covered), f(median(r.Widths), 3), strconv.Itoa(r.SeatsOff),
			strconv.Itoa(r.LeadersRight), strconv.Itoa(r.LeadersWrong),
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
	fmt.Fprintln(tw, "reported\tstations\tminutes\tshares\tmax err (pts)\tcoverage\twidth>=10%\tseats off\tleaders right\twrong\tlikely\twrong\tcalled\twrong\tpriority\t")
	for _, r := range t.Rows {
		pri := ""
		if r.PriorityUsed {
			pri = "yes"
		}
		fmt.Fprintf(tw, "%.1f %%\t%d\t%.0f\t%s\t%.3f\t%d/%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			100*r.ShareReported, r.StationsReported, r.MinutesAfterClose, r.SharesState, r.MaxShareError, r.Covered, r.Major,
			fmtFloat(median(r.Widths), 2), r.SeatsOff, r.LeadersRight, r.LeadersWrong, r.Likely, r.LikelyWrong, r.Called, r.CalledWrong, pri)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return t.Summary().Format(w)
}

func fmtFloat(x float64, prec int) string {
	if math.IsNaN(x) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}

// Format prints the summary: one line per stage band, then the goals' figures.
func (s BacktestSummary) Format(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "band\tsteps\tpublished\tcoverage >=1%\tmax err (pts)\tmedian width >=10% (pts)\tleaders right\tlikely\tlikely wrong\tcalled wrong\tflip-flops\t")
	for b, st := range s.Bands {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t\n", bandNames[b], st.Steps, st.Published,
			fmtFloat(st.Coverage(), 3), fmtFloat(nanIfNone(st.MaxError, st.Published), 2), fmtFloat(st.MedianWidth(), 2),
			fmtFloat(ratio(st.LeadersRight, st.LeadersRight+st.LeadersWrong), 3), st.Likely, st.LikelyWrong, st.CalledWrong, st.FlipFlops)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, s.GoalLine())
	return err
}

// GoalLine states the summary's figures against the goals of docs/estimation.md.
func (s BacktestSummary) GoalLine() string {
	t := s.Total()
	var b strings.Builder
	fmt.Fprintf(&b, "nights %d: coverage %s; max err at 10 %% %s", s.Nights, fmtFloat(t.Coverage(), 3), fmtFloat(s.At10, 2))
	if s.Unpublished10 > 0 {
		fmt.Fprintf(&b, " (unpublished on %d)", s.Unpublished10)
	}
	fmt.Fprintf(&b, "; leaders right at 20 %% %s; width at 20 %% %s; published at 1-2 stations %d; first published by %.1f %%; "+
		"likely wrong %d/%d (%s per 1000), constituencies %d/%d; called wrong %d/%d; flip-flops %d",
		fmtFloat(ratio(s.LeadersRight20, s.LeadersNamed20), 3), fmtFloat(median(s.Widths20), 2), s.PublishedEarly, 100*s.FirstPublished,
		t.LikelyWrong, t.Likely, fmtFloat(1000*ratio(t.LikelyWrong, t.Likely), 2), s.WrongLikelyCons, s.Constituencies,
		t.CalledWrong, t.Called, s.FlipFlops)
	return b.String()
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func nanIfNone(x float64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return x
}

// FormatMarkdown prints the per-band table and the goals' line as Markdown.
func (s BacktestSummary) FormatMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| stations reported | steps | published | coverage, parties >= 1 % | max error (pts) | median width, parties >= 10 % (pts) | leaders right | likely | likely wrong | called wrong | flip-flops |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for i, st := range s.Bands {
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %d | %d | %d | %d |\n", bandNames[i], st.Steps, st.Published,
			fmtFloat(st.Coverage(), 3), fmtFloat(nanIfNone(st.MaxError, st.Published), 2), fmtFloat(st.MedianWidth(), 2),
			fmtFloat(ratio(st.LeadersRight, st.LeadersRight+st.LeadersWrong), 3), st.Likely, st.LikelyWrong, st.CalledWrong, st.FlipFlops)
	}
	fmt.Fprintf(&b, "\n%s\n", s.GoalLine())
	_, err := io.WriteString(w, b.String())
	return err
}
