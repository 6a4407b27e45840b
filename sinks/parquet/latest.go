package parquet

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"votestream/schemas"
)

// resultKey identifies one count: a station and a ballot.
type resultKey struct {
	station, ballot string
}

// latestResults reduces a stream of station-results.v1 records to the current result of
// each station and ballot. Not safe for concurrent use.
type latestResults map[resultKey]*schemas.StationResult

// Apply keeps sr when its version is at least the held one: the highest version is current,
// and of two records with the same version the later (a re-publication) wins. It reports
// whether sr was kept.
func (l latestResults) Apply(sr *schemas.StationResult) bool {
	k := resultKey{sr.StationID, sr.Ballot}
	if cur, ok := l[k]; ok && schemas.OrderResults(sr.Version, cur.Version) == schemas.Older {
		return false
	}
	l[k] = sr
	return true
}

// Forget applies a tombstone (a nil value on the compacted topic, keyed station_id/ballot):
// the result of that station and ballot was deleted. A station id may hold a slash; a ballot
// never does. It reports false for a key it cannot split.
func (l latestResults) Forget(key string) bool {
	station, ballot, ok := schemas.ParseStationResultKey(key)
	if ok {
		delete(l, resultKey{station, ballot})
	}
	return ok
}

// Sorted returns the current results ordered by station id, then ballot, so two exports of
// the same cut write the same rows in the same order.
func (l latestResults) Sorted() []*schemas.StationResult {
	out := make([]*schemas.StationResult, 0, len(l))
	for _, sr := range l {
		out = append(out, sr)
	}
	slices.SortFunc(out, func(a, b *schemas.StationResult) int {
		return cmp.Or(strings.Compare(a.StationID, b.StationID), strings.Compare(a.Ballot, b.Ballot))
	})
	return out
}

// DataTime is the newest updated_at of the current results: the data time of the export.
func (l latestResults) DataTime() time.Time {
	var t time.Time
	for _, sr := range l {
		if sr.UpdatedAt.After(t) {
			t = sr.UpdatedAt
		}
	}
	return t
}

// newerEstimate reports whether e supersedes cur (nil: nothing yet) as the latest estimate
// (schemas.OrderEstimates); on a tie the record read later wins.
func newerEstimate(e, cur *schemas.Estimate) bool {
	return cur == nil || schemas.OrderEstimates(e, cur) != schemas.Older
}
