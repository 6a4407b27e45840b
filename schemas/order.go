package schemas

import "strings"

// ParseStationResultKey splits a station-results.v1 key (StationResultKey) at its last
// slash: a station id may hold a slash, a ballot never does. It reports false for a key
// without one. Readers need it for tombstones, whose value is empty.
func ParseStationResultKey(key string) (stationID, ballot string, ok bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", "", false
	}
	return key[:i], key[i+1:], true
}

// Order is how a message read now stands to the one a reader holds for the same thing.
type Order int

// Orders. Their values compare like cmp.Compare's.
const (
	// Older: the held message supersedes it (a late or re-ordered delivery).
	Older Order = -1
	// Same: as new as the held one. For station results that is a re-delivery of the same
	// result (consolidate never publishes two results under one version): a reader that
	// keeps the latest copy read may take it, a reader that reports changes must not.
	Same Order = 0
	// Newer: it supersedes the held message.
	Newer Order = 1
)

// OrderResults is the one rule for station results of one station and ballot: the highest
// version wins. Every reader (estimate, the feed, the export) decides with it.
func OrderResults(next, held int64) Order {
	switch {
	case next > held:
		return Newer
	case next < held:
		return Older
	}
	return Same
}

// OrderEstimates is the rule for estimates (that of the estimate_latest view in
// ClickHouse): the later data time wins, then the later computation.
func OrderEstimates(next, held *Estimate) Order {
	if c := next.DataTime.Compare(held.DataTime); c != 0 {
		return Order(c)
	}
	return Order(next.ComputedAt.Compare(held.ComputedAt))
}
