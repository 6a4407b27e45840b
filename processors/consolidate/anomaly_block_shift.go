package consolidate

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"votestream/schemas"
)

// BLOCK_SHIFT: one organisation's final forms in a constituency lean, together, toward one
// number against every other organisation's finals there. A falsifier who shades each of a
// block's counts by a few points stays inside the spread between stations, which is what
// SHARE_OUTLIER measures one station at a time; the mean of the block's n stations moves
// as far, but its standard error is the spread over the square root of n. So the test is a
// two-sample one: the block's mean share of each number against the mean of every other
// organisation's finals in the constituency (each organisation's current final at a station
// counts once, so a station with three observers counts three times in the rest), in units
// of the rest's standard deviation times sqrt(1/n_block + 1/n_rest); a number that passes
// is confirmed on the block's median (judgeBlock).
//
// It looks at every partition the process holds (a constituency's stations are spread over
// all of them): with one consolidator, the whole constituency; with several, each process
// judges the part of the constituency it holds. Shares are kept in millionths in int64
// sums, so every update is undone exactly (Rollback) and the verdict is the same whatever
// order the reports came in: a function of each organisation's current finals.

// shareUnit is the fixed-point scale of a share in the block sums.
const shareUnit = 1_000_000

type blockCons struct {
	constituency string
	ballot       int
}

type blockGroup struct {
	org string
	blockCons
}

type blockSlot struct {
	org, station string
	ballot       int
}

// blockEntry is an organisation's current final at a station.
type blockEntry struct {
	part       int32
	submission string
	at         time.Time
	fig        *figures
}

// blockSums are the sums over a set of finals of each number's share and squared share,
// dense by the constituency's number index.
type blockSums struct {
	n       int64
	sum, sq []int64
}

type blockConsState struct {
	blockSums
	index  map[int32]int // number -> position in the sums
	nos    []int32       // position -> number
	groups []string      // organisations with finals here, sorted
}

type blockGroupState struct {
	blockSums
	stations map[string]int32 // station -> partition
	on       int              // number the verdict in force names, 0 for none
}

func (s *blockSums) add(c *blockConsState, f *figures, sign int64) {
	if len(s.sum) < len(c.nos) {
		s.sum = append(s.sum, make([]int64, len(c.nos)-len(s.sum))...)
		s.sq = append(s.sq, make([]int64, len(c.nos)-len(s.sq))...)
	}
	s.n += sign
	for i, no := range f.nos() {
		sh := int64(f.votes()[i]) * shareUnit / int64(f.total)
		j := c.index[no]
		s.sum[j] += sign * sh
		s.sq[j] += sign * sh * sh
	}
}

// blockShiftInput records an organisation's final and re-judges the constituency's blocks.
func (l *Ledger) blockShift(p int32, rep *Report) []Output {
	if rep.Stage() != schemas.StageFinal || rep.Org == "" || !rep.fig.consistent || rep.fig.total <= 0 {
		return nil
	}
	st, ok := l.rules.Country.StationByID(rep.StationID)
	if !ok {
		return nil
	}
	b := ballotIndex(rep.Ballot())
	ck := blockCons{st.ConstituencyID, b}
	slot := blockSlot{rep.Org, rep.StationID, b}
	old, had := l.blockAt[slot]
	if had && cmp.Or(rep.ReceivedAt.Compare(old.at), strings.Compare(rep.SubmissionID, old.submission)) <= 0 {
		return nil // an older final of the organisation, or the same one again
	}
	entry := blockEntry{part: p, submission: rep.SubmissionID, at: rep.ReceivedAt, fig: &rep.fig}
	l.setBlockEntry(slot, ck, entry)
	l.record(func() {
		if had {
			l.setBlockEntry(slot, ck, old)
		} else {
			l.removeBlockEntry(slot, ck)
		}
	})
	if l.replaying >= 0 {
		if l.blockUnjudged == nil {
			l.blockUnjudged = map[blockCons]struct{}{}
		}
		l.blockUnjudged[ck] = struct{}{}
		return nil
	}
	return l.judgeBlocks(ck, rep.ReceivedAt)
}

