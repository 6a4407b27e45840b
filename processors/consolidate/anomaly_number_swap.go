package consolidate

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// numberSwap looks for votes keyed by the other ballot's numbers: a constituency count
// written under the candidates' party numbers, or a party-list count written under the
// party's candidate number in this constituency. Two signs, either enough:
//
//   - keys: a constituency report whose numbers that are no candidate here are all party
//     numbers of this constituency's candidates (ingest normally refuses these);
//   - shares: read as the other ballot's numbers, the report's vote shares overlap the other
//     ballot's shares better than read right, by at least SwapMargin. The overlap of two
//     share vectors is the sum of the smaller share per candidate (1 when identical). The
//     comparison is symmetric (a right count against a swapped one looks swapped too), so
//     the party-list count decides: if it looks candidate-keyed (candidateKeyed), it is
//     the swapped one, else the constituency count is.
func (r *Rules) numberSwap(st *Station, rep *Report, other *figures, _ time.Time) *schemas.Anomaly {
	var otherKey uint64
	if other != nil {
		otherKey = other.hash
	}
	// The verdict depends only on the report and the other ballot's figures, which seldom
	// change: remember the last one on the report (a pure cache, never state).
	if m := rep.swap.Load(); m != nil && m.other == otherKey && m.country == r.Country {
		return m.anomaly
	}
	a := r.judgeSwap(st, rep, other)
	rep.swap.Store(&swapMemo{country: r.Country, other: otherKey, anomaly: a})
	return a
}

// swapMemo is numberSwap's last verdict on a report.
type swapMemo struct {
	country *election.Country
	other   uint64 // hash of the other ballot's figures, 0 for none
	anomaly *schemas.Anomaly
}

// swapRef is what numberSwap needs of a constituency, built once per Country.
type swapRef struct {
	cands   []election.Candidate
	partyOf map[int]int // candidate number -> party number
	candOf  map[int]int // party number -> candidate number
}

var swapRefs sync.Map // swapRefKey -> *swapRef

type swapRefKey struct {
	country      *election.Country
	constituency string
}

func (r *Rules) swapRef(constituency string) *swapRef {
	k := swapRefKey{r.Country, constituency}
	if v, ok := swapRefs.Load(k); ok {
		return v.(*swapRef)
	}
	cands := r.Country.CandidatesIn(constituency)
	ref := &swapRef{cands: cands, partyOf: make(map[int]int, len(cands)), candOf: make(map[int]int, len(cands))}
	for _, c := range cands {
		ref.partyOf[c.No] = c.PartyNo
		ref.candOf[c.PartyNo] = c.No
	}
	v, _ := swapRefs.LoadOrStore(k, ref)
	return v.(*swapRef)
}

func (r *Rules) judgeSwap(st *Station, rep *Report, other *figures) *schemas.Anomaly {
	ref := r.swapRef(st.ConstituencyID)
	cands, partyOf, candOf := ref.cands, ref.partyOf, ref.candOf
	if len(cands) == 0 {
		return nil
	}
	constituency := rep.Ballot() == string(election.BallotConstituency)

	if constituency {
		var foreign []string
		asParty := true
		for _, no := range rep.fig.numbers() {
			if _, ok := partyOf[no]; ok {
				continue
			}
			foreign = append(foreign, strconv.Itoa(no))
			if _, ok := candOf[no]; !ok {
				asParty = false
			}
		}
		if len(foreign) > 0 && asParty {
			return swapAnomaly(st, rep, "numbers "+strings.Join(foreign, ",")+" are no candidate here but are the party numbers of candidates here",
				map[string]string{"reason": "keys", "foreign_numbers": strings.Join(foreign, ",")})
		}
	}

	if other == nil || rep.fig.valid() < r.SwapMinVotes || other.valid() < r.SwapMinVotes {
		return nil
	}
	cv, pv := &rep.fig, other
	if !constituency {
		cv, pv = other, &rep.fig
	}
	sumC, sumP := float64(cv.valid()), float64(pv.valid())
	right := 0.0
	for _, c := range cands {
		right += min(float64(cv.vote(c.No))/sumC, float64(pv.vote(c.PartyNo))/sumP)
	}
	swapped := 0.0
	repSum, otherSum := float64(rep.fig.valid()), float64(other.valid())
	for i, no := range rep.fig.nos() {
		swapped += min(float64(rep.fig.votes()[i])/repSum, float64(other.vote(int(no)))/otherSum)
	}
	if swapped-right < r.SwapMargin {
		return nil
	}
	if constituency == candidateKeyed(pv, cands) {
		// A constituency count whose party list looks candidate-keyed: the party list is the
		// swapped one. A party-list count that does not look candidate-keyed: not this one.
		return nil
	}
	return swapAnomaly(st, rep,
		"vote shares match the other ballot better when the numbers are read as its numbers ("+
			strconv.FormatFloat(swapped, 'f', 2, 64)+") than read right ("+strconv.FormatFloat(right, 'f', 2, 64)+")",
		map[string]string{
			"reason":             "shares",
			"overlap_right":      strconv.FormatFloat(right, 'f', 3, 64),
			"overlap_as_swapped": strconv.FormatFloat(swapped, 'f', 3, 64),
			"other_figures":      other.String(),
		})
}

// candidateKeyed reports whether a party-list count looks keyed by candidate numbers: more
// of its votes sit under this constituency's candidate numbers than under the party numbers
// of those candidates. Right, the parties that field candidates here carry most of the vote
// under their own numbers; swapped, their votes moved to the candidate numbers.
func candidateKeyed(votes *figures, cands []election.Candidate) bool {
	underCand, underParty := 0, 0
	for _, c := range cands {
		underCand += votes.vote(c.No)
		underParty += votes.vote(c.PartyNo)
	}
	return underCand > underParty
}

func swapAnomaly(st *Station, rep *Report, message string, evidence map[string]string) *schemas.Anomaly {
	evidence["figures"] = rep.fig.String()
	a := newAnomaly(schemas.AnomalyNumberSwap, st, rep.Ballot(), rep.ReceivedAt, message, evidence, rep.SubmissionID)
	return withReport(a, rep)
}
