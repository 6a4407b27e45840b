package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/election"
	"votestream/schemas/chtable"
)

// LoadReference writes a country's reference data into its tables. Loading the same
// country again replaces rows by key (ReplacingMergeTree on loaded_at), so it is safe at
// every start.
func LoadReference(ctx context.Context, conn driver.Conn, c *election.Country) error {
	now := time.Now()
	var sets []chtable.Rows
	add := func(t chtable.Table, n int, row func(i int) ([]any, error)) error {
		rs := chtable.Rows{Table: t, Rows: make([][]any, 0, n)}
		for i := range n {
			r, err := row(i)
			if err != nil {
				return fmt.Errorf("sink: reference %s row %d: %w", t.Name, i+1, err)
			}
			rs.Rows = append(rs.Rows, r)
		}
		sets = append(sets, rs)
		return nil
	}
	steps := []error{
		add(chtable.Provinces, len(c.Provinces), func(i int) ([]any, error) { return chtable.ProvinceRow(c.Provinces[i], now), nil }),
		add(chtable.Constituencies, len(c.Constituencies), func(i int) ([]any, error) { return chtable.ConstituencyRow(c.Constituencies[i], now) }),
		add(chtable.Stations, len(c.Stations), func(i int) ([]any, error) { return chtable.StationRow(c.Stations[i], now) }),
		add(chtable.Parties, len(c.Parties), func(i int) ([]any, error) { return chtable.PartyRow(c.Parties[i], now) }),
		add(chtable.Candidates, len(c.Candidates), func(i int) ([]any, error) { return chtable.CandidateRow(c.Candidates[i], now) }),
	}
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	for _, rs := range sets {
		if len(rs.Rows) == 0 {
			continue
		}
		batch, err := conn.PrepareBatch(ctx, rs.Table.InsertQuery(""))
		if err != nil {
			return fmt.Errorf("sink: reference %s: %w", rs.Table.Name, err)
		}
		for _, row := range rs.Rows {
			if err := batch.Append(row...); err != nil {
				_ = batch.Abort()
				return fmt.Errorf("sink: reference %s: %w", rs.Table.Name, err)
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("sink: reference %s: %w", rs.Table.Name, err)
		}
	}
	return nil
}