// setBlockEntry puts e in slot, taking out what was there.
func (l *Ledger) setBlockEntry(slot blockSlot, ck blockCons, e blockEntry) {
	l.removeBlockEntry(slot, ck)
	c := l.blockCons[ck]
	if c == nil {
		c = &blockConsState{index: map[int32]int{}}
		l.blockCons[ck] = c
	}
	gk := blockGroup{slot.org, ck}
	g := l.blockGroups[gk]
	if g == nil {
		g = &blockGroupState{stations: map[string]int32{}}
		l.blockGroups[gk] = g
		i, _ := slices.BinarySearch(c.groups, slot.org)
		c.groups = slices.Insert(c.groups, i, slot.org)
	}
	for _, no := range e.fig.nos() {
		if _, ok := c.index[no]; !ok {
			c.index[no] = len(c.nos)
			c.nos = append(c.nos, no)
		}
	}
	c.add(c, e.fig, 1)
	g.add(c, e.fig, 1)
	g.stations[slot.station] = e.part
	l.blockAt[slot] = e
}

// removeBlockEntry takes slot's final out of the sums. The group and its verdict stay
// (a verdict is only changed by judging).
func (l *Ledger) removeBlockEntry(slot blockSlot, ck blockCons) {
	e, ok := l.blockAt[slot]
	if !ok {
		return
	}
	c := l.blockCons[ck]
	g := l.blockGroups[blockGroup{slot.org, ck}]
	c.add(c, e.fig, -1)
	g.add(c, e.fig, -1)
	delete(g.stations, slot.station)
	delete(l.blockAt, slot)
}

// blockVerdict is the test's answer for one organisation's block.
type blockVerdict struct {
	no                int
	share, rest, z    float64
	stations, reports int64
}

// judgeBlock tests one organisation's finals against the rest of the constituency's. The
// sums give a quick screen (the block's mean); a number that passes it is confirmed on the
// block's median share (figs gives the block's finals), so that one wild form in a block
// (a count keyed by the other ballot's numbers, a single falsified station) does not make
// the whole block look shifted: a shifted block moves every one of its stations.
func (r *Rules) judgeBlock(c *blockConsState, g *blockGroupState, figs func() []*figures) blockVerdict {
	ng, nr := g.n, c.n-g.n
	if ng < int64(r.BlockMinStations) || nr < int64(r.BlockMinRest) {
		return blockVerdict{}
	}
	best := blockVerdict{stations: ng, reports: nr}
	se := math.Sqrt(1/float64(ng) + 1/float64(nr))
	// The median of n normal values has a standard error about sqrt(pi/2) times the mean's.
	seMed := math.Sqrt(math.Pi/2/float64(ng) + 1/float64(nr))
	var members []*figures
	var shares []float64
	for j, no := range c.nos {
		var gs, gq int64
		if j < len(g.sum) {
			gs, gq = g.sum[j], g.sq[j]
		}
		mg := float64(gs) / shareUnit / float64(ng)
		mr := float64(c.sum[j]-gs) / shareUnit / float64(nr)
		v := float64(c.sq[j]-gq)/(shareUnit*shareUnit)/float64(nr) - mr*mr
		sd := max(math.Sqrt(max(v, 0)), r.BlockSDFloor)
		if z := (mg - mr) / (sd * se); math.Abs(z) <= r.BlockZ || math.Abs(mg-mr) < r.BlockMinShift {
			continue
		}
		if members == nil {
			members = figs()
			shares = make([]float64, len(members))
		}
		for i, f := range members {
			shares[i] = float64(f.vote(int(no))) / float64(f.total)
		}
		slices.Sort(shares)
		med := median(shares)
		z := (med - mr) / (sd * seMed)
		if math.Abs(z) > r.BlockZ && math.Abs(med-mr) >= r.BlockMinShift && math.Abs(z) > math.Abs(best.z) {
			best.no, best.share, best.rest, best.z = int(no), med, mr, z
		}
	}
	return best
}

