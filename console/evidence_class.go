package console

import (
	"slices"
	"strings"

	"votestream/schemas"
)

// class is how strongly the system's own evidence says an item needs a person, from what
// each anomaly can prove. It ranks the queue before the stake does: a lead works through
// the items that are certainly wrong before those that only look unusual, and close races
// first within each class. No class is fitted to the simulator's labels: each follows from
// what a detector checks.
type class int

const (
	// classExplained: the flag is a consequence of another item's fault (a BALLOT_GAP
	// between a station's ballots when the other ballot is provably wrong); resolving that
	// item resolves this one.
	classExplained class = iota
	// classShared: something is certainly wrong among several items, and nothing the system
	// knows says which: a photo on reports for N stations was taken at one of them; a
	// volunteer over the station limit is over it at one of their stations (which one is
	// presumed from arrival order); a BALLOT_GAP is one of the station's two ballots. Arrival
	// order does not pick the culprit: a copy is often forwarded before its taker's report.
	classShared
	// classStatistical: the figures look unlike the constituency's or lean with an
	// organisation's (SHARE_OUTLIER, TURNOUT_OUTLIER, BLOCK_SHIFT): a robust z-score or a
	// test, right about some of the time by design.
	classStatistical
	// classRule: this report provably broke a rule (counted before polls closed, outside
	// the volunteer's token scope, a tally board going backwards); the figures may be right,
	// but only a person can say whether the report stands.
	classRule
	// classWrong: the figures are provably wrong or contested: they fail the form's own
	// sums or the station's eligible voters, carry the other ballot's numbers, two sources
	// disagree, or the official figure matches none; disputed stations are out of the
	// estimate until a person decides.
	classWrong
)

var classNames = [...]string{
	classExplained:   "explained by another flag",
	classShared:      "one of several, which one unknown",
	classStatistical: "statistical",
	classRule:        "a rule broken by the report",
	classWrong:       "figures wrong or contested",
}

func (c class) String() string { return classNames[c] }

// codeClass is the class of one code on its own. SPREAD is a rule broken when ingest saw
// the station outside the volunteer's token scope, and shared when only the count rule
// raised it (the volunteer is over the limit, the station is presumed extra). A SPREAD
// whose flag row is not loaded (f nil: the anomalies table behind the result's codes, or
// wrongCodes asking about the code alone) is taken as ingest's, the stronger reading, so a
// lag never buries it.
func codeClass(code string, f *Flag) class {
	switch code {
	case schemas.AnomalyArith, schemas.AnomalyOverEligible, schemas.AnomalyNumberSwap,
		schemas.AnomalyConflict, schemas.AnomalyOfficialMismatch:
		return classWrong
	case schemas.AnomalyEarly, schemas.AnomalyRegression:
		return classRule
	case schemas.AnomalySpread:
		if f == nil || f.Evidence["assignment"] == "outside" {
			return classRule
		}
		return classShared
	case schemas.AnomalyShareOutlier, schemas.AnomalyTurnoutOutlier, schemas.AnomalyBlockShift:
		return classStatistical
	case schemas.AnomalyPhotoReuse, schemas.AnomalyBallotGap:
		return classShared
	}
	if schemas.AnomalySeverity(code) == schemas.SeverityHard { // a code added to the catalogue later
		return classWrong
	}
	return classStatistical
}

// classify returns the item's class (its strongest code's) and the reason a person reads.
// other is the station's other ballot, if it is in the queue: a BALLOT_GAP beside a
// provably wrong other ballot is explained by it.
func (it *Item) classify(other *Item) (class, string) {
	best := classExplained
	var parts [classWrong + 1][]string
	for _, code := range it.Codes {
		var f *Flag
		if i := slices.IndexFunc(it.Flags, func(f Flag) bool { return f.Code == code }); i >= 0 {
			f = &it.Flags[i]
		}
		c := codeClass(code, f)
		label := code
		if code == schemas.AnomalyBallotGap && other != nil {
			if cause := other.wrongCodes(); len(cause) > 0 {
				c = classExplained
				label = code + ", explained by " + strings.Join(cause, ", ") + " on the " + other.Ballot + " ballot"
			}
		}
		parts[c] = append(parts[c], label)
		best = max(best, c)
	}
	if it.Status == string(schemas.StatusDisputed) {
		best = classWrong
		parts[classWrong] = append(parts[classWrong], "disputed, so left out of the estimate")
	}
	var why []string
	for c := classWrong; c >= classExplained; c-- {
		if len(parts[c]) > 0 {
			why = append(why, c.String()+": "+strings.Join(parts[c], "; "))
		}
	}
	return best, strings.Join(why, " · ")
}

// wrongCodes lists the item's codes that prove its figures wrong or contested.
func (it *Item) wrongCodes() []string {
	var out []string
	for _, code := range it.Codes {
		if codeClass(code, nil) == classWrong {
			out = append(out, code)
		}
	}
	return out
}
