package plugin

import (
	"slices"
	"sort"
	"strings"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// Night is the plugin's picture of election night, built record by record from
// estimates.v1, station-results.v1 and anomalies.v1: the history of national estimates,
// the latest estimate in full, the current status and open codes of every station result,
// and every anomaly raised. It does no I/O and is not safe for concurrent use; Source
// guards it.
type Night struct {
	country    *election.Country // nil without reference data
	maxHistory int

	history   []estimatePoint     // by data time, oldest first; at most maxHistory
	historyID map[string]struct{} // estimate ids in history, to drop re-published runs
	latest    *schemas.Estimate

	results map[string]resultState            // by schemas.StationResultKey
	counts  map[string]map[schemas.Status]int // ballot -> status -> current results

	anomalies map[string]anomalyItem // by anomaly_id; the first record of an id is kept

	// Seq numbers grow with every change of their part, so a stream knows whether it has
	// something new to send.
	EstimateSeq, ResultSeq, AnomalySeq uint64
}

// estimatePoint is what the history keeps of one estimate: enough for the time series,
// a few kilobytes, where the full estimate with its constituencies is a hundred.
type estimatePoint struct {
	id               string
	dataTime         time.Time
	stationsReported int
	stationsTotal    int
	eligibleReported int64
	eligibleTotal    int64
	shares           map[int]band // party_no -> share
}

// band is a share with its 95 % interval.
type band struct{ share, lo, hi float64 }

// resultState is what the plugin keeps of a station result.
type resultState struct {
	constituencyID string
	ballot         string
	status         schemas.Status
	version        int64
	open           []string // anomaly codes open on the result
}

// anomalyItem is an anomaly without its evidence and submissions, which no panel shows.
type anomalyItem struct {
	id, code, stationID, constituencyID, ballot, volunteerID, message string
	severity                                                          schemas.Severity
	detectedAt                                                        time.Time
}

// DefaultMaxHistory is the number of estimates the history keeps: with an estimate every
// few seconds, a whole night, in about 40 MB with 70 parties.
const DefaultMaxHistory = 20000

// NewNight returns an empty night. country may be nil (no names, no candidate-to-party
// mapping, no provinces); maxHistory <= 0 takes DefaultMaxHistory.
func NewNight(country *election.Country, maxHistory int) *Night {
	if maxHistory <= 0 {
		maxHistory = DefaultMaxHistory
	}
	return &Night{
		country:    country,
		maxHistory: maxHistory,
		historyID:  map[string]struct{}{},
		results:    map[string]resultState{},
		counts:     map[string]map[schemas.Status]int{},
		anomalies:  map[string]anomalyItem{},
	}
}

// ApplyEstimate takes one estimates.v1 record. A run already held (same estimate_id) changes
// nothing; the latest estimate is the one with the newest data time (then computed_at).
// It reports whether anything changed.
func (n *Night) ApplyEstimate(e schemas.Estimate) bool {
	if _, seen := n.historyID[e.EstimateID]; seen {
		return false
	}
	if n.latest != nil && n.latest.EstimateID == e.EstimateID {
		return false
	}
	p := estimatePoint{
		id: e.EstimateID, dataTime: e.DataTime,
		stationsReported: e.StationsReported, stationsTotal: e.StationsTotal,
		eligibleReported: e.EligibleReported, eligibleTotal: e.EligibleTotal,
		shares: make(map[int]band, len(e.Parties)),
	}
	for _, pe := range e.Parties {
		p.shares[pe.PartyNo] = band{pe.Share, pe.ShareLo, pe.ShareHi}
	}
	// Almost always the newest: insert from the end.
	i := sort.Search(len(n.history), func(i int) bool { return n.history[i].dataTime.After(p.dataTime) })
	n.history = slices.Insert(n.history, i, p)
	n.historyID[p.id] = struct{}{}
	if over := len(n.history) - n.maxHistory; over > 0 {
		for _, old := range n.history[:over] {
			delete(n.historyID, old.id)
		}
		n.history = slices.Delete(n.history, 0, over)
	}
	if n.latest == nil || e.DataTime.After(n.latest.DataTime) ||
		(e.DataTime.Equal(n.latest.DataTime) && e.ComputedAt.After(n.latest.ComputedAt)) {
		latest := e
		n.latest = &latest
	}
	n.EstimateSeq++
	return true
}

// supersedes is the contract's rule for station results: a version only ever grows, so a
// record replaces the one held only when its version is higher.
func supersedes(newVersion, heldVersion int64) bool { return newVersion > heldVersion }

// ApplyResult takes one station-results.v1 record; a version not above the one held is
// stale and changes nothing. It reports whether anything changed.
func (n *Night) ApplyResult(r schemas.StationResult) bool {
	key := schemas.StationResultKey(r.StationID, r.Ballot)
	held, ok := n.results[key]
	if ok && !supersedes(r.Version, held.version) {
		return false
	}
	if ok {
		n.count(held.ballot, held.status, -1)
	}
	n.results[key] = resultState{
		constituencyID: r.ConstituencyID, ballot: r.Ballot, status: r.Status, version: r.Version,
		open: slices.Clone(r.Anomalies),
	}
	n.count(r.Ballot, r.Status, +1)
	n.ResultSeq++
	return true
}

// DeleteResult takes a tombstone of station-results.v1 (compaction deleting the result of
// a station and ballot, keyed station_id/ballot). It reports whether anything changed.
func (n *Night) DeleteResult(key string) bool {
	held, ok := n.results[key]
	if !ok {
		return false
	}
	n.count(held.ballot, held.status, -1)
	delete(n.results, key)
	n.ResultSeq++
	return true
}

func (n *Night) count(ballot string, s schemas.Status, d int) {
	if n.counts[ballot] == nil {
		n.counts[ballot] = map[schemas.Status]int{}
	}
	n.counts[ballot][s] += d
}

// ApplyAnomaly takes one anomalies.v1 record; an anomaly id already held (a re-delivery,
// or a flag raised again after a restart) changes nothing. It reports whether anything
// changed.
func (n *Night) ApplyAnomaly(a schemas.Anomaly) bool {
	if _, ok := n.anomalies[a.AnomalyID]; ok {
		return false
	}
	n.anomalies[a.AnomalyID] = anomalyItem{
		id: a.AnomalyID, code: a.Code, severity: a.Severity, stationID: a.StationID,
		constituencyID: a.ConstituencyID, ballot: a.Ballot, volunteerID: a.VolunteerID,
		message: a.Message, detectedAt: a.DetectedAt,
	}
	n.AnomalySeq++
	return true
}

// isOpen tells whether an anomaly still stands. Consolidation lists on each station result
// the codes open on it (docs/consolidation.md, rule 8): an anomaly is open while the
// current result of its station and ballot lists its code. A flag on both ballots (no
// ballot, as BALLOT_GAP) is open while either result lists it. Until a result of its
// station is known, and for a flag on no station, an anomaly stands: nothing cleared it.
func (n *Night) isOpen(a anomalyItem) bool {
	if a.stationID == "" {
		return true
	}
	ballots := []string{a.ballot}
	if a.ballot == "" {
		ballots = []string{string(election.BallotConstituency), string(election.BallotPartyList)}
	}
	known := false
	for _, b := range ballots {
		r, ok := n.results[schemas.StationResultKey(a.stationID, b)]
		if !ok {
			continue
		}
		known = true
		if slices.Contains(r.open, a.code) {
			return true
		}
	}
	return !known
}

// openAnomalies returns the open anomalies that pass keep, oldest first (then by id).
func (n *Night) openAnomalies(keep func(anomalyItem) bool) []anomalyItem {
	var out []anomalyItem
	for _, a := range n.anomalies {
		if keep(a) && n.isOpen(a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b anomalyItem) int {
		if c := a.detectedAt.Compare(b.detectedAt); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}

// Latest returns the latest estimate, or nil before the first one.
func (n *Night) Latest() *schemas.Estimate { return n.latest }

// Counts reports how many estimates, station results and anomalies the night holds.
func (n *Night) Counts() (estimates, results, anomalies int) {
	return len(n.history), len(n.results), len(n.anomalies)
}