// judgeBlocks re-judges every organisation's block in a constituency and ballot and flags
// or clears the stations of those whose verdict changed.
func (l *Ledger) judgeBlocks(ck blockCons, at time.Time) []Output {
	c := l.blockCons[ck]
	if c == nil {
		return nil
	}
	var out []Output
	for _, org := range c.groups {
		g := l.blockGroups[blockGroup{org, ck}]
		v := l.rules.judgeBlock(c, g, func() []*figures {
			out := make([]*figures, 0, len(g.stations))
			for s := range g.stations {
				out = append(out, l.blockAt[blockSlot{org, s, ck.ballot}].fig)
			}
			return out
		})
		if v.no == 0 && g.on == 0 {
			continue
		}
		if old := g.on; old != v.no {
			g.on = v.no
			l.record(func() { g.on = old })
		}
		stations := make([]string, 0, len(g.stations))
		for s := range g.stations {
			stations = append(stations, s)
		}
		slices.Sort(stations)
		for _, s := range stations {
			f := Flag{Ballot: ballotOf(ck.ballot), Code: schemas.AnomalyBlockShift, On: v.no != 0, At: at}
			if f.On {
				f.Anomaly = l.blockAnomaly(org, s, ck, v, at)
			} else if l.blockFlaggedByOther(org, s, ck) {
				continue
			}
			out = append(out, l.flag(g.stations[s], s, f, false)...)
		}
	}
	return out
}

// blockFlaggedByOther reports whether another organisation's block in force covers station s.
func (l *Ledger) blockFlaggedByOther(org, s string, ck blockCons) bool {
	for _, o := range l.blockCons[ck].groups {
		if o == org {
			continue
		}
		if g := l.blockGroups[blockGroup{o, ck}]; g.on != 0 {
			if _, ok := g.stations[s]; ok {
				return true
			}
		}
	}
	return false
}

func (l *Ledger) blockAnomaly(org, station string, ck blockCons, v blockVerdict, at time.Time) *schemas.Anomaly {
	st, err := l.rules.NewStation(station)
	if err != nil {
		st = Station{ID: station, ConstituencyID: ck.constituency}
	}
	no := strconv.Itoa(v.no)
	a := newAnomaly(schemas.AnomalyBlockShift, &st, ballotName(ck.ballot), at,
		org+"'s "+strconv.FormatInt(v.stations, 10)+" finals in "+ck.constituency+" give number "+no+" a median "+pct(v.share)+
			" of the valid votes, against "+pct(v.rest)+" in the other "+strconv.FormatInt(v.reports, 10)+
			" finals there (z "+fmtZ(v.z)+")",
		map[string]string{
			"org":          org,
			"number":       no,
			"share":        pct(v.share),
			"rest_share":   pct(v.rest),
			"shift":        pct(v.share - v.rest),
			"z":            fmtZ(v.z),
			"stations":     strconv.FormatInt(v.stations, 10),
			"rest_reports": strconv.FormatInt(v.reports, 10),
		},
		org, ck.constituency, ballotName(ck.ballot), station, no)
	if e, ok := l.blockAt[blockSlot{org, station, ck.ballot}]; ok {
		a.Submissions = []string{e.submission}
	}
	return a
}

// settleBlocks judges every constituency a replay changed, publishing nothing: flags not
// already on anomalies.v1 wait for Drain (reports of other partitions stand behind them).
func (l *Ledger) settleBlocks() {
	keys := make([]blockCons, 0, len(l.blockUnjudged))
	for k := range l.blockUnjudged {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b blockCons) int {
		return cmp.Or(strings.Compare(a.constituency, b.constituency), cmp.Compare(a.ballot, b.ballot))
	})
	for _, k := range keys {
		l.replaying = 0 // any partition: the flags are not local, so all wait unless published
		l.judgeBlocks(k, time.Time{})
		l.replaying = -1
	}
	l.blockUnjudged = nil
}

// dropBlockPartition takes partition p's finals out of the block sums. Verdicts in force
// stay until the constituency is judged again.
func (l *Ledger) dropBlockPartition(p int32) {
	for slot, e := range l.blockAt {
		if e.part == p {
			st, _ := l.rules.Country.StationByID(slot.station)
			l.removeBlockEntry(slot, blockCons{st.ConstituencyID, slot.ballot})
		}
	}
}
