package consolidate

import (
	"slices"
	"time"

	"votestream/schemas"
)

// Ledger holds the stations of the partitions one process owns and runs the detectors that
// look across stations. Stations are partitioned like the input topics, whose producers place
// every station of a constituency on one partition (internal/partition), so a station lives
// in exactly one partition and so does its whole constituency.
//
// Cross-station scope, deliberately:
//   - TURNOUT_OUTLIER and SHARE_OUTLIER compare a station with the stations of its
//     constituency on the same partition: all of them. The verdict then depends only on that
//     partition's input, whichever process owns it, so replays and rebalances give the same
//     answer. Rules.OutlierAcrossPartitions compares it with every partition this process
//     holds instead, which only matters for topics written without the partitioner, and
//     then the flags raised along the way depend on how the partitions' records interleave.
//   - BLOCK_SHIFT compares an organisation with the rest of a constituency: whole, for the
//     same reason.
//   - PHOTO_REUSE and SPREAD look at every partition this process owns: a reused photo or a
//     volunteer spread over many stations is found across partitions as long as one process
//     owns them (always, with one consolidator). With several, pairs split between processes
//     are missed; docs/consolidation.md says how to close that gap.
//
// Versions: the Ledger knows each partition's input position (the sum over the three input
// topics of the next offset to read, see Advance) and publishes with a version of at least
// position x VersionStep. Positions only grow, and everything published before a crash was
// published at a position at most the committed one, so the first result after a restart,
// which comes from a record beyond it, has a higher version than anything before: versions
// keep growing across restarts and rebalances without reading the results topic back. A key
// gets fewer than VersionStep/2 results at one position (one per input, plus a few flags),
// so the steps never overlap. Drain is the exception: it publishes, without an input of
// its own, flags a replay found, at the committed position, where the process before may
// already have published that key beyond what the replay rebuilt. So Drain publishes with
// at least position x VersionStep + VersionStep/2, above anything published there before.
//
// A Ledger is not safe for concurrent use. Every change made by Apply is journalled until
// Commit or Rollback, so an aborted Kafka transaction leaves no trace in memory.
type Ledger struct {
	rules      *Rules
	parts      map[int32]*partition
	photos     photoIndex              // evidence hash -> the report that carried it, if one did
	reused     map[photoKey][]photoUse // evidence hash -> every report that carried it, if several did
	volunteers map[string][]spreadUse  // volunteer -> the stations they reported, first seen first

	// BLOCK_SHIFT (anomaly_block_shift.go): each organisation's current final per station,
	// and share sums per constituency and per organisation in it.
	blockAt       map[blockSlot]blockEntry
	blockCons     map[blockCons]*blockConsState
	blockGroups   map[blockGroup]*blockGroupState
	blockUnjudged map[blockCons]struct{} // changed by a replay, judged by SettleReplay

	journal   []func()
	replaying int32                 // the partition being replayed, or -1
	draining  bool                  // Drain is applying: versions from the upper half of the step
	pending   []pendingInput        // flags for other partitions found while replaying
	unjudged  map[groupKey]struct{} // outlier groups a replay changed, judged by SettleReplay

	outlierBuf       *outlierBuf      // slices outliers reuses between calls; nil while one runs
	subdistricts     map[string]int32 // see subdistrictID
	subdistrictNames []string

	// published, when set, reports whether an anomaly id is on anomalies.v1 already. A
	// replay then applies a cross-partition flag whose anomaly was published as it applies
	// a local one, in state only: its station's result was published with it then.
	published func(anomalyID string) bool
}

// groupKey names the stations of one constituency and ballot in one partition, or in every
// partition held (part -1, Rules.OutlierAcrossPartitions).
type groupKey struct {
	part         int32
	constituency string
	ballot       int
}

// VersionStep is how far apart versions published at consecutive input positions are.
const VersionStep = 1024

// Inputs is how many input topics a partition has: submissions, reviews, official figures.
const Inputs = 3

type partition struct {
	stations map[string]Station
	members  map[string][]member // constituency -> its stations held in this partition, first seen first
	next     [Inputs]int64       // next offset to read, per input topic
}

// setStation stores a station's state, and what the outlier detectors read of it in its
// member entry: every change of a held station's state, and every undo of one, goes through
// here, so the entry never lags the state (a rolled-back transaction included).
func (p *partition) setStation(st *Station) {
	p.stations[st.ID] = *st
	p.members[st.ConstituencyID][st.member].read(st)
}

func (p *partition) floor() int64 {
	var pos int64
	for _, o := range p.next {
		pos += o
	}
	return pos * VersionStep
}

// photoUse is one report carrying a photo: the report itself rather than a copy of its
// fields, which a national night would hold once per photo (issue 18), and no partition
// beside it (the kept report has its own, Report.part): 8 bytes in the index's entries.
type photoUse struct {
	rep *Report
}

func (u photoUse) part() int32 { return u.rep.part }

