package election

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// PartyListSeats is the size of Thailand's party-list tier since 2023.
const PartyListSeats = 100

// AllocatePartyList shares seats among parties by their party-list votes with the largest
// remainder method, as in Thailand's 2023 rule: the quota is the total valid party-list
// votes divided by the number of seats (100); each party first gets floor(votes / quota)
// seats, and the seats left over go one each to the parties with the largest remainders.
//
// Ties for the last seats are broken deterministically, because the law's drawing of lots
// cannot be reproduced by a program: a larger remainder first, then more votes, then the
// lower party number. A tie that reaches the third rule is a real dead heat; callers
// presenting seats should say so.
//
// votes maps party number to valid party-list votes; absent parties have none. The result
// has an entry, possibly 0, for every party in votes, and its seats add up to seats. The
// arithmetic is exact (no floating point), so a party exactly on a multiple of the quota
// gets exactly that many seats. Errors wrap ErrBadNumber (negative votes or seats, or a total
// that overflows) or ErrNoVotes (seats to give but no votes). Safe for concurrent use.
func AllocatePartyList(votes map[int]int, seats int) (map[int]int, error) {
	if seats < 0 {
		return nil, fmt.Errorf("%w: %d seats", ErrBadNumber, seats)
	}
	total := 0
	for no, v := range votes {
		if v < 0 {
			return nil, fmt.Errorf("%w: party %d has %d votes", ErrBadNumber, no, v)
		}
		if total > math.MaxInt-v {
			return nil, fmt.Errorf("%w: total votes overflow", ErrBadNumber)
		}
		total += v
	}
	result := make(map[int]int, len(votes))
	for no := range votes {
		result[no] = 0
	}
	if seats == 0 {
		return result, nil
	}
	if total == 0 {
		return nil, ErrNoVotes
	}

	// votes/quota = votes*seats/total: its integer part is the party's full quotas and
	// votes*seats mod total its remainder, in units of 1/total seat, comparable across parties.
	type share struct {
		no, votes int
		remainder uint64
	}
	shares := make([]share, 0, len(votes))
	given := 0
	for no, v := range votes {
		hi, lo := bits.Mul64(uint64(v), uint64(seats))
		// hi < total always holds because v <= total, so Div64 cannot overflow.
		full, rem := bits.Div64(hi, lo, uint64(total))
		result[no] = int(full)
		given += int(full)
		shares = append(shares, share{no, v, rem})
	}
	slices.SortFunc(shares, func(a, b share) int {
		return cmp.Or(
			cmp.Compare(b.remainder, a.remainder),
			cmp.Compare(b.votes, a.votes),
			cmp.Compare(a.no, b.no),
		)
	})
	// The seats left over are fewer than the parties with a non-zero remainder (their
	// remainders add up to exactly left*total, each below total), so no party gets two.
	for i := range seats - given {
		result[shares[i].no]++
	}
	return result, nil
}
