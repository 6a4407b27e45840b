package estimate

import (
	"strconv"
	"strings"
	"testing"

	"votestream/schemas"
)

func TestHeadline(t *testing.T) {
	name := func(no int) string { return "P" + strconv.Itoa(no) }
	cons := []schemas.ConstituencyEstimate{{Call: schemas.CallCalled}, {Call: schemas.CallLikely}, {Call: schemas.CallLeading}, {Call: schemas.CallTooEarly}}
	est := schemas.Estimate{
		StationsReported: 250, StationsTotal: 1000, SharesState: schemas.StateEstimate, Constituencies: cons,
		Parties: []schemas.PartyEstimate{
			{PartyNo: 1, Share: 0.2, ShareLo: 0.18, ShareHi: 0.22},
			{PartyNo: 2, Share: 0.45, ShareLo: 0.42, ShareHi: 0.48},
			{PartyNo: 3, Share: 0.35, ShareLo: 0.33, ShareHi: 0.37},
		},
	}
	got := Headline(est, name, 2)
	for _, want := range []string{"25.0 % of stations (250/1000)", "P2 45.0 % [42.0, 48.0] | P3 35.0 % [33.0, 37.0] |",
		"3 with a leader, 1 likely, 1 called, 1 too early"} {
		if !strings.Contains(got, want) {
			t.Errorf("headline %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "P1") {
		t.Errorf("headline %q shows a third party with top 2", got)
	}
	est.SharesState = schemas.StateTooEarly
	est.Parties = []schemas.PartyEstimate{{PartyNo: 1, CountedVotes: 10}, {PartyNo: 2, CountedVotes: 30}}
	if got := Headline(est, name, 3); !strings.Contains(got, "shares: too early | P2 30 counted | P1 10 counted") || strings.Contains(got, "%  [") {
		t.Errorf("too early: %q", got)
	}
}
