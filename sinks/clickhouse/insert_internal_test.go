package clickhouse

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/internal/health"
	"votestream/internal/testenv"
	"votestream/schemas/chtable"
)

// watchedConn is the real connection with a hook on PrepareBatch: it keeps the context
// each batch was prepared with (the one clickhouse-go's Send watches) and may run a step
// before preparing.
type watchedConn struct {
	driver.Conn
	before func(ctx context.Context)
	ctxs   []context.Context
}

func (c *watchedConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	c.ctxs = append(c.ctxs, ctx)
	if c.before != nil {
		c.before(ctx)
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
