package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"votestream/election"
	"votestream/schemas"
)

// FaultKind names a generated fault.
type FaultKind string

// Fault kinds and the anomaly code each should raise (Fault.Anomaly).
const (
	FaultTypo          FaultKind = "TYPO"            // one digit of one number changed: ARITH
	FaultSwappedDigits FaultKind = "SWAPPED_DIGITS"  // two adjacent digits swapped: ARITH
	FaultNumberSwap    FaultKind = "NUMBER_SWAP"     // keyed by the other ballot's numbers: NUMBER_SWAP
	FaultMissingParty  FaultKind = "MISSING_PARTY"   // one number's votes left out: ARITH
	FaultFalsification FaultKind = "FALSIFICATION"   // votes moved, arithmetic kept: CONFLICT, or SHARE_OUTLIER with no other source
	FaultEarly         FaultKind = "EARLY"           // counted_at before polls close: EARLY
	FaultPhotoReuse    FaultKind = "PHOTO_REUSE"     // another station's form photo: PHOTO_REUSE
	FaultSpread        FaultKind = "SPREAD"          // a station outside the volunteer's assignment: SPREAD
	FaultDuplicate     FaultKind = "DUPLICATE"       // same submission_id sent again: no anomaly, no change
	FaultCorrection    FaultKind = "LATE_CORRECTION" // replaces the same volunteer's faulty final: no anomaly
	// FaultBlockShift: every final of one organisation in one constituency moves votes to
	// one party (its candidate on the constituency ballot), arithmetic kept: BLOCK_SHIFT.
	FaultBlockShift FaultKind = "BLOCK_SHIFT"
)

// FaultKinds lists every kind, for tables and CSV readers.
var FaultKinds = []FaultKind{
	FaultTypo, FaultSwappedDigits, FaultNumberSwap, FaultMissingParty, FaultFalsification,
	FaultEarly, FaultPhotoReuse, FaultSpread, FaultDuplicate, FaultCorrection, FaultBlockShift,
}

// Fault labels one generated fault on one submission, so tests can score detection.
type Fault struct {
	StationID    string          `json:"station_id"`
	Ballot       election.Ballot `json:"ballot"`
	SubmissionID string          `json:"submission_id"`
	VolunteerID  string          `json:"volunteer_id"`
	Kind         FaultKind       `json:"kind"`
	// Anomaly is the code consolidation should raise for it (schemas.Anomaly*), "" when the
	// right outcome is no anomaly (a duplicate, a correction).
	Anomaly string `json:"anomaly"`
	// Related is the submission a correction replaces, or the station whose photo was reused.
	Related string `json:"related,omitempty"`
	// MayBeRefused is set when ingest may rightly refuse the submission: a number not on the
	// ballot, a count above the station's eligible voters, a station outside the volunteer's
	// scope (with ingest's refuse-out-of-scope setting).
	MayBeRefused bool `json:"may_be_refused,omitempty"`
	// Detail says what was changed, for a person reading faults.csv.
	Detail string `json:"detail,omitempty"`
}

// content faults, exclusive per final form (planned.fault).
const (
	cfNone uint8 = iota
	cfTypo
	cfSwap
	cfNumberSwap
	cfMissing
	cfFalsify
	cfBlock // one organisation's block of stations shifted (planStations, not drawn per form)
)

var contentKinds = [...]FaultKind{cfTypo: FaultTypo, cfSwap: FaultSwappedDigits, cfNumberSwap: FaultNumberSwap, cfMissing: FaultMissingParty, cfFalsify: FaultFalsification, cfBlock: FaultBlockShift}

// form is a count as a volunteer keys it.
type form struct {
	cast, invalid, noVote int
	votes                 map[int]int
}

