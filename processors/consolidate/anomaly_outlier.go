package consolidate

import (
	"math"
	"slices"
	"strconv"
	"time"

	"votestream/schemas"
)

// madScale makes the median absolute deviation estimate a standard deviation for normal data.
const madScale = 1.4826

// medianMAD returns the median of xs and the median absolute deviation from it. It sorts a
// copy; xs must not be empty.
func medianMAD(xs []float64) (med, mad float64) {
	return medianMADInto(xs, make([]float64, len(xs)))
}

// medianMADInto is medianMAD with a scratch slice of len(xs) for the copy.
func medianMADInto(xs, scratch []float64) (med, mad float64) {
	s := scratch[:len(xs)]
	copy(s, xs)
	slices.Sort(s)
	med = median(s)
	for i, x := range s {
		s[i] = math.Abs(x - med)
	}
	slices.Sort(s)
	return med, median(s)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// robustZ is how many robust standard deviations x lies from the median; floor bounds the
// MAD from below so that a constituency of near-identical stations does not turn every
// small difference into an outlier.
func robustZ(x, med, mad, floor float64) float64 {
	return (x - med) / (madScale * max(mad, floor))
}

// outlierSample is one station of a constituency with final figures on a ballot.
type outlierSample struct {
	station string
	turnout float64
	fig     *figures
}

// share of the valid votes that number no has.
func (s *outlierSample) share(no int) float64 {
	if s.fig.total <= 0 {
		return 0
	}
	return float64(s.fig.vote(no)) / float64(s.fig.total)
}

// outlierVerdict is what the outlier detectors say about one station and ballot.
type outlierVerdict struct {
	turnout *schemas.Anomaly // nil: not an outlier
	share   *schemas.Anomaly
}

// judgeOutliers works out TURNOUT_OUTLIER and SHARE_OUTLIER for every station of a sample
// (one constituency, one ballot) against the median and MAD of the whole sample. A station's
// verdict can change as other stations report: the caller applies the changes.
func (r *Rules) judgeOutliers(st func(id string) *Station, ballot int, sample []outlierSample, at time.Time) map[string]outlierVerdict {
	out := make(map[string]outlierVerdict, len(sample))
	if len(sample) < r.OutlierMinStations+1 {
		return out
	}
	turnouts := make([]float64, len(sample))
	for i, s := range sample {
		turnouts[i] = s.turnout
	}
	scratch := make([]float64, len(sample))
	tMed, tMAD := medianMADInto(turnouts, scratch)

	// Numbers worth judging: a median share of at least ShareMinMedian. A number missing at
	// more than half the stations has median share 0 and is skipped without sorting.
	count := make(map[int]int, 2*len(sample[0].fig.nos))
	for _, s := range sample {
		for _, no := range s.fig.nos {
			count[int(no)]++
		}
	}
	type stat struct{ med, mad float64 }
	stats := map[int]stat{}
	vals := make([]float64, len(sample))
	for no, c := range count {
		if 2*c < len(sample) {
			continue
		}
		for i, s := range sample {
			vals[i] = s.share(no)
		}
		med, mad := medianMADInto(vals, scratch)
		if med >= r.ShareMinMedian {
			stats[no] = stat{med, mad}
		}
	}
	numbers := make([]int, 0, len(stats))
	for no := range stats {
		numbers = append(numbers, no)
	}
	slices.Sort(numbers)

	for i := range sample {
		s := &sample[i]
		var v outlierVerdict
		station := st(s.station)
		if z := robustZ(s.turnout, tMed, tMAD, r.TurnoutMADFloor); math.Abs(z) > r.OutlierZ {
			v.turnout = newAnomaly(schemas.AnomalyTurnoutOutlier, station, ballotName(ballot), at,
				"turnout "+pct(s.turnout)+" against a constituency median of "+pct(tMed)+" (robust z "+fmtZ(z)+")",
				map[string]string{
					"turnout":         pct(s.turnout),
					"ballots_cast":    strconv.Itoa(s.fig.BallotsCast),
					"eligible_voters": strconv.Itoa(station.EligibleVoters),
					"median":          pct(tMed),
					"mad":             pct(tMAD),
					"z":               fmtZ(z),
					"stations":        strconv.Itoa(len(sample)),
				},
				s.station, ballotName(ballot), s.fig.String())
		}
		worst, worstNo := 0.0, 0
		for _, no := range numbers {
			z := robustZ(s.share(no), stats[no].med, stats[no].mad, r.ShareMADFloor)
			if math.Abs(z) > r.OutlierZ && math.Abs(z) > math.Abs(worst) {
				worst, worstNo = z, no
			}
		}
		if worstNo != 0 {
			st := stats[worstNo]
			v.share = newAnomaly(schemas.AnomalyShareOutlier, station, ballotName(ballot), at,
				"number "+strconv.Itoa(worstNo)+" has "+pct(s.share(worstNo))+" of the valid votes against a constituency median of "+
					pct(st.med)+" (robust z "+fmtZ(worst)+")",
				map[string]string{
					"number":   strconv.Itoa(worstNo),
					"share":    pct(s.share(worstNo)),
					"votes":    strconv.Itoa(s.fig.vote(worstNo)),
					"median":   pct(st.med),
					"mad":      pct(st.mad),
					"z":        fmtZ(worst),
					"stations": strconv.Itoa(len(sample)),
				},
				s.station, ballotName(ballot), s.fig.String())
		}
		out[s.station] = v
	}
	return out
}

func pct(x float64) string  { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }
func fmtZ(z float64) string { return strconv.FormatFloat(z, 'f', 1, 64) }
