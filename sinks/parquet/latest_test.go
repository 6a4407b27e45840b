package parquet

import (
	"testing"
	"time"

	"votestream/schemas"
)

func TestLatestResults(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2023, 5, 14, 18, min, 0, 0, time.FixedZone("ICT", 7*3600)) }
	sr := func(station, ballot string, version int64, cast, min int) *schemas.StationResult {
		return &schemas.StationResult{StationID: station, Ballot: ballot, Version: version, BallotsCast: cast, UpdatedAt: at(min)}
	}
	type step struct {
		sr     *schemas.StationResult
		forget string // a tombstone's key instead of a result
	}
	type want struct {
		station, ballot string
		version         int64
		cast            int
	}
	for _, tc := range []struct {
		name     string
		steps    []step
		want     []want // in export order: station id, then ballot
		dataTime time.Time
	}{
		{name: "nothing", dataTime: time.Time{}},
		{
			name:  "higher version wins whatever the order",
			steps: []step{{sr: sr("S1", "partylist", 1, 100, 1)}, {sr: sr("S1", "partylist", 3, 300, 3)}, {sr: sr("S1", "partylist", 2, 200, 9)}},
			want:  []want{{"S1", "partylist", 3, 300}},
			// The stale version 2 was not kept, so its later updated_at is not the data time.
			dataTime: at(3),
		},
		{
			name:     "same version re-published: the later record wins",
			steps:    []step{{sr: sr("S1", "constituency", 2, 200, 2)}, {sr: sr("S1", "constituency", 2, 201, 4)}},
			want:     []want{{"S1", "constituency", 2, 201}},
			dataTime: at(4),
		},
		{
			name: "ballots and stations are separate counts, sorted",
			steps: []step{
				{sr: sr("S2", "partylist", 1, 10, 1)}, {sr: sr("S1", "partylist", 5, 50, 5)},
				{sr: sr("S1", "constituency", 1, 11, 2)}, {sr: sr("S2", "partylist", 2, 20, 3)},
			},
			want:     []want{{"S1", "constituency", 1, 11}, {"S1", "partylist", 5, 50}, {"S2", "partylist", 2, 20}},
			dataTime: at(5),
		},
		{
			name:     "tombstone deletes; a station id may hold a slash",
			steps:    []step{{sr: sr("A/7", "partylist", 4, 40, 8)}, {sr: sr("A/7", "constituency", 1, 41, 2)}, {forget: "A/7/partylist"}},
			want:     []want{{"A/7", "constituency", 1, 41}},
			dataTime: at(2),
		},
		{
			name:     "a result after its tombstone counts again",
			steps:    []step{{sr: sr("S1", "partylist", 4, 40, 1)}, {forget: "S1/partylist"}, {sr: sr("S1", "partylist", 1, 10, 6)}},
			want:     []want{{"S1", "partylist", 1, 10}},
			dataTime: at(6),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := latestResults{}
			for _, s := range tc.steps {
				if s.sr != nil {
					l.Apply(s.sr)
				} else if !l.Forget(s.forget) {
					t.Fatalf("Forget(%q) = false", s.forget)
				}
			}
			got := l.Sorted()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d results, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.StationID != w.station || g.Ballot != w.ballot || g.Version != w.version || g.BallotsCast != w.cast {
					t.Errorf("result %d = %s/%s v%d cast %d, want %s/%s v%d cast %d", i, g.StationID, g.Ballot, g.Version, g.BallotsCast, w.station, w.ballot, w.version, w.cast)
				}
			}
			if d := l.DataTime(); !d.Equal(tc.dataTime) {
				t.Errorf("DataTime %v, want %v", d, tc.dataTime)
			}
		})
	}
	if (latestResults{}).Forget("no-slash") {
		t.Error("Forget of a key without a ballot reported true")
	}
}

func TestNewerEstimate(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2023, 5, 14, 11, min, 0, 0, time.UTC) }
	e := func(data, computed int) *schemas.Estimate {
		return &schemas.Estimate{DataTime: at(data), ComputedAt: at(computed)}
	}
	for _, tc := range []struct {
		name    string
		e, cur  *schemas.Estimate
		replace bool
	}{
		{"first", e(5, 5), nil, true},
		{"later data time", e(6, 6), e(5, 9), true},
		{"earlier data time, later computation", e(4, 9), e(5, 5), false},
		{"same data time, later computation", e(5, 7), e(5, 6), true},
		{"same data time, earlier computation", e(5, 5), e(5, 6), false},
		{"identical: the later record", e(5, 6), e(5, 6), true},
	} {
		if got := newerEstimate(tc.e, tc.cur); got != tc.replace {
			t.Errorf("%s: newerEstimate = %v, want %v", tc.name, got, tc.replace)
		}
	}
}
