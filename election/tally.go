package election

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// VotesTotal is the sum of the valid votes. It saturates at math.MaxInt (or math.MinInt)
// instead of wrapping, so absurd figures from outside input can never add up to a plausible
// total. Negative entries are summed as they are; Check rejects them.
func (t Tally) VotesTotal() int {
	total := 0
	for _, v := range t.Votes {
		total = addSaturating(total, v)
	}
	return total
}

// Consistent reports the consistency rule of a count: the valid votes plus invalid and
// "no vote" ballots equal the ballots cast. It does not look at eligible voters (see
// WithinEligible) or at negative numbers (see Check). A sum that overflows an int is never
// consistent.
func (t Tally) Consistent() bool {
	total, ok := t.Invalid, true
	total, ok = addExact(total, t.NoVote, ok)
	for _, v := range t.Votes {
		total, ok = addExact(total, v, ok)
	}
	return ok && total == t.BallotsCast
}

func addSaturating(a, b int) int {
	switch {
	case b > 0 && a > math.MaxInt-b:
		return math.MaxInt
	case b < 0 && a < math.MinInt-b:
		return math.MinInt
	}
	return a + b
}

// addExact adds b to a, clearing ok once an addition overflows.
func addExact(a, b int, ok bool) (int, bool) {
	if (b > 0 && a > math.MaxInt-b) || (b < 0 && a < math.MinInt-b) {
		return a, false
	}
	return a + b, ok
}

// WithinEligible reports whether no more ballots were cast than the station has eligible
// voters.
func (t Tally) WithinEligible(eligibleVoters int) bool { return t.BallotsCast <= eligibleVoters }

// Check applies the whole rule `sum(votes) + invalid + no_vote == ballots_cast <=
// eligible_voters` and rejects negative figures. It returns nil or the problems joined, each
// wrapping ErrBadNumber, ErrArith or ErrOverEligible. A negative eligibleVoters means the
// roll is not known and skips that comparison.
func (t Tally) Check(eligibleVoters int) error {
	var errs []error
	if t.BallotsCast < 0 || t.Invalid < 0 || t.NoVote < 0 {
		errs = append(errs, fmt.Errorf("%w: negative ballots cast, invalid or no-vote", ErrBadNumber))
	}
	for _, no := range sortedKeys(t.Votes) {
		if v := t.Votes[no]; v < 0 {
			errs = append(errs, fmt.Errorf("%w: number %d has %d votes", ErrBadNumber, no, v))
		}
	}
	if !t.Consistent() {
		errs = append(errs, fmt.Errorf("%w: %d votes + %d invalid + %d no vote, %d ballots cast",
			ErrArith, t.VotesTotal(), t.Invalid, t.NoVote, t.BallotsCast))
	}
	if eligibleVoters >= 0 && !t.WithinEligible(eligibleVoters) {
		errs = append(errs, fmt.Errorf("%w: %d ballots cast, %d eligible", ErrOverEligible, t.BallotsCast, eligibleVoters))
	}
	return errors.Join(errs...)
}

// ParseVotes converts votes in their wire form (JSON objects have string keys, so schemas
// carry {"7": 89}) to candidate or party number -> votes. A key must be a canonical decimal
// number of at least 1 ("7", not "07", "+7", " 7" or "7.0"), so that two spellings of one
// number can never both appear; a value must not be negative. The error wraps ErrBadNumber
// and names the smallest offending key, so the same input always gives the same error.
func ParseVotes(wire map[string]int) (map[int]int, error) {
	votes := make(map[int]int, len(wire))
	var badKey string
	var badErr error
	for k, v := range wire {
		var err error
		no, ok := parseCanonicalNumber(k)
		switch {
		case !ok:
			err = fmt.Errorf("%w: votes key %q is not a number of at least 1 in canonical decimal form", ErrBadNumber, k)
		case v < 0:
			err = fmt.Errorf("%w: votes for %q are negative (%d)", ErrBadNumber, k, v)
		default:
			votes[no] = v
			continue
		}
		if badErr == nil || k < badKey {
			badKey, badErr = k, err
		}
	}
	if badErr != nil {
		return nil, badErr
	}
	return votes, nil
}

// FormatVotes converts number -> votes to the wire form with decimal string keys.
func FormatVotes(votes map[int]int) map[string]int {
	wire := make(map[string]int, len(votes))
	for no, v := range votes {
		wire[strconv.Itoa(no)] = v
	}
	return wire
}

// parseCanonicalNumber accepts only "1".."9" followed by digits, and values that fit an int.
func parseCanonicalNumber(s string) (int, bool) {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	return parseDigits(s)
}

// parseDigits accepts one or more ASCII digits (leading zeros allowed) that fit an int.
// strconv.Atoi would also take a sign, which no CSV or wire number here may carry.
func parseDigits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if n > (math.MaxInt-int(d-'0'))/10 {
			return 0, false
		}
		n = n*10 + int(d-'0')
	}
	return n, true
}

func sortedKeys(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