func (f form) numbers() []int {
	keys := make([]int, 0, len(f.votes))
	for k := range f.votes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// field addresses one number of a form: -1 ballots cast, -2 invalid, -3 no vote, else the
// votes of that candidate or party number.
type field int

const (
	fieldCast    field = -1
	fieldInvalid field = -2
	fieldNoVote  field = -3
)

func (f *form) get(x field) int {
	switch x {
	case fieldCast:
		return f.cast
	case fieldInvalid:
		return f.invalid
	case fieldNoVote:
		return f.noVote
	}
	return f.votes[int(x)]
}

func (f *form) set(x field, v int) {
	switch x {
	case fieldCast:
		f.cast = v
	case fieldInvalid:
		f.invalid = v
	case fieldNoVote:
		f.noVote = v
	default:
		f.votes[int(x)] = v
	}
}

func (x field) String() string {
	switch x {
	case fieldCast:
		return "ballots_cast"
	case fieldInvalid:
		return "invalid"
	case fieldNoVote:
		return "no_vote"
	}
	return "votes[" + strconv.Itoa(int(x)) + "]"
}

// pickField chooses the number a keying error hits: mostly a vote count.
func pickField(r *rand.Rand, f *form, ok func(v int) bool) (field, bool) {
	var fields []field
	var weights []float64
	add := func(x field, w float64) {
		if ok(f.get(x)) {
			fields = append(fields, x)
			weights = append(weights, w)
		}
	}
	add(fieldCast, 0.15)
	add(fieldInvalid, 0.10)
	add(fieldNoVote, 0.05)
	nums := f.numbers()
	for _, no := range nums {
		add(field(no), 0.7/float64(len(nums)))
	}
	if len(fields) == 0 {
		return 0, false
	}
	total := 0.0
	for _, w := range weights {
		total += w
	}
	u := r.Float64() * total
	for i, w := range weights {
		if u -= w; u < 0 {
			return fields[i], true
		}
	}
	return fields[len(fields)-1], true
}

// typo changes one digit of one number (never adding a leading zero).
func typo(r *rand.Rand, f *form) string {
	x, _ := pickField(r, f, func(int) bool { return true })
	old := f.get(x)
	s := []byte(strconv.Itoa(old))
	pos := r.IntN(len(s))
	lo := byte('0')
	if pos == 0 && len(s) > 1 {
		lo = '1'
	}
	for {
		d := lo + byte(r.IntN(int('9'-lo+1)))
		if d != s[pos] {
			s[pos] = d
			break
		}
	}
	v, _ := strconv.Atoi(string(s))
	f.set(x, v)
	return fmt.Sprintf("%s %d -> %d", x, old, v)
}

// swappablePairs lists the adjacent digit pairs of v whose swap changes v without a leading zero.
func swappablePairs(v int) []int {
	s := strconv.Itoa(v)
	var out []int
	for i := 0; i+1 < len(s); i++ {
		if s[i] != s[i+1] && !(i == 0 && s[1] == '0') {
			out = append(out, i)
		}
	}
	return out
}

// swapDigits swaps two adjacent digits of one number; false when no number allows it.
func swapDigits(r *rand.Rand, f *form) (string, bool) {
	x, ok := pickField(r, f, func(v int) bool { return len(swappablePairs(v)) > 0 })
	if !ok {
		return "", false
	}
	old := f.get(x)
	pairs := swappablePairs(old)
	i := pairs[r.IntN(len(pairs))]
	s := []byte(strconv.Itoa(old))
	s[i], s[i+1] = s[i+1], s[i]
	v, _ := strconv.Atoi(string(s))
	f.set(x, v)
	return fmt.Sprintf("%s %d -> %d", x, old, v), true
}

// missing drops one number with votes; false when there is none.
func missing(r *rand.Rand, f *form) (string, bool) {
	var withVotes []int
	for _, no := range f.numbers() {
		if f.votes[no] > 0 {
			withVotes = append(withVotes, no)
		}
	}
	if len(withVotes) == 0 {
		return "", false
	}
	no := withVotes[r.IntN(len(withVotes))]
	d := fmt.Sprintf("votes[%d] = %d left out", no, f.votes[no])
	delete(f.votes, no)
	return d, true
}

// falsify moves votes from the leader to another number (the runner-up, usually), keeping
// the arithmetic: a deliberate change only other sources or outlier checks reveal.
func falsify(r *rand.Rand, f *form, ballotNumbers []int) (string, bool) {
	nums := f.numbers()
	if len(nums) == 0 {
		return "", false
	}
	byVotes := slices.Clone(nums)
	slices.SortStableFunc(byVotes, func(a, b int) int { return f.votes[b] - f.votes[a] })
	top := byVotes[0]
	if f.votes[top] == 0 {
		return "", false
	}
	to := 0
	if len(byVotes) > 1 && r.Float64() < 0.6 {
		to = byVotes[1]
	} else {
		var others []int
		for _, no := range ballotNumbers {
			if no != top {
				others = append(others, no)
			}
		}
		if len(others) == 0 {
			return "", false
		}
		to = others[r.IntN(len(others))]
	}
	moved := max(1, int(math.Round((0.2+0.3*r.Float64())*float64(f.votes[top]))))
	f.votes[top] -= moved
	f.votes[to] += moved
	if f.votes[top] == 0 {
		delete(f.votes, top)
	}
	return fmt.Sprintf("%d votes moved from %d to %d", moved, top, to), true
}

// numberSwap re-keys the votes by the other ballot's numbers: on the constituency ballot a
// candidate's votes go under the candidate's party number; on the party-list ballot a
// party's votes go under the number of its candidate in this constituency. notOnBallot
// reports whether any key now names no one on this ballot (ingest refuses such numbers).
func numberSwap(f *form, ballot int, cands []election.Candidate, validNumber func(int) bool) (detail string, notOnBallot, changed bool) {
	out := make(map[int]int, len(f.votes))
	candByParty := make(map[int]int, len(cands))
	partyByCand := make(map[int]int, len(cands))
	for _, d := range cands {
		candByParty[d.PartyNo] = d.No
		partyByCand[d.No] = d.PartyNo
	}
	for no, v := range f.votes {
		key := no
		if ballot == ballotCons {
			if p, ok := partyByCand[no]; ok {
				key = p
			}
		} else if c, ok := candByParty[no]; ok {
			key = c
		}
		out[key] += v
	}
	for no, v := range out {
		if v > 0 && !validNumber(no) {
			notOnBallot = true
		}
	}
	changed = len(out) != len(f.votes)
	for no, v := range out {
		if f.votes[no] != v {
			changed = true
		}
	}
	f.votes = out
	what := "constituency votes keyed by party numbers"
	if ballot == ballotPL {
		what = "party-list votes keyed by candidate numbers"
	}
	return what, notOnBallot, changed
}

// expectedAnomaly is the code a content fault should raise.
func expectedAnomaly(kind uint8, otherSources bool) string {
	switch kind {
	case cfNumberSwap:
		return schemas.AnomalyNumberSwap
	case cfBlock:
		return schemas.AnomalyBlockShift
	case cfFalsify:
		if otherSources {
			return schemas.AnomalyConflict
		}
		return schemas.AnomalyShareOutlier
	}
	return schemas.AnomalyArith
}

// blockShift moves frac of every other number's votes to number to, arithmetic kept: what a
// form looks like when an organisation's people (or the officials they watch) shade a
// whole area's counts toward one party. A few points per station hide in the spread
// between stations; the same few points at every station of the block do not.
func blockShift(f *form, to int, frac float64) (string, bool) {
	moved := 0
	for no, v := range f.votes {
		if no == to {
			continue
		}
		d := int(math.Round(frac * float64(v)))
		f.votes[no] = v - d
		moved += d
	}
	if moved == 0 {
		return "", false
	}
	f.votes[to] += moved
	return fmt.Sprintf("%d votes (%.0f%% of every other number) moved to %d", moved, 100*frac, to), true
}
