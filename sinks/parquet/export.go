package parquet

import (
	"votestream/election"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"votestream/schemas"
)

// File names in the output folder.
const (
	FileStationResults         = "station_results.parquet"
	FileAnomalies              = "anomalies.parquet"
	FileEstimateParties        = "estimate_parties.parquet"
	FileEstimateConstituencies = "estimate_constituencies.parquet"
	FileStationResultsArrow    = "station_results.arrows"
	// The estimate history: every estimate of the night, national and per constituency.
	FileHistoryParties             = "estimate_history_parties.parquet"
	FileHistoryConstituencies      = "estimate_history_constituencies.parquet"
	FileHistoryPartiesArrow        = "estimate_history_parties.arrows"
	FileHistoryConstituenciesArrow = "estimate_history_constituencies.arrows"
	FileManifest                   = "manifest.json"
)

// Summary is what an export wrote; manifest.json holds the same.
type Summary struct {
	CreatedAt time.Time `json:"created_at"`
	// DataTime is the newest updated_at of the exported station results (zero when none).
	DataTime time.Time `json:"data_time"`
	// TimeZone is the zone the timestamps are meant to be shown in.
	TimeZone    string `json:"time_zone"`
	TopicPrefix string `json:"topic_prefix"`
	// EstimateID and EstimateDataTime name the exported estimate; empty when the cut held
	// none.
	EstimateID       string    `json:"estimate_id,omitempty"`
	EstimateDataTime time.Time `json:"estimate_data_time,omitzero"`
	// Estimates is how many estimates the history files hold (0 without History).
	Estimates int `json:"estimates"`
	// LogCheckpoint is the transparency log's newest signed checkpoint in the cut, with the
	// witnesses' cosignatures gathered by then (docs/evidence-log.md): what an analyst cites
	// to prove which reports the export's figures could rest on. Absent when the cut held
	// none.
	LogCheckpoint *schemas.Checkpoint `json:"log_checkpoint,omitempty"`
	// Cut is the range of every partition read.
	Cut []PartitionCut `json:"cut"`
	// RecordsRead counts the data records read; RecordsSkipped those that could not be
	// decoded.
	RecordsRead    int64 `json:"records_read"`
	RecordsSkipped int64 `json:"records_skipped"`
	// Rows is the row count of each file written, by file name.
	Rows map[string]int `json:"rows"`
}

