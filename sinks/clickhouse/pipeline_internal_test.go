package clickhouse

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas/chtable"
)

// A round merged from two polls keeps every row in poll order per table, the dead letters
// of both, and for each partition the offset after its last record.
func TestRoundMerge(t *testing.T) {
	ta, tb := chtable.Table{Name: "a"}, chtable.Table{Name: "b"}
	first, second := newRound(), newRound()
	first.offset(&kgo.Record{Topic: "t", Partition: 0, Offset: 7, LeaderEpoch: 1})
	first.offset(&kgo.Record{Topic: "t", Partition: 1, Offset: 3, LeaderEpoch: 1})
	first.add(&genericRows{chtable.Rows{Table: ta, Rows: [][]any{{1}, {2}}}})
	first.results(1).add(&resultRow{stationID: "S1"})
	second.offset(&kgo.Record{Topic: "t", Partition: 0, Offset: 8, LeaderEpoch: 1})
	second.offset(&kgo.Record{Topic: "u", Partition: 0, Offset: 0, LeaderEpoch: 2})
	second.add(&genericRows{chtable.Rows{Table: tb, Rows: [][]any{{9}}}})
	second.add(&genericRows{chtable.Rows{Table: ta, Rows: [][]any{{3}}}})
	second.results(1).add(&resultRow{stationID: "S2"})
	second.add(&genericRows{chtable.Rows{Table: chtable.StationResults, Rows: [][]any{{"S3"}}}})
	second.dead = append(second.dead, &kgo.Record{Topic: "dl"})
	first.merge(second)

	if first.records != 4 {
		t.Errorf("records %d, want 4", first.records)
	}
	wantOrder := []tableKey{{"a", false}, {"station_results", true}, {"b", false}, {"station_results", false}}
	if got := first.order; !slices.Equal(got, wantOrder) {
		t.Errorf("inserts %v, want %v (columns and rows of one table apart)", got, wantOrder)
	}
	if rows := first.tables[tableKey{"a", false}].(*genericRows).Rows.Rows; len(rows) != 3 || rows[0][0] != 1 || rows[2][0] != 3 {
		t.Errorf("rows of a %v, want [[1] [2] [3]]", rows)
	}
	rc := first.results(0)
	got := slices.Clone(rc.stationID)
	for _, l := range rc.later {
		got = append(got, l.stationID...)
	}
	if !slices.Equal(got, []string{"S1", "S2"}) || rc.len() != 2 {
		t.Errorf("station_results columns hold %v (len %d), want [S1 S2]", got, rc.len())
	}
	if len(first.dead) != 1 {
		t.Errorf("%d dead letters, want 1", len(first.dead))
	}
	want := map[string]map[int32]int64{"t": {0: 9, 1: 4}, "u": {0: 1}}
	for topic, ps := range want {
		for p, off := range ps {
			if got := first.offsets[topic][p].Offset; got != off {
				t.Errorf("%s[%d] commits offset %d, want %d", topic, p, got, off)
			}
		}
	}
}

// The poller waits while the waiting round is full, merges into it otherwise, and drain
// waits for the storer's round and its commit.
func TestPipelineHandOver(t *testing.T) {
	p := newPipeline()
	one := func() *round {
		b := newRound()
		b.offset(&kgo.Record{Topic: "t"})
		return b
	}
	for range 2 {
		if !p.put(one(), 2) {
			t.Fatal("put refused before the storer ended")
		}
	}
	full := make(chan bool)
	go func() { full <- p.put(one(), 2) }()
	b := p.take() // makes room: the third put goes through
	if b.records != 2 {
		t.Fatalf("took a round of %d records, want the two merged", b.records)
	}
	if !<-full {
		t.Fatal("third put refused")
	}
	drained := make(chan struct{})
	go func() { p.drain(); close(drained) }()
	p.stored(true)
	if b := p.take(); b.records != 1 {
		t.Fatalf("second round %d records, want 1", b.records)
	}
	p.stored(true)
	p.committed()
	select {
	case <-drained:
		t.Fatal("drained with a commit unanswered")
	default:
	}
	p.committed()
	<-drained
	p.stop()
	if p.take() != nil {
		t.Fatal("take after stop returned a round")
	}
	p.exit(nil)
	if p.put(one(), 2) {
		t.Fatal("put accepted after the storer ended")
	}
}
