package chquery_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/internal/chquery"
	"votestream/internal/testenv"
)

// TestAll reads real rows from the shared server, in order, and passes a scan error on.
func TestAll(t *testing.T) {
	c := testenv.ClickHouse(t)
	ctx := context.Background()
	scanN := func(r driver.Rows) (uint64, error) {
		var n uint64
		err := r.Scan(&n)
		return n, err
	}
	got, err := chquery.All(ctx, c.Conn, scanN, "SELECT number FROM system.numbers LIMIT ?", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0] != 0 || got[4] != 4 {
		t.Errorf("All = %v, want 0..4", got)
	}
	none, err := chquery.All(ctx, c.Conn, scanN, "SELECT number FROM system.numbers LIMIT 0")
	if err != nil || len(none) != 0 {
		t.Errorf("All of no rows = %v, %v", none, err)
	}
	bad := errors.New("bad row")
	if _, err := chquery.All(ctx, c.Conn, func(driver.Rows) (int, error) { return 0, bad }, "SELECT 1"); !errors.Is(err, bad) {
		t.Errorf("scan error: %v, want it passed on", err)
	}
	if _, err := chquery.All(ctx, c.Conn, scanN, "SELECT no_such_column FROM system.one"); err == nil {
		t.Error("a query the server refuses gave no error")
	}
}
