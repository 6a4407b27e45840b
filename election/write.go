package election

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// WriteCountry writes c as a reference folder in dir (created if needed): provinces.csv,
// constituencies.csv and parties.csv always; stations.csv (with the priority and urban
// columns) and candidates.csv when c has any, and otherwise removes a stations.csv or
// candidates.csv left in dir by an earlier write, so the folder always describes c alone.
// Rows keep the order of c's slices.
//
// Each file is written to a temporary file in dir, synced and renamed over its name, so a
// reader or a crash sees the old file or the new one, never half of one; a crash between
// files can leave a folder mixing old and new files. c must pass Validate, so that what is
// written loads back.
func WriteCountry(dir string, c *Country) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("election: write country: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("election: write country: %w", err)
	}
	files := []struct {
		name string
		skip bool
		fill func(io.Writer) error
	}{
		{FileProvinces, false, c.writeProvinces},
		{FileConstituencies, false, c.writeConstituencies},
		{FileParties, false, c.writeParties},
		{FileStations, !c.HasStations(), c.writeStations},
		{FileCandidates, !c.HasCandidates(), c.writeCandidates},
	}
	for _, f := range files {
		if f.skip {
			if err := removeIfExists(filepath.Join(dir, f.name)); err != nil {
				return fmt.Errorf("election: write country: %w", err)
			}
			continue
		}
		if err := writeFileAtomic(dir, f.name, f.fill); err != nil {
			return fmt.Errorf("election: write country: %w", err)
		}
	}
	syncDir(dir)
	return nil
}