func (u photoUse) station() string    { return u.rep.StationID }
func (u photoUse) ballot() int        { return ballotIndex(u.rep.Ballot()) }
func (u photoUse) submission() string { return u.rep.SubmissionID }
func (u photoUse) volunteer() string  { return u.rep.VolunteerID }
func (u photoUse) at() time.Time      { return u.rep.ReceivedAt }

type spreadUse struct {
	part       int32
	station    string
	ballots    [2]bool
	submission string    // the earliest report from this volunteer for the station
	at         time.Time // its received_at
}

type pendingInput struct {
	part    int32
	station string
	in      Input
}

// NewLedger returns an empty ledger. rules must be valid (Rules.Validate).
func NewLedger(rules *Rules) *Ledger {
	return &Ledger{
		rules:       rules,
		parts:       map[int32]*partition{},
		photos:      photoIndex{sums: map[[32]byte]photoUse{}, other: map[string]photoUse{}},
		reused:      map[photoKey][]photoUse{},
		volunteers:  map[string][]spreadUse{},
		blockAt:     map[blockSlot]blockEntry{},
		blockCons:   map[blockCons]*blockConsState{},
		blockGroups: map[blockGroup]*blockGroupState{},
		replaying:   -1,
	}
}

// AddPartition makes an empty partition ready for input. Outside a transaction only.
func (l *Ledger) AddPartition(p int32) {
	if _, ok := l.parts[p]; !ok {
		l.parts[p] = &partition{stations: map[string]Station{}, members: map[string][]member{}}
	}
}

// Advance records that the record at offset of input topic (0 submissions, 1 reviews,
// 2 official figures) of partition p is being applied: the partition's position moves past
// it. Journalled like Apply.
func (l *Ledger) Advance(p int32, topic int, offset int64) {
	part := l.parts[p]
	if part == nil || offset+1 <= part.next[topic] {
		return
	}
	old := part.next[topic]
	part.next[topic] = offset + 1
	l.record(func() { part.next[topic] = old })
}

// Position returns the next offset to read of each input topic of partition p.
func (l *Ledger) Position(p int32) [Inputs]int64 {
	if part := l.parts[p]; part != nil {
		return part.next
	}
	return [Inputs]int64{}
}

// HasPartition reports whether p is held.
func (l *Ledger) HasPartition(p int32) bool { _, ok := l.parts[p]; return ok }

