package parquet_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	pq "github.com/parquet-go/parquet-go"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/sinks/parquet"
	"votestream/sinks/sinktest"
)

// TestConformance runs the suite every sink passes against the export: a one-shot sink
// whose store is the folder it writes.
func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T, k *testenv.KafkaEnv) sinktest.Instance {
		country, err := election.LoadCountry(os.DirFS("../../election/testdata/small"))
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "export")
		return sinktest.Instance{
			Run: func(ctx context.Context) error {
				cfg := parquet.DefaultConfig()
				cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.OutDir = k.Seeds, k.Prefix, country, out
				_, err := parquet.Export(ctx, cfg)
				return err
			},
			Rows: func(t *testing.T) []sinktest.Row {
				rows, err := pq.ReadFile[parquet.StationRow](filepath.Join(out, parquet.FileStationResults))
				if err != nil {
					t.Fatal(err)
				}
				var got []sinktest.Row
				for _, r := range rows {
					got = append(got, sinktest.Row{Key: schemas.StationResultKey(r.StationID, r.Ballot), Version: r.Version})
				}
				return got
			},
		}
	})
}
