package election_test

import (
	"errors"
	"maps"
	"math"
	"strings"
	"testing"

	"votestream/election"
)

func TestTallyRule(t *testing.T) {
	tests := []struct {
		name       string
		tally      election.Tally
		eligible   int
		total      int
		consistent bool
		wantErrs   []error
	}{
		{
			name:  "consistent count",
			tally: election.Tally{BallotsCast: 400, Invalid: 8, NoVote: 4, Votes: map[int]int{1: 150, 2: 200, 3: 38}},
			// 150+200+38 = 388; 388+8+4 = 400
			eligible: 520, total: 388, consistent: true,
		},
		{
			name:     "empty station",
			tally:    election.Tally{},
			eligible: 0, total: 0, consistent: true,
		},
		{
			name:     "votes add up to one short",
			tally:    election.Tally{BallotsCast: 400, Invalid: 8, NoVote: 4, Votes: map[int]int{1: 150, 2: 200, 3: 37}},
			eligible: 520, total: 387,
			wantErrs: []error{election.ErrArith},
		},
		{
			name:     "more ballots than voters",
			tally:    election.Tally{BallotsCast: 530, Invalid: 10, NoVote: 20, Votes: map[int]int{7: 500}},
			eligible: 520, total: 500, consistent: true,
			wantErrs: []error{election.ErrOverEligible},
		},
		{
			name:     "unknown roll skips the eligible check",
			tally:    election.Tally{BallotsCast: 530, Invalid: 10, NoVote: 20, Votes: map[int]int{7: 500}},
			eligible: -1, total: 500, consistent: true,
		},
		{
			name:     "negative votes balancing the sum are still wrong",
			tally:    election.Tally{BallotsCast: 100, Votes: map[int]int{1: 110, 2: -10}},
			eligible: 500, total: 100, consistent: true,
			wantErrs: []error{election.ErrBadNumber},
		},
		{
			name:     "negative invalid",
			tally:    election.Tally{BallotsCast: 100, Invalid: -1, Votes: map[int]int{1: 101}},
			eligible: 500, total: 101, consistent: true,
			wantErrs: []error{election.ErrBadNumber},
		},
		{
			name:     "every problem at once",
			tally:    election.Tally{BallotsCast: 900, NoVote: -3, Votes: map[int]int{1: 10}},
			eligible: 500, total: 10,
			wantErrs: []error{election.ErrBadNumber, election.ErrArith, election.ErrOverEligible},
		},
		{
			// Wrapping would make MaxInt + MaxInt + 2 equal 0 ballots cast.
			name:     "overflowing votes never add up",
			tally:    election.Tally{BallotsCast: 0, NoVote: 2, Votes: map[int]int{1: math.MaxInt, 2: math.MaxInt}},
			eligible: 500, total: math.MaxInt,
			wantErrs: []error{election.ErrArith},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tally.VotesTotal(); got != tt.total {
				t.Errorf("VotesTotal = %d, want %d", got, tt.total)
			}
			if got := tt.tally.Consistent(); got != tt.consistent {
				t.Errorf("Consistent = %v, want %v", got, tt.consistent)
			}
			err := tt.tally.Check(tt.eligible)
			if len(tt.wantErrs) == 0 && err != nil {
				t.Errorf("Check: %v, want nil", err)
			}
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("Check: %v, want it to wrap %v", err, want)
				}
			}
			for _, other := range []error{election.ErrBadNumber, election.ErrArith, election.ErrOverEligible} {
				if errors.Is(err, other) && !contains(tt.wantErrs, other) {
					t.Errorf("Check: %v wraps %v unexpectedly", err, other)
				}
			}
		})
	}
}

func contains(errs []error, target error) bool {
	for _, e := range errs {
		if e == target {
			return true
		}
	}
	return false
}

func TestParseVotes(t *testing.T) {
	tests := []struct {
		name    string
		wire    map[string]int
		want    map[int]int
		wantErr string // substring naming the offending key; "" for success
	}{
		{"typical", map[string]int{"1": 230, "2": 180, "7": 89}, map[int]int{1: 230, 2: 180, 7: 89}, ""},
		{"empty", map[string]int{}, map[int]int{}, ""},
		{"nil", nil, map[int]int{}, ""},
		{"zero votes kept", map[string]int{"12": 0}, map[int]int{12: 0}, ""},
		{"leading zero", map[string]int{"07": 89}, nil, `"07"`},
		{"zero is no number", map[string]int{"0": 1}, nil, `"0"`},
		{"sign", map[string]int{"+7": 1}, nil, `"+7"`},
		{"negative key", map[string]int{"-7": 1}, nil, `"-7"`},
		{"space", map[string]int{" 7": 1}, nil, `" 7"`},
		{"decimal point", map[string]int{"7.0": 1}, nil, `"7.0"`},
		{"name instead of number", map[string]int{"ก้าวไกล": 1}, nil, `"ก้าวไกล"`},
		{"overflowing key", map[string]int{"99999999999999999999": 1}, nil, `"99999999999999999999"`},
		{"negative votes", map[string]int{"7": -1}, nil, `"7"`},
		{"smallest bad key is named", map[string]int{"x": 1, "a": 1, "3": 2}, nil, `"a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := election.ParseVotes(tt.wire)
			if tt.wantErr == "" {
				if err != nil || !maps.Equal(got, tt.want) {
					t.Fatalf("got %v, %v; want %v", got, err, tt.want)
				}
				if back := election.FormatVotes(got); !maps.Equal(back, tt.wire) && len(tt.wire) > 0 {
					t.Errorf("FormatVotes(ParseVotes(x)) = %v, want %v", back, tt.wire)
				}
				return
			}
			if !errors.Is(err, election.ErrBadNumber) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, %v; want ErrBadNumber naming %s", got, err, tt.wantErr)
			}
		})
	}
}