// WriteResults writes r as a results set in dir (created if needed): station_totals.csv
// and station_votes.csv always, report_times.csv when r.ReportTimes is not nil (otherwise a
// report_times.csv left by an earlier write is removed). Rows are ordered by station id,
// then ballot (constituency first), then number; every entry of a Votes map is written,
// zeros included. Files are written atomically one by one, as WriteCountry does.
//
// WriteResults refuses (with ErrBadValue or ErrBadNumber) a ballot that is neither of the
// two, negative figures, and vote numbers below 1, which LoadResults would reject; it does
// not check the consistency rule (see Results.Check).
func WriteResults(dir string, r *Results) error {
	keys := r.Keys()
	for _, k := range keys {
		t := r.Tallies[k]
		if k.StationID == "" {
			return fmt.Errorf("election: write results: %w: empty station id", ErrBadValue)
		}
		if !k.Ballot.Valid() {
			return fmt.Errorf("election: write results: %w: station %q: ballot %q", ErrBadValue, k.StationID, k.Ballot)
		}
		if t.BallotsCast < 0 || t.Invalid < 0 || t.NoVote < 0 {
			return fmt.Errorf("election: write results: %w: station %q, ballot %s: negative figures", ErrBadNumber, k.StationID, k.Ballot)
		}
		for no, v := range t.Votes {
			if no < 1 || v < 0 {
				return fmt.Errorf("election: write results: %w: station %q, ballot %s: number %d has %d votes", ErrBadNumber, k.StationID, k.Ballot, no, v)
			}
		}
	}
	for id, m := range r.ReportTimes {
		if id == "" || !(m >= 0) || math.IsInf(m, 1) {
			return fmt.Errorf("election: write results: %w: station %q: %v minutes after close", ErrBadNumber, id, m)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("election: write results: %w", err)
	}
	if err := writeFileAtomic(dir, FileStationTotals, func(w io.Writer) error { return writeTotals(w, r, keys) }); err != nil {
		return fmt.Errorf("election: write results: %w", err)
	}
	if err := writeFileAtomic(dir, FileStationVotes, func(w io.Writer) error { return writeVotes(w, r, keys) }); err != nil {
		return fmt.Errorf("election: write results: %w", err)
	}
	if r.ReportTimes == nil {
		if err := removeIfExists(filepath.Join(dir, FileReportTimes)); err != nil {
			return fmt.Errorf("election: write results: %w", err)
		}
	} else if err := writeFileAtomic(dir, FileReportTimes, r.writeReportTimes); err != nil {
		return fmt.Errorf("election: write results: %w", err)
	}
	syncDir(dir)
	return nil
}

// writeFileAtomic writes name in dir through a temporary file in the same directory (so
// the rename cannot cross file systems), synced before the rename so that the new name
// never points at data still only in the page cache.
func writeFileAtomic(dir, name string, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := fill(bw); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; reference data is for every local reader.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// syncDir makes the renames durable where the platform allows; failure only weakens
// durability across a power cut, so it is not reported.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// csvWriter writes rows, remembering the first error so fill functions can check once.
type csvWriter struct {
	w   *csv.Writer
	err error
}

func newCSVWriter(w io.Writer, header []string) *csvWriter {
	cw := &csvWriter{w: csv.NewWriter(w)}
	cw.row(header...)
	return cw
}

func (cw *csvWriter) row(fields ...string) {
	if cw.err == nil {
		cw.err = cw.w.Write(fields)
	}
}

func (cw *csvWriter) close() error {
	cw.w.Flush()
	if cw.err != nil {
		return cw.err
	}
	return cw.w.Error()
}

func itoa(n int) string { return strconv.Itoa(n) }

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (c *Country) writeProvinces(w io.Writer) error {
	cw := newCSVWriter(w, provinceColumns)
	for _, p := range c.Provinces {
		cw.row(p.ID, p.NameTH, p.NameEN, p.Region)
	}
	return cw.close()
}

func (c *Country) writeConstituencies(w io.Writer) error {
	cw := newCSVWriter(w, constituencyColumns)
	for _, k := range c.Constituencies {
		cw.row(k.ID, k.ProvinceID, itoa(k.Number), itoa(k.EligibleVoters), itoa(k.Stations))
	}
	return cw.close()
}

func (c *Country) writeParties(w io.Writer) error {
	cw := newCSVWriter(w, partyColumns)
	for _, p := range c.Parties {
		cw.row(itoa(p.No), p.NameTH, p.NameEN)
	}
	return cw.close()
}

func (c *Country) writeStations(w io.Writer) error {
	cw := newCSVWriter(w, append(stationColumns[:len(stationColumns):len(stationColumns)], stationOptional...))
	for _, s := range c.Stations {
		cw.row(s.ID, s.ConstituencyID, s.Subdistrict, itoa(s.Number), itoa(s.EligibleVoters), flag(s.Priority), flag(s.Urban))
	}
	return cw.close()
}

func (c *Country) writeCandidates(w io.Writer) error {
	cw := newCSVWriter(w, candidateColumns)
	for _, d := range c.Candidates {
		party := ""
		if d.PartyNo != NoParty {
			party = itoa(d.PartyNo)
		}
		cw.row(d.ConstituencyID, itoa(d.No), d.Name, party)
	}
	return cw.close()
}

func writeTotals(w io.Writer, r *Results, keys []StationBallot) error {
	cw := newCSVWriter(w, stationTotalsColumns)
	for _, k := range keys {
		t := r.Tallies[k]
		cw.row(k.StationID, string(k.Ballot), itoa(t.BallotsCast), itoa(t.Invalid), itoa(t.NoVote))
	}
	return cw.close()
}

func writeVotes(w io.Writer, r *Results, keys []StationBallot) error {
	cw := newCSVWriter(w, stationVotesColumns)
	var pairs [][2]int // number, votes, in number order; reused across counts
	for _, k := range keys {
		pairs = votesInOrder(r.Tallies[k].Votes, pairs[:0])
		for _, p := range pairs {
			cw.row(k.StationID, string(k.Ballot), itoa(p[0]), itoa(p[1]))
		}
	}
	return cw.close()
}

func (r *Results) writeReportTimes(w io.Writer) error {
	cw := newCSVWriter(w, reportTimesColumns)
	ids := make([]string, 0, len(r.ReportTimes))
	for id := range r.ReportTimes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		cw.row(id, strconv.FormatFloat(r.ReportTimes[id], 'f', -1, 64))
	}
	return cw.close()
}

// votesInOrder appends votes' (number, votes) pairs to buf in number order. Ballot numbers
// are small, so it places them by number rather than sorting: millions of rows in a full
// night make the difference worth having.
func votesInOrder(votes map[int]int, buf [][2]int) [][2]int {
	const dense = 256
	var slot [dense]int // votes+1 at each number seen; 0 for none
	for no, v := range votes {
		if no < 0 || no >= dense || v < 0 || v == math.MaxInt {
			// Numbers beyond the table (or figures that cannot be shifted by one): sort.
			start := len(buf)
			for no, v := range votes {
				buf = append(buf, [2]int{no, v})
			}
			slices.SortFunc(buf[start:], func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
			return buf
		}
		slot[no] = v + 1
	}
	for no, v := range slot {
		if v != 0 {
			buf = append(buf, [2]int{no, v - 1})
		}
	}
	return buf
}
