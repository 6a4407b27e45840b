package schemas

// AnomalyKind is one entry of the anomaly catalogue: everything the system says about a
// code, in one place. The JSON Schema enum (anomaly.v1.json), the table in
// docs/consolidation.md and the simulator's faults are checked against it by tests.
type AnomalyKind struct {
	// Code is the stable code (an Anomaly* constant).
	Code string
	// Severity: hard disputes the result; soft only flags it for a person.
	Severity Severity
	// Scope is what the flag is about: "report" (one submission), "station" (a station and
	// ballot across reports), "volunteer" (one volunteer's reports) or "evidence" (a photo).
	Scope string
	// Detector names the consolidate file that raises it (processors/consolidate/anomaly_<Detector>.go).
	Detector string
	// Description says in a line when it is raised.
	Description string
}

// AnomalyCatalogue lists every anomaly code, in DESIGN.md order. An array, so that a
// consumer may size a set by it at compile time (len is a constant): a new code grows
// every such set instead of falling off the end of a fixed-width one.
var AnomalyCatalogue = [...]AnomalyKind{
	{AnomalyArith, SeverityHard, "report", "arith", "a report's votes + invalid + no_vote differ from its ballots cast"},
	{AnomalyOverEligible, SeverityHard, "report", "over_eligible", "a report's ballots cast exceed the station's eligible voters"},
	{AnomalyConflict, SeverityHard, "station", "conflict", "current final forms of different volunteers disagree"},
	{AnomalyRegression, SeveritySoft, "volunteer", "regression", "a volunteer's tally board is lower than their previous one"},
	{AnomalyBallotGap, SeveritySoft, "station", "ballot_gap", "final constituency and party-list ballots cast differ by more than the tolerance"},
	{AnomalyTurnoutOutlier, SeveritySoft, "station", "outlier", "the station's turnout is a robust outlier among its constituency's stations"},
	{AnomalyShareOutlier, SeveritySoft, "station", "outlier", "one number's vote share is a robust outlier among the constituency's stations"},
	{AnomalyNumberSwap, SeverityHard, "report", "number_swap", "a final form keyed by the other ballot's numbers"},
	{AnomalyEarly, SeveritySoft, "report", "early", "counted_at before polls close"},
	{AnomalySpread, SeveritySoft, "volunteer", "spread", "a volunteer reported outside their scope, or more distinct stations than allowed"},
	{AnomalyOfficialMismatch, SeverityHard, "station", "official_mismatch", "the newest official figure matches none of the volunteers' final forms"},
	{AnomalyPhotoReuse, SeveritySoft, "evidence", "photo_reuse", "one evidence photo on reports for two or more stations"},
	{AnomalyBlockShift, SeveritySoft, "station", "block_shift", "one organisation's finals in a constituency lean, together, toward one number against the other organisations' there"},
}

// AnomalyCodes lists every code of the catalogue, in its order.
var AnomalyCodes = func() []string {
	out := make([]string, len(AnomalyCatalogue))
	for i, k := range AnomalyCatalogue {
		out[i] = k.Code
	}
	return out
}()

var anomalyIndex = func() map[string]int {
	m := make(map[string]int, len(AnomalyCatalogue))
	for i, k := range AnomalyCatalogue {
		m[k.Code] = i
	}
	return m
}()

// LookupAnomaly returns the catalogue entry of code and its position in the catalogue;
// false for a code not in it.
func LookupAnomaly(code string) (AnomalyKind, int, bool) {
	i, ok := anomalyIndex[code]
	if !ok {
		return AnomalyKind{}, -1, false
	}
	return AnomalyCatalogue[i], i, true
}

// AnomalySeverity returns the severity of code, "" for a code not in the catalogue.
func AnomalySeverity(code string) Severity {
	k, _, _ := LookupAnomaly(code)
	return k.Severity
}
