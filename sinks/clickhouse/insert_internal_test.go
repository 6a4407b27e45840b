package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/internal/health"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/provision"
)

// watchedConn is the real connection with a hook on PrepareBatch: it keeps the context
// each batch was prepared with (the one clickhouse-go's Send watches) and may run a step
// before preparing.
type watchedConn struct {
	driver.Conn
	before      func(ctx context.Context)
	beforeQuery func(ctx context.Context, query string) // the same, for tests of several tables
	mu          sync.Mutex                              // inserts of a round run side by side
	ctxs        []context.Context
}

func (c *watchedConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	c.mu.Lock()
	c.ctxs = append(c.ctxs, ctx)
	c.mu.Unlock()
	if c.before != nil {
		c.before(ctx)
	}
	if c.beforeQuery != nil {
		c.beforeQuery(ctx, query)
	}
	return c.Conn.PrepareBatch(ctx, query, opts...)
}

var probeTable = chtable.Table{Name: "probe", Columns: []string{"x"}}

// probeSink is a Sink on a fresh database with a one-column table, writing through a
// watchedConn.
func probeSink(t *testing.T, timeout time.Duration) (*Sink, *watchedConn, *testenv.ClickHouseEnv) {
	t.Helper()
	env := testenv.ClickHouse(t)
	if err := env.Conn.Exec(context.Background(), "CREATE TABLE probe (x UInt32) ENGINE = Memory"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	wc := &watchedConn{Conn: env.Conn}
	cfg := DefaultConfig()
	cfg.InsertAttempts = 1
	cfg.InsertTimeout = timeout
	log := slog.New(slog.DiscardHandler)
	hs, err := health.NewSet("sink", log, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Sink{cfg: cfg, log: log, conn: wc, health: hs, kafka: hs.Dependency("kafka"), clickhouse: hs.Dependency("clickhouse")}, wc, env
}

func probeRows(n int) *genericRows {
	rows := &genericRows{chtable.Rows{Table: probeTable}}
	for i := range n {
		rows.Rows.Rows = append(rows.Rows.Rows, []any{uint32(i)})
	}
	return rows
}

// The context a batch was sent with must still be live when the insert returns: ending it
// then lets clickhouse-go's Send watcher close the connection after it went back to the
// pool, and a later insert on that connection fails with "use of closed network
// connection". The check on the context is deterministic; the many inserts on the one
// pooled connection are what failed a few times in a thousand before the fix.
func TestInsertLeavesBatchContextLive(t *testing.T) {
	s, wc, env := probeSink(t, time.Minute)
	const inserts, perInsert = 500, 3
	for i := range inserts {
		if err := s.insert(context.Background(), probeRows(perInsert)); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		// A failed try is retried without a bound: count the batches to see it.
		if len(wc.ctxs) != i+1 {
			t.Fatalf("insert %d took %d tries: a batch failed (%v)", i, len(wc.ctxs)-i, s.Ready())
		}
		if err := wc.ctxs[i].Err(); err != nil {
			t.Fatalf("insert %d: the batch's context ended when the insert returned: %v", i, err)
		}
	}
	var n uint64
	if err := env.Conn.QueryRow(context.Background(), "SELECT count() FROM probe").Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	if n != inserts*perInsert {
		t.Fatalf("rows in probe = %d, want %d", n, inserts*perInsert)
	}
}

// The detached context still ends for the two reasons it should: InsertTimeout passing
// and the sink stopping while an insert runs. The hook waits for the end before the batch
// is prepared, so the real driver then sees an ended context. A timed-out insert is a
// server that does not answer in time, tried again until the sink stops: the hook stops
// the sink once the first try's context has ended.
func TestInsertContextEnds(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		stop    bool // cancel the sink's context from inside the insert
		want    error
	}{
		{name: "timeout", timeout: time.Millisecond, want: context.DeadlineExceeded},
		{name: "stop", timeout: time.Hour, stop: true, want: context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, wc, _ := probeSink(t, tc.timeout)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cause error
			wc.before = func(bctx context.Context) {
				if tc.stop {
					cancel()
				}
				select {
				case <-bctx.Done():
				case <-time.After(time.Minute): // a guard against hanging, not a synchronisation
					t.Errorf("the batch's context did not end")
				}
				if cause == nil {
					cause = context.Cause(bctx)
				}
				cancel()
			}
			err := s.insert(ctx, probeRows(1))
			if !errors.Is(cause, tc.want) {
				t.Fatalf("the batch's context ended with %v, want %v", cause, tc.want)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("insert = %v, want the stop's context.Canceled", err)
			}
		})
	}
}

