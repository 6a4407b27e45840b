package clickhouse_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/provision"
	sink "votestream/sinks/clickhouse"
	"votestream/sinks/sinktest"
)

// TestConformance runs the suite every sink passes against the ClickHouse sink.
func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T, k *testenv.KafkaEnv) sinktest.Instance {
		c := testenv.ClickHouse(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := provision.MigrateClickHouse(ctx, c.Conn, c.Database); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		f := &fixture{t: t, k: k, c: c}
		f.cl = k.Client(t)
		f.adm = kadm.NewClient(f.cl)
		const group = "sink-conformance"
		return sinktest.Instance{
			Continuous: true,
			Run: func(ctx context.Context) error {
				s, err := sink.New(f.config(group))
				if err != nil {
					return err
				}
				return s.Run(ctx)
			},
			WaitCommitted: func(t *testing.T) { f.waitCommitted(group) },
			Rows: func(t *testing.T) []sinktest.Row {
				// FINAL: what a reader of the table sees once duplicates fold.
				rows, err := c.Conn.Query(context.Background(), "SELECT station_id, ballot, version FROM station_results FINAL")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var out []sinktest.Row
				for rows.Next() {
					var station, ballot string
					var version uint64
					if err := rows.Scan(&station, &ballot, &version); err != nil {
						t.Fatal(err)
					}
					out = append(out, sinktest.Row{Key: schemas.StationResultKey(station, ballot), Version: int64(version)})
				}
				if err := rows.Err(); err != nil {
					t.Fatal(fmt.Errorf("rows: %w", err))
				}
				return out
			},
		}
	})
}
