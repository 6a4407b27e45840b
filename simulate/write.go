package simulate

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"votestream/election"
	"votestream/schemas"
)

// Files the simulator writes besides the reference and results CSVs of election.
const (
	// FileRoster is the volunteer roster in the format `votestream volunteers` imports:
	// org, volunteer_id, name, phone, role, scope (station ids joined by ';').
	FileRoster = "volunteers.csv"
	// FileFaults labels every generated fault, one row per fault and submission.
	FileFaults = "faults.csv"
)

var (
	rosterColumns = []string{"org", "volunteer_id", "name", "phone", "role", "scope"}
	faultColumns  = []string{"submission_id", "station_id", "ballot", "volunteer_id", "kind", "anomaly", "related", "may_be_refused", "detail"}
)

// Write writes the country (reference CSVs) and its true results with report times
// (results CSVs) into dir, created if needed.
func (s *Simulation) Write(dir string) error {
	if err := election.WriteCountry(dir, s.Country); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if err := election.WriteResults(dir, s.Truth.Results()); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return nil
}

// WriteRoster writes the volunteer roster (FileRoster) into dir: one row per volunteer,
// role station, scope the assigned station ids joined by ';'.
func (n *Night) WriteRoster(dir string) error {
	return writeCSV(dir, FileRoster, rosterColumns, func(row func(...string)) {
		for _, v := range n.volunteers {
			row(v.Org, v.ID, v.Name, v.Phone, schemas.RoleStation, strings.Join(v.Stations, ";"))
		}
	})
}

// WriteFaults writes every fault label (FileFaults) into dir, in event order.
func (n *Night) WriteFaults(dir string) error {
	faults := n.Faults()
	return writeCSV(dir, FileFaults, faultColumns, func(row func(...string)) {
		for _, f := range faults {
			refused := "0"
			if f.MayBeRefused {
				refused = "1"
			}
			row(f.SubmissionID, f.StationID, string(f.Ballot), f.VolunteerID, string(f.Kind), f.Anomaly, f.Related, refused, f.Detail)
		}
	})
}

// writeCSV writes one CSV file through a temporary file renamed over the name, so a reader
// never sees half a file.
func writeCSV(dir, name string, header []string, fill func(row func(...string))) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("simulate: write %s: %w", name, err)
	}
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("simulate: write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	cw := csv.NewWriter(bw)
	var werr error
	row := func(fields ...string) {
		if werr == nil {
			werr = cw.Write(fields)
		}
	}
	row(header...)
	fill(row)
	cw.Flush()
	for _, e := range []error{werr, cw.Error(), bw.Flush(), f.Chmod(0o644), f.Sync(), f.Close()} {
		if e != nil {
			return fmt.Errorf("simulate: write %s: %w", name, e)
		}
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("simulate: write %s: %w", name, err)
	}
	return nil
}

// WriteEvents writes events as JSON lines (one Event per line), for tools that replay or
// inspect a night from a file.
func WriteEvents(w io.Writer, events iter.Seq[Event]) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for e := range events {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("simulate: write events: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("simulate: write events: %w", err)
	}
	return nil
}
