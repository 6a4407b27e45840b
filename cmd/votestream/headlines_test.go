package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// lineWriter hands each write to a channel, so the test reads the board as it is printed.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) { w <- string(p); return len(p), nil }

// The terminal board: Thai and English names, seat ranges, and once the night is replayed a
// clear line saying so, printed even when the estimate has not changed since.
func TestPrintHeadlines(t *testing.T) {
	c := &election.Country{Parties: []election.Party{{No: 31, NameTH: "ก้าวไกล", NameEN: "Move Forward"}, {No: 29, NameTH: "เพื่อไทย", NameEN: "Pheu Thai"}}}
	est := schemas.Estimate{EstimateID: "e1", StationsReported: 10, StationsTotal: 20, SharesState: schemas.StateEstimate, SeatsState: schemas.StateEstimate, SeatDraws: 2000,
		Parties: []schemas.PartyEstimate{
			{PartyNo: 31, Share: 0.4, ShareLo: 0.38, ShareHi: 0.42, SeatRange: &schemas.SeatRange{Total: 150, TotalLo90: 140, TotalHi90: 160, LargestProbability: 0.9}},
			{PartyNo: 29, Share: 0.3, ShareLo: 0.28, ShareHi: 0.32, SeatRange: &schemas.SeatRange{Total: 120, TotalLo90: 110, TotalHi90: 130, LargestProbability: 0.1}},
		}}
	var replayed atomic.Bool
	out := make(lineWriter, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		printHeadlines(ctx, out, c, func() (schemas.Estimate, bool) { return est, true }, time.Millisecond, replayed.Load)
	}()
	defer func() { cancel(); <-done }()

	first := <-out
	for _, want := range []string{"ก้าวไกล Move Forward", "[140, 160]", "90 %", "2000 simulated nights"} {
		if !strings.Contains(first, want) {
			t.Errorf("board lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, "fully replayed") {
		t.Errorf("says replayed before the replay ended:\n%s", first)
	}
	replayed.Store(true)
	second := <-out
	if !strings.Contains(second, "the simulated night has been fully replayed") {
		t.Errorf("after the replay, the board does not say so:\n%s", second)
	}
}
