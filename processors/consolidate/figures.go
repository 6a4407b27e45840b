package consolidate

import (
	"slices"
	"strconv"
	"strings"

	"votestream/election"
)

// figures is one count of one ballot in the form the rules compare: two counts are the same
// figures exactly when their keys are equal. A number with zero votes is the same as a
// missing one, as the contract says.
type figures struct {
	BallotsCast int
	Invalid     int
	NoVote      int
	Votes       map[int]int // candidate or party number -> votes, zero entries dropped
	key         string
	nos         []int // the keys of Votes in increasing order
	total       int   // the sum of Votes, saturating
}

func newFigures(ballotsCast, invalid, noVote int, votes map[int]int) figures {
	f := figures{BallotsCast: ballotsCast, Invalid: invalid, NoVote: noVote, Votes: make(map[int]int, len(votes))}
	for no, v := range votes {
		if v != 0 {
			f.Votes[no] = v
		}
	}
	f.nos = make([]int, 0, len(f.Votes))
	for no := range f.Votes {
		f.nos = append(f.nos, no)
	}
	slices.Sort(f.nos)
	f.total = f.tally().VotesTotal()
	var b strings.Builder
	b.Grow(16 + 8*len(f.Votes))
	b.WriteString(strconv.Itoa(ballotsCast))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(invalid))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(noVote))
	for _, no := range f.nos {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(no))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(f.Votes[no]))
	}
	f.key = b.String()
	return f
}

// numbers returns the vote keys in increasing order. The slice is shared: do not modify it.
func (f figures) numbers() []int { return f.nos }

// valid is the sum of the valid votes.
func (f figures) valid() int { return f.total }

func (f figures) tally() election.Tally {
	return election.Tally{BallotsCast: f.BallotsCast, Invalid: f.Invalid, NoVote: f.NoVote, Votes: f.Votes}
}

// wireVotes converts the votes back to the wire form, never nil.
func (f figures) wireVotes() map[string]int {
	return election.FormatVotes(f.Votes)
}

// String is the canonical text of the figures, used in evidence: "512/9/4 1:230 2:180".
func (f figures) String() string { return f.key }
