package election_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"votestream/election"
)

func TestAllocatePartyList(t *testing.T) {
	tests := []struct {
		name  string
		votes map[int]int
		seats int
		want  map[int]int
	}{
		{
			name:  "exact quotas, no remainders",
			votes: map[int]int{1: 600, 2: 300, 3: 100},
			seats: 10,
			want:  map[int]int{1: 6, 2: 3, 3: 1}, // quota 100
		},
		{
			// Quota 10,000. Full quotas 4,1,1,1,0,0 = 7; remainders 7000, 6000, 5800, 2000,
			// 6100, 3100: the 3 seats left go to parties 1, 5 and 2. Party 1 is above the
			// quota four times and still wins a remainder seat.
			name:  "largest remainder, textbook case",
			votes: map[int]int{1: 47000, 2: 16000, 3: 15800, 4: 12000, 5: 6100, 6: 3100},
			seats: 10,
			want:  map[int]int{1: 5, 2: 2, 3: 1, 4: 1, 5: 1, 6: 0},
		},
		{
			// 100 seats, 1,000,000 votes: quota 10,000. Full quotas 38+29+12+10+4+2+1+0+0 = 96;
			// remainders 2500, 1000, 600, 9800, 5900, 200, 6000, 9999, 4001: the 4 seats left
			// go to parties 1 (below the quota, as small parties did in 2023), 7, 11 and 26.
			name: "Thai 2023 rule, 100 seats",
			votes: map[int]int{31: 382500, 29: 291000, 22: 120600, 7: 109800, 26: 45900,
				37: 20200, 11: 16000, 1: 9999, 2: 4001},
			seats: 100,
			want:  map[int]int{31: 38, 29: 29, 22: 12, 7: 11, 26: 5, 37: 2, 11: 2, 1: 1, 2: 0},
		},
		{
			// Quota 100,000: quotients 50, 30, 19.9, 0.1; one seat left for the 0.9.
			name:  "party far above the quota",
			votes: map[int]int{1: 5000000, 2: 3000000, 3: 1990000, 4: 10000},
			seats: 100,
			want:  map[int]int{1: 50, 2: 30, 3: 20, 4: 0},
		},
		{
			// Quota 100: 2.5 and 0.5, equal remainders; the last seat goes to more votes.
			name:  "tied remainder, more votes wins",
			votes: map[int]int{1: 250, 2: 50, 3: 0},
			seats: 3,
			want:  map[int]int{1: 3, 2: 0, 3: 0},
		},
		{
			// Quota 150: every party 0.67; same remainder and votes: lower party numbers win.
			name:  "dead heat, lower party number wins",
			votes: map[int]int{4: 100, 2: 100, 9: 100},
			seats: 2,
			want:  map[int]int{2: 1, 4: 1, 9: 0},
		},
		{
			name:  "one party takes every seat",
			votes: map[int]int{7: 1},
			seats: 100,
			want:  map[int]int{7: 100},
		},
		{
			name:  "zero-vote parties keep an entry",
			votes: map[int]int{1: 10, 2: 0, 3: 0},
			seats: 5,
			want:  map[int]int{1: 5, 2: 0, 3: 0},
		},
		{
			name:  "no seats to give",
			votes: map[int]int{1: 10, 2: 0},
			seats: 0,
			want:  map[int]int{1: 0, 2: 0},
		},
		{
			// Fewer votes than seats: quota 5/6 of a vote. Quotients 4.8 and 1.2: 4+1 = 5,
			// one seat left for the 0.8.
			name:  "more seats than votes",
			votes: map[int]int{1: 4, 2: 1},
			seats: 6,
			want:  map[int]int{1: 5, 2: 1},
		},
		{
			// votes*seats does not fit 64 bits; the arithmetic must still be exact.
			name:  "huge totals",
			votes: map[int]int{1: 1 << 61, 2: 1 << 61},
			seats: 100,
			want:  map[int]int{1: 50, 2: 50},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := election.AllocatePartyList(tt.votes, tt.seats)
			if err != nil {
				t.Fatalf("AllocatePartyList: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAllocatePartyListErrors(t *testing.T) {
	tests := []struct {
		name  string
		votes map[int]int
		seats int
		want  error
	}{
		{"no parties", nil, 100, election.ErrNoVotes},
		{"only zero votes", map[int]int{1: 0, 2: 0}, 100, election.ErrNoVotes},
		{"negative votes", map[int]int{1: 10, 2: -1}, 100, election.ErrBadNumber},
		{"negative seats", map[int]int{1: 10}, -1, election.ErrBadNumber},
		{"total overflows", map[int]int{1: 1 << 62, 2: 1 << 62, 3: 1 << 62}, 100, election.ErrBadNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := election.AllocatePartyList(tt.votes, tt.seats)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, %v; want error %v", got, err, tt.want)
			}
		})
	}
}

// TestAllocatePartyListProperties checks, on random national results, what must hold for
// any largest-remainder allocation: the seats add up, and no party is more than one seat
// away from its exact share votes*seats/total.
func TestAllocatePartyListProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		votes := make(map[int]int)
		for no := 1; no <= 1+rng.IntN(70); no++ {
			votes[no] = rng.IntN(15_000_000)
		}
		votes[1]++ // never all zero
		seats := rng.IntN(150)
		got, err := election.AllocatePartyList(votes, seats)
		if err != nil {
			t.Fatal(err)
		}
		total, given := 0, 0
		for _, v := range votes {
			total += v
		}
		for no, s := range got {
			given += s
			exact := float64(votes[no]) * float64(seats) / float64(total)
			if float64(s) < exact-1 || float64(s) > exact+1 {
				t.Fatalf("party %d: %d seats for an exact share of %.3f", no, s, exact)
			}
		}
		if given != seats {
			t.Fatalf("%d seats given, want %d (votes %v)", given, seats, votes)
		}
	}
}

func ExampleAllocatePartyList() {
	// Quota = 100,000 valid votes / 10 seats = 10,000 votes.
	votes := map[int]int{1: 47000, 2: 16000, 3: 15800, 4: 12000, 5: 6100, 6: 3100}
	seats, err := election.AllocatePartyList(votes, 10)
	if err != nil {
		panic(err)
	}
	for _, no := range slices.Sorted(maps.Keys(seats)) {
		fmt.Printf("party %d: %6d votes, %d seats\n", no, votes[no], seats[no])
	}
	// Output:
	// party 1:  47000 votes, 5 seats
	// party 2:  16000 votes, 2 seats
	// party 3:  15800 votes, 1 seats
	// party 4:  12000 votes, 1 seats
	// party 5:   6100 votes, 1 seats
	// party 6:   3100 votes, 0 seats
}
