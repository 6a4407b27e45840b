package consolidate

import (
	"slices"
	"strconv"
	"strings"
	"unique"
	"unsafe"

	"votestream/election"
)

// figures is one count of one ballot in the form the rules compare (see same). A number with
// zero votes is the same as a missing one, as the contract says. Votes are held as two
// sorted slices rather than a map, and the canonical text (String) is built only when asked
// for: a national night keeps a couple of million figures in memory.
type figures struct {
	BallotsCast int
	Invalid     int
	NoVote      int
	no0         *int32 // numbers with votes, increasing (nos), n of them
	vote0       *int32 // their votes (votes), parallel to the numbers
	hash        uint64 // FNV-1a of the canonical text: unequal hashes, unequal figures
	total       int    // the sum of the votes, saturating
	n           int32  // how many numbers have votes
	consistent  bool   // votes + invalid + no_vote == ballots cast (election.Tally.Consistent)
	// Two pointers and a count instead of two slices: 64 bytes instead of 80, which puts the
	// Report the Ledger keeps in the 240-byte size class instead of 256 (issue 18).
}

// newFigures builds figures from parsed votes (election.ParseVotes: numbers of at least 1,
// no negative votes). Numbers and votes beyond int32 are clamped; a count that large is
// absurd and fails the consistency check in any case.
func newFigures(ballotsCast, invalid, noVote int, votes map[int]int) figures {
	f := figures{BallotsCast: ballotsCast, Invalid: invalid, NoVote: noVote}
	nos := make([]int, 0, len(votes))
	for no, v := range votes {
		if v != 0 {
			nos = append(nos, no)
		}
	}
	slices.Sort(nos)
	ns := make([]int32, len(nos))
	vs := make([]int32, len(nos))
	for i, no := range nos {
		ns[i] = clamp32(no)
		vs[i] = clamp32(votes[no])
	}
	if nos := internNos(ns); len(nos) > 0 {
		f.no0, f.vote0, f.n = &nos[0], &vs[0], int32(len(nos))
	}
	t := election.Tally{BallotsCast: ballotsCast, Invalid: invalid, NoVote: noVote, Votes: votes}
	f.total = t.VotesTotal()
	f.consistent = t.Consistent()
	f.hash = fnv1a(f.String())
	return f
}

// internNos returns the one shared copy of a list of numbers: a national night holds
// millions of figures, and the reports of one ballot of a constituency nearly all have the
// same numbers with votes (issue 18). The lists are never changed once built. unique
// keeps the canonical copy as a string; its bytes are reused as the []int32 (a string's
// allocation of a multiple of 4 bytes is at least 4-aligned). No handle is kept, so unique
// forgets the copy at the next collection and later figures start a new one: a copy per
// list per GC cycle, which measured 54 bytes a report less than keeping the handles
// (BenchmarkLedgerHeap 730 against 784), whose map entries outlive the cycle.
func internNos(nos []int32) []int32 {
	if len(nos) == 0 {
		return nos
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&nos[0])), len(nos)*4)
	s := unique.Make(string(b)).Value()
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.StringData(s))), len(nos))
}

func clamp32(n int) int32 {
	return int32(max(min(n, 1<<31-1), -1<<31))
}

// nos returns the numbers with votes, increasing; they must not be changed.
func (f *figures) nos() []int32 {
	if f.no0 == nil {
		return nil
	}
	return unsafe.Slice(f.no0, f.n)
}

// votes returns the votes of the numbers (nos), parallel to them; they must not be changed.
func (f *figures) votes() []int32 {
	if f.vote0 == nil {
		return nil
	}
	return unsafe.Slice(f.vote0, f.n)
}

// vote returns the votes of number no, 0 when it has none.
func (f *figures) vote(no int) int {
	if i, ok := slices.BinarySearch(f.nos(), clamp32(no)); ok {
		return int(f.votes()[i])
	}
	return 0
}

// numbers returns the numbers with votes in increasing order.
func (f *figures) numbers() []int {
	out := make([]int, len(f.nos()))
	for i, no := range f.nos() {
		out[i] = int(no)
	}
	return out
}

// valid is the sum of the valid votes.
func (f *figures) valid() int { return f.total }

// wireVotes converts the votes to the wire form, never nil.
func (f *figures) wireVotes() map[string]int {
	wire := make(map[string]int, len(f.nos()))
	vs := f.votes()
	for i, no := range f.nos() {
		wire[strconv.Itoa(int(no))] = int(vs[i])
	}
	return wire
}

// String is the canonical text of the figures, used in evidence and anomaly ids:
// "512/9/4 1:230 2:180".
func (f *figures) String() string {
	var b strings.Builder
	b.Grow(16 + 8*len(f.nos()))
	b.WriteString(strconv.Itoa(f.BallotsCast))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(f.Invalid))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(f.NoVote))
	vs := f.votes()
	for i, no := range f.nos() {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(int(no)))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(int(vs[i])))
	}
	return b.String()
}

// same reports whether two counts are the same figures. nil is the same only as nil.
func same(a, b *figures) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.hash == b.hash && a.BallotsCast == b.BallotsCast && a.Invalid == b.Invalid && a.NoVote == b.NoVote &&
		slices.Equal(a.nos(), b.nos()) && slices.Equal(a.votes(), b.votes())
}

func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
