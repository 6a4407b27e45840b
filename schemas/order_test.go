package schemas_test

import (
	"testing"
	"time"

	"votestream/schemas"
)

func TestParseStationResultKey(t *testing.T) {
	for _, tc := range []struct {
		key, station, ballot string
		ok                   bool
	}{
		{"BKK_1_0001/partylist", "BKK_1_0001", "partylist", true},
		{"A/7/constituency", "A/7", "constituency", true}, // a station id may hold a slash
		{"/partylist", "", "partylist", true},
		{"BKK_1_0001", "", "", false},
		{"", "", "", false},
	} {
		s, b, ok := schemas.ParseStationResultKey(tc.key)
		if s != tc.station || b != tc.ballot || ok != tc.ok {
			t.Errorf("ParseStationResultKey(%q) = %q, %q, %v; want %q, %q, %v", tc.key, s, b, ok, tc.station, tc.ballot, tc.ok)
		}
		if ok {
			if back := schemas.StationResultKey(s, b); back != tc.key {
				t.Errorf("StationResultKey(%q, %q) = %q, want %q back", s, b, back, tc.key)
			}
		}
	}
}

func TestOrderResults(t *testing.T) {
	for _, tc := range []struct {
		next, held int64
		want       schemas.Order
	}{
		{2, 1, schemas.Newer},
		{1, 2, schemas.Older},
		{3, 3, schemas.Same},
		{0, 0, schemas.Same},
		{1 << 40, 1<<40 - 1, schemas.Newer}, // consolidate's versions step by 1024 per input position
	} {
		if got := schemas.OrderResults(tc.next, tc.held); got != tc.want {
			t.Errorf("OrderResults(%d, %d) = %d, want %d", tc.next, tc.held, got, tc.want)
		}
	}
}

func TestOrderEstimates(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2023, 5, 14, 19, min, 0, 0, time.UTC) }
	e := func(data, computed int) *schemas.Estimate {
		return &schemas.Estimate{DataTime: at(data), ComputedAt: at(computed)}
	}
	for _, tc := range []struct {
		name       string
		next, held *schemas.Estimate
		want       schemas.Order
	}{
		{"later data time wins whatever the computation", e(5, 6), e(4, 9), schemas.Newer},
		{"earlier data time loses", e(3, 9), e(4, 5), schemas.Older},
		{"same data time: later computation wins", e(4, 7), e(4, 6), schemas.Newer},
		{"same data time: earlier computation loses", e(4, 5), e(4, 6), schemas.Older},
		{"both the same", e(4, 6), e(4, 6), schemas.Same},
	} {
		if got := schemas.OrderEstimates(tc.next, tc.held); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