// Export reads the cut of the topics as it stands when called and writes the export into
// cfg.OutDir. It blocks until done, ctx ends, or the cut cannot be reached (ErrIncomplete).
// A failed export may leave files of an earlier export in place, never a half-written one;
// it removes the earlier manifest.json before replacing any file and writes its own only when
// every file is in place, so a manifest always describes the files beside it.
func Export(ctx context.Context, cfg ExportConfig) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if now := cfg.Now(); now.Before(cfg.PollsClose) && !cfg.IgnoreEmbargo {
		return Summary{}, fmt.Errorf("%w: results are embargoed until polls close at %s (Thai time), %s from now; nothing exported",
			ErrEmbargoed, cfg.PollsClose.In(election.Bangkok).Format(time.RFC3339), cfg.PollsClose.Sub(now).Round(time.Second))
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("parquet: output folder: %w", err)
	}
	snap, err := readCut(ctx, cfg, log)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{
		CreatedAt: time.Now().UTC(), DataTime: snap.results.DataTime().UTC(), TimeZone: TimeZone,
		TopicPrefix: cfg.TopicPrefix, Cut: snap.cut, RecordsRead: snap.read, RecordsSkipped: snap.rejected,
		Rows: map[string]int{},
	}
	if snap.estimate != nil {
		sum.EstimateID, sum.EstimateDataTime = snap.estimate.EstimateID, snap.estimate.DataTime.UTC()
	}
	sum.LogCheckpoint = snap.logCP

	current := snap.results.Sorted()
	stations := make([]StationRow, len(current))
	for i, sr := range current {
		stations[i] = stationRow(cfg.Country, sr)
	}
	anomalies := anomalyRows(cfg.Country, snap.anomalies)
	parties, consts := estimateRows(cfg.Country, snap.estimate)
	// An earlier export's manifest would vouch for a mix of its files and these until the
	// new one is written: it goes first. So does an Arrow file this export will not replace,
	// which would otherwise sit beside the new files showing an older cut.
	stale := []string{FileManifest}
	if !cfg.Arrow {
		stale = append(stale, FileStationResultsArrow, FileHistoryPartiesArrow, FileHistoryConstituenciesArrow)
	}
	if !cfg.History {
		stale = append(stale, FileHistoryParties, FileHistoryConstituencies, FileHistoryPartiesArrow, FileHistoryConstituenciesArrow)
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(cfg.OutDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Summary{}, fmt.Errorf("parquet: remove the earlier %s: %w", name, err)
		}
	}
	md := fileMetadata(sum)
	if err := writeParquet(cfg.OutDir, FileStationResults, stations, md); err != nil {
		return Summary{}, err
	}
	sum.Rows[FileStationResults] = len(stations)
	if err := writeParquet(cfg.OutDir, FileAnomalies, anomalies, md); err != nil {
		return Summary{}, err
	}
	sum.Rows[FileAnomalies] = len(anomalies)
	if err := writeParquet(cfg.OutDir, FileEstimateParties, parties, md); err != nil {
		return Summary{}, err
	}
	sum.Rows[FileEstimateParties] = len(parties)
	if err := writeParquet(cfg.OutDir, FileEstimateConstituencies, consts, md); err != nil {
		return Summary{}, err
	}
	sum.Rows[FileEstimateConstituencies] = len(consts)
	calls := callRows(snap.calls)
	if err := writeParquet(cfg.OutDir, FileCalls, calls, md); err != nil {
		return Summary{}, err
	}
	sum.Rows[FileCalls] = len(calls)
	if cfg.Arrow {
		if err := writeArrowFile(cfg.OutDir, FileStationResultsArrow, stations, md); err != nil {
			return Summary{}, err
		}
		sum.Rows[FileStationResultsArrow] = len(stations)
	}
	if cfg.History {
		sum.Estimates = len(snap.history)
		hp, hc := historyRows(cfg.Country, snap.history)
		if err := writeParquet(cfg.OutDir, FileHistoryParties, hp, md); err != nil {
			return Summary{}, err
		}
		sum.Rows[FileHistoryParties] = len(hp)
		if err := writeParquet(cfg.OutDir, FileHistoryConstituencies, hc, md); err != nil {
			return Summary{}, err
		}
		sum.Rows[FileHistoryConstituencies] = len(hc)
		if cfg.Arrow {
			if err := writeArrowFile(cfg.OutDir, FileHistoryPartiesArrow, hp, md); err != nil {
				return Summary{}, err
			}
			sum.Rows[FileHistoryPartiesArrow] = len(hp)
			if err := writeArrowFile(cfg.OutDir, FileHistoryConstituenciesArrow, hc, md); err != nil {
				return Summary{}, err
			}
			sum.Rows[FileHistoryConstituenciesArrow] = len(hc)
		}
	}
	manifest, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return Summary{}, fmt.Errorf("parquet: manifest: %w", err)
	}
	if err := writeAtomic(cfg.OutDir, FileManifest, func(w io.Writer) error {
		_, err := w.Write(append(manifest, '\n'))
		return err
	}); err != nil {
		return Summary{}, err
	}
	log.Info("parquet: export written", "out", cfg.OutDir, "station_results", len(stations),
		"anomalies", len(anomalies), "estimate", sum.EstimateID, "estimates", sum.Estimates, "data_time", sum.DataTime, "records", sum.RecordsRead)
	return sum, nil
}

// fileMetadata is the key-value metadata every file carries, so a file that travels alone
// still says what it reflects and how to read its times.
func fileMetadata(s Summary) map[string]string {
	md := map[string]string{
		"votestream.time_zone":  TimeZone,
		"votestream.data_time":  s.DataTime.Format(time.RFC3339Nano),
		"votestream.created_at": s.CreatedAt.Format(time.RFC3339Nano),
	}
	if s.EstimateID != "" {
		md["votestream.estimate_id"] = s.EstimateID
	}
	return md
}

func writeParquet[T any](dir, name string, rows []T, md map[string]string) error {
	return writeAtomic(dir, name, func(w io.Writer) error {
		opts := []pq.WriterOption{pq.Compression(&pq.Zstd)}
		for k, v := range md {
			opts = append(opts, pq.KeyValueMetadata(k, v))
		}
		pw := pq.NewGenericWriter[T](w, opts...)
		if _, err := pw.Write(rows); err != nil {
			return err
		}
		return pw.Close()
	})
}

func writeArrowFile[T any](dir, name string, rows []T, md map[string]string) error {
	return writeAtomic(dir, name, func(w io.Writer) error { return writeArrow(w, rows, md) })
}

// writeAtomic writes a file under a temporary name in dir, syncs it and renames it into
// place, so a reader sees the old file or the whole new one, never a part.
func writeAtomic(dir, name string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("parquet: %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("parquet: %s: %w", name, err)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, name))
}