// A sink already stopped starts no insert.
func TestInsertAfterStop(t *testing.T) {
	s, wc, _ := probeSink(t, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.insert(ctx, probeRows(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("insert = %v, want context.Canceled", err)
	}
	if err := wc.ctxs[0].Err(); err == nil {
		t.Fatalf("the batch's context is live although the sink had stopped")
	}
}

// tableRowsOf is n probe rows addressed to table (a one-column UInt32 table).
func tableRowsOf(table string, from, n int) *genericRows {
	rows := &genericRows{chtable.Rows{Table: chtable.Table{Name: table, Columns: []string{"x"}}}}
	for i := range n {
		rows.Rows.Rows = append(rows.Rows.Rows, []any{uint32(from + i)})
	}
	return rows
}

// A round's tables are inserted side by side, each table's inserts in order: every row
// arrives, and a table's second insert is prepared only after its first returned.
func TestInsertTablesSideBySide(t *testing.T) {
	s, wc, env := probeSink(t, time.Minute)
	if err := env.Conn.Exec(context.Background(), "CREATE TABLE probe2 (x UInt32) ENGINE = Memory"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	// The rows probe holds when each of its inserts is prepared: 0, then the first's 3.
	var mu sync.Mutex
	var prepared int
	var probeHeld []uint64
	wc.beforeQuery = func(ctx context.Context, query string) {
		mu.Lock()
		defer mu.Unlock()
		prepared++
		if strings.Contains(query, "probe2") {
			return
		}
		var n uint64
		if err := env.Conn.QueryRow(ctx, "SELECT count() FROM probe").Scan(&n); err != nil {
			t.Errorf("count probe: %v", err)
		}
		probeHeld = append(probeHeld, n)
	}
	tables := [][]tableRows{
		{tableRowsOf("probe", 0, 3), tableRowsOf("probe", 3, 4)},
		{tableRowsOf("probe2", 0, 5)},
		{tableRowsOf("probe2", 5, 1)}, // a third group: taken by whichever worker is free
	}
	if err := s.insertTables(context.Background(), tables); err != nil {
		t.Fatalf("insertTables: %v", err)
	}
	for table, want := range map[string]uint64{"probe": 7, "probe2": 6} {
		var n, distinct uint64
		if err := env.Conn.QueryRow(context.Background(), "SELECT count(), uniqExact(x) FROM "+table).Scan(&n, &distinct); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n != want || distinct != want {
			t.Errorf("%s: %d rows, %d distinct, want %d", table, n, distinct, want)
		}
	}
	if prepared != 4 || len(probeHeld) != 2 || probeHeld[0] != 0 || probeHeld[1] != 3 {
		t.Fatalf("%d inserts prepared (want 4); probe held %v rows as its inserts were prepared, want [0 3]", prepared, probeHeld)
	}
}

// The first insert of a round to fail ends the others (a server refusing one table must not
// leave the round waiting on another) and is what the round returns, not the others'
// cancellation.
func TestInsertTablesFirstFailureEndsTheOthers(t *testing.T) {
	s, wc, _ := probeSink(t, time.Hour) // InsertAttempts 1: one refusal is final
	var ended atomic.Bool
	wc.beforeQuery = func(ctx context.Context, query string) {
		if !strings.Contains(query, "probe") {
			return
		}
		select {
		case <-ctx.Done():
			ended.Store(true)
		case <-time.After(time.Minute): // a guard against hanging, not a synchronisation
			t.Errorf("the other table's insert was not ended by the refusal")
		}
	}
	err := s.insertTables(context.Background(), [][]tableRows{{probeRows(2)}, {tableRowsOf("no_such_table", 0, 1)}})
	if err == nil || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("insertTables = %v, want the refusal of no_such_table", err)
	}
	if !ended.Load() {
		t.Fatalf("the probe insert's context did not end")
	}
}

// A round's rows of a table (its polls' columns) are sent as blocks of at most
// insertBlockRows in one INSERT: every row arrives as decoded, and the server makes one
// part of them, not one per block (a part per
// block would multiply the merges, and the parts a table may hold are bounded).
func TestInsertBlocksMakeOnePart(t *testing.T) {
	s, _, env := probeSink(t, time.Minute)
	ctx := context.Background()
	if _, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	defer func(n int) { insertBlockRows = n }(insertBlockRows)
	insertBlockRows = 4
	const rows = 4*5 + 3 // polls of 8, 8 and 7 rows: blocks of 4 and a short one
	at := time.Date(2023, 5, 14, 18, 0, 0, 0, time.UTC)
	// Three polls' columns merged into one round's, as the pipeline merges them.
	cols, want := newResultColumns(0), map[string]string{}
	polls := []*resultColumns{cols, newResultColumns(0), newResultColumns(0)}
	var a arena
	for i := range rows {
		res := schemas.StationResult{StationID: fmt.Sprintf("BKK_1_%04d", i), Ballot: "partylist", Version: int64(i + 1),
			Votes:   map[string]int{"1": i, "7": 2 * i},
			Sources: []schemas.Source{{SubmissionID: fmt.Sprintf("sub-%d", i), Hash: "sha256:00"}}, UpdatedAt: at.Add(time.Duration(i) * time.Second)}
		value, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		var r resultRow
		if !decodeResult(string(value), &r, &a) {
			t.Fatalf("the fast reader refused %s", value)
		}
		polls[i*len(polls)/rows].add(&r)
		want[res.StationID] = fmt.Sprintf("%d [1 7] [%d %d] [sub-%d] %d", i+1, i, 2*i, i, res.UpdatedAt.Unix())
	}
	cols.merge(polls[1])
	cols.merge(polls[2])
	if err := s.insert(ctx, cols); err != nil {
		t.Fatalf("insert: %v", err)
	}
	q, err := env.Conn.Query(ctx, "SELECT station_id, version, vote_no, votes, source_submission_ids, updated_at FROM station_results")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got := map[string]string{}
	for q.Next() {
		var station string
		var version uint64
		var nos []uint16
		var votes []uint32
		var sources []string
		var updated time.Time
		if err := q.Scan(&station, &version, &nos, &votes, &sources, &updated); err != nil {
			t.Fatal(err)
		}
		got[station] = fmt.Sprintf("%d %v %v %v %d", version, nos, votes, sources, updated.Unix())
	}
	if !maps.Equal(got, want) {
		t.Fatalf("stored %v,\nwant %v", got, want)
	}
	var parts uint64
	if err := env.Conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'station_results' AND active").Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if parts != 1 {
		t.Fatalf("the insert of %d rows in blocks of %d made %d parts, want 1", rows, insertBlockRows, parts)
	}
}

// A write the server does not take fails once the bound has passed (the blocks sent by
// batch.Flush are not watched by clickhouse-go), and a sooner deadline set through the
// connection still applies.
func TestWriteBoundConn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bound    time.Duration
		deadline time.Time
	}{
		{name: "bound", bound: 20 * time.Millisecond},
		{name: "sooner deadline", bound: time.Hour, deadline: time.Now().Add(-time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe() // nobody reads server: a write blocks
			defer server.Close()
			defer client.Close()
			c := &writeBoundConn{Conn: client, bound: tc.bound}
			if !tc.deadline.IsZero() {
				if err := c.SetDeadline(tc.deadline); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() {
				_, err := c.Write([]byte("block"))
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("write = %v, want a deadline exceeded", err)
				}
			case <-time.After(time.Minute): // a guard against hanging, not a synchronisation
				t.Fatal("a write nobody reads did not fail")
			}
		})
	}
}
