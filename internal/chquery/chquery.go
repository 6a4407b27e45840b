// Package chquery reads the rows of a ClickHouse query into a slice: the
// query-scan-append-check loop every role that reads ClickHouse wrote by hand. It owns no
// query and no table; callers wrap its errors with their own context.
package chquery

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// All runs query with args on conn and returns scan's value of each row, in order. It
// returns the first error of the query, of a scan, or of the rows' iteration.
func All[T any](ctx context.Context, conn driver.Conn, scan func(driver.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
