package clickhouse_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"votestream/schemas"
)

// TestColumnsAndRowsOfOneTable: in one round, records the fast reader takes (plain JSON) and
// records it leaves to the general path (json.Marshal escapes "<" and "&") land in the same
// tables with every column as sent.
func TestColumnsAndRowsOfOneTable(t *testing.T) {
	f := newFixture(t)
	plain := result("BKK_1_0001", 2, 480)
	plain.Votes = map[string]int{"31": 300, "7": 100, "29": 80}
	plain.Anomalies = []string{schemas.AnomalySpread}
	escaped := result("BKK_1_0002", 3, 500)
	escaped.DecidedBy = "lead <3> & co"
	escaped.CountedAt = time.Date(2023, 5, 14, 18, 5, 0, 0, time.FixedZone("ICT", 7*3600))
	f.produce(schemas.TopicStationResults, plain, escaped)
	rep := report(1)
	rep.Evidence = []string{"sha256:" + string(slices.Repeat([]byte("ab"), 32))}
	odd := report(2)
	odd.Org = "R&D"
	f.produce(schemas.TopicSubmissions, rep, odd)

	const group = "sink-columns"
	stop := f.start(group)
	f.waitCommitted(group)
	stop()

	rows, err := f.c.Conn.Query(context.Background(),
		"SELECT station_id, version, ballots_cast, vote_no, votes, source_submission_ids, anomalies, decided_by, counted_at, updated_at FROM station_results ORDER BY station_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got int
	for _, want := range []schemas.StationResult{plain, escaped} {
		if !rows.Next() {
			break
		}
		var station, decided string
		var version uint64
		var cast uint32
		var nos []uint16
		var votes []uint32
		var sources, anomalies []string
		var counted, updated time.Time
		if err := rows.Scan(&station, &version, &cast, &nos, &votes, &sources, &anomalies, &decided, &counted, &updated); err != nil {
			t.Fatal(err)
		}
		got++
		stored := map[string]int{}
		for i, no := range nos {
			stored[strconv.Itoa(int(no))] = int(votes[i])
		}
		if station != want.StationID || int64(version) != want.Version || int(cast) != want.BallotsCast || decided != want.DecidedBy ||
			!maps.Equal(stored, want.Votes) || !slices.IsSorted(nos) || len(sources) != 1 || sources[0] != want.Sources[0].SubmissionID ||
			!slices.Equal(anomalies, append([]string{}, want.Anomalies...)) || !counted.Equal(want.CountedAt) || !updated.Equal(want.UpdatedAt) {
			t.Errorf("stored %s v%d cast %d votes %v/%v sources %v anomalies %v decided %q counted %v updated %v, want %+v",
				station, version, cast, nos, votes, sources, anomalies, decided, counted, updated, want)
		}
	}
	if got != 2 {
		t.Fatalf("%d station results stored, want 2", got)
	}
	if n := f.count("SELECT count() FROM submissions WHERE (submission_id = '" + rep.SubmissionID + "' AND evidence = ['" + rep.Evidence[0] + "'] AND org = 'ilaw' AND vote_no = [29, 31] AND votes = [185, 300]) OR (submission_id = '" + odd.SubmissionID + "' AND org = 'R&D' AND evidence = [])"); n != 2 {
		t.Fatalf("%d of the 2 submissions stored as sent", n)
	}
}