// Partitions returns the partitions held, in order.
func (l *Ledger) Partitions() []int32 {
	ps := make([]int32, 0, len(l.parts))
	for p := range l.parts {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// DropPartition forgets a partition and its reports in the cross-station indexes. Flags
// already on stations of other partitions stay: they were published and remain evidence.
// Outside a transaction only.
func (l *Ledger) DropPartition(p int32) {
	delete(l.parts, p)
	l.photos.dropPartition(p)
	for k, uses := range l.reused {
		l.setPhotoUses(k, slices.DeleteFunc(slices.Clone(uses), func(u photoUse) bool { return u.part() == p }))
	}
	for v, uses := range l.volunteers {
		uses = slices.DeleteFunc(slices.Clone(uses), func(u spreadUse) bool { return u.part == p })
		if len(uses) == 0 {
			delete(l.volunteers, v)
		} else {
			l.volunteers[v] = uses
		}
	}
	l.dropBlockPartition(p)
	l.pending = slices.DeleteFunc(l.pending, func(pi pendingInput) bool { return pi.part == p })
	for k := range l.unjudged {
		if k.part == p {
			delete(l.unjudged, k)
		}
	}
}

// Station returns the state of a station held in partition p.
func (l *Ledger) Station(p int32, id string) (Station, bool) {
	part := l.parts[p]
	if part == nil {
		return Station{}, false
	}
	st, ok := part.stations[id]
	return st, ok
}

// Stations calls fn for every station held, partition by partition, stations in id order.
func (l *Ledger) Stations(fn func(p int32, st *Station)) {
	for _, p := range l.Partitions() {
		part := l.parts[p]
		ids := make([]string, 0, len(part.stations))
		for id := range part.stations {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			st := part.stations[id]
			fn(p, &st)
		}
	}
}

// Apply adds one input to its station in partition p (which must be held) and runs the
// cross-station detectors. It returns what to publish.
func (l *Ledger) Apply(p int32, in Input) []Output {
	part := l.parts[p]
	if part == nil {
		return nil
	}
	var arr *arrival
	if in.Report != nil {
		// The station, the photo index and BLOCK_SHIFT keep the report for the night: they
		// get the copy without what only its arrival reads (Report.kept).
		arr = in.Report.arrival
		if arr == nil {
			arr = &arrival{}
		}
		in.Report = in.Report.kept()
		in.Report.part = p
	}
	out := l.applyStation(p, in.StationID(), in)
	if in.Report != nil {
		out = append(out, l.photoReuse(p, in.Report, arr.Evidence)...)
		out = append(out, l.spread(p, in.Report, arr)...)
		out = append(out, l.blockShift(p, in.Report)...)
	}
	return out
}

// Commit forgets the journal: the changes since the last Commit are now durable in Kafka.
func (l *Ledger) Commit() { clear(l.journal); l.journal = l.journal[:0] }

// Rollback undoes every change since the last Commit, newest first.
func (l *Ledger) Rollback() {
	for i := len(l.journal) - 1; i >= 0; i-- {
		l.journal[i]()
	}
	l.Commit()
}

// record journals an undo step. A replay keeps no journal: what it applies is durable.
func (l *Ledger) record(undo func()) {
	if l.replaying < 0 {
		l.journal = append(l.journal, undo)
	}
}

func (l *Ledger) applyStation(p int32, id string, in Input) []Output {
	part := l.parts[p]
	before, held := part.stations[id]
	if !held {
		var err error
		if before, err = l.rules.NewStation(id); err != nil {
			return nil // inputs are checked against the Country before they get here
		}
		c := before.ConstituencyID
		old := part.members[c]
		before.member = int32(len(old))
		ref, _ := l.rules.Country.StationByID(id)
		part.members[c] = append(old, member{id: id, sub: l.subdistrictID(ref.Subdistrict), urban: ref.Urban})
		l.record(func() {
			if len(old) == 0 {
				delete(part.members, c)
			} else {
				part.members[c] = old
			}
		})
	}
	in.VersionFloor = part.floor()
	if l.draining {
		in.VersionFloor += VersionStep / 2
	}
	next, out := l.rules.Apply(before, in)
	part.setStation(&next)
	l.record(func() {
		if held {
			part.setStation(&before)
		} else {
			delete(part.stations, id)
		}
	})
	for b := range 2 {
		if same(finalFigures(&before, b), finalFigures(&next, b)) {
			continue
		}
		if l.replaying >= 0 {
			// A replay judges each group once, at the end, from the final figures: the
			// verdicts along the way were published already.
			if l.unjudged == nil {
				l.unjudged = map[groupKey]struct{}{}
			}
			l.unjudged[l.outlierGroup(p, next.ConstituencyID, b)] = struct{}{}
			continue
		}
		out = append(out, l.outliers(l.outlierGroup(p, next.ConstituencyID, b), in.at())...)
	}
	return out
}

// finalFigures is a ballot's published final figures, nil if none: the outlier statistics
// change only when they do.
func finalFigures(st *Station, b int) *figures {
	bs := &st.ballots[b]
	if bs.published == nil || bs.fig == nil || bs.published.Stage != schemas.StageFinal {
		return nil
	}
	return bs.fig
}

// flag applies a cross-station verdict to a station. During a replay, which publishes
// nothing, it queues the verdict for Drain instead when the station is in another partition
// than the one being replayed (that station's published state must not move without its
// record being produced), or when reports of other partitions stand behind the verdict
// (local false): the replayed partition's previous owner may not have held those, so may
// never have published the verdict. Drain then publishes it. A raised flag whose anomaly
// is known to be published (Ledger.published) was applied and published with it, so the
// replay applies it at once, in state only.
func (l *Ledger) flag(p int32, station string, f Flag, local bool) []Output {
	known := f.On && f.Anomaly != nil && l.published != nil && l.published(f.Anomaly.AnomalyID)
	if l.replaying >= 0 && (p != l.replaying || !local) && !known {
		l.pending = append(l.pending, pendingInput{part: p, station: station, in: Input{Flag: &f}})
		return nil
	}
	part := l.parts[p]
	if part == nil {
		return nil
	}
	st, held := part.stations[station]
	if !held {
		return nil
	}
	_, on := st.ballots[ballotIndex(string(f.Ballot))].flags[f.Code]
	if on == f.On && (!f.On || hasRaised(&st, f.Anomaly)) {
		return nil
	}
	return l.applyStation(p, station, Input{Flag: &f})
}

func hasRaised(st *Station, a *schemas.Anomaly) bool {
	_, ok := st.raised[a.AnomalyID]
	return ok
}

// Replay applies an input of partition p read back from Kafka while rebuilding: state
// only, nothing is published (it was, before). Flags it raises on stations of other
// partitions, or with reports of other partitions behind them, wait for Drain (see flag).
func (l *Ledger) Replay(p int32, topic int, offset int64, in Input) {
	l.replaying = p
	l.Advance(p, topic, offset)
	if in.StationID() != "" { // a zero Input (an undecodable record) only moves the position
		l.Apply(p, in)
	}
	l.replaying = -1
	l.Commit() // a replay is already durable: nothing to roll back
}

// SettleReplay judges the outliers of every group a replay changed, from the replayed
// figures, without publishing. Call it once a rebuild has read everything back.
func (l *Ledger) SettleReplay() {
	l.settleOutliers()
	l.settleBlocks()
	l.Commit()
}

// Drain publishes, inside a transaction, the flags that replays found for stations of
// other partitions.
func (l *Ledger) Drain() []Output {
	if len(l.pending) == 0 {
		return nil
	}
	pending := l.pending
	l.pending = nil
	l.record(func() { l.pending = pending })
	var out []Output
	l.draining = true
	for _, pi := range pending {
		out = append(out, l.flag(pi.part, pi.station, *pi.in.Flag, true)...)
	}
	l.draining = false
	return out
}
