package console

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"votestream/election"
)

// OfficialColumns is the header of a CSV of official figures: one row per station, ballot
// and number (candidate_no or party_no), the station's totals repeated on each of its rows,
// as an election commission's export has them.
var OfficialColumns = []string{"station_id", "ballot", "ballots_cast", "invalid", "no_vote", "number", "votes"}

// maxCSVErrors bounds the errors reported for one file; the rest are counted.
const maxCSVErrors = 200

// OfficialRow is one station and ballot of a CSV, ready for ingest's POST /v1/official.
type OfficialRow struct {
	OfficialID string         `json:"official_id"`
	StationID  string         `json:"station_id"`
	Ballot     string         `json:"ballot"`
	Figures                   // ballots_cast, invalid, no_vote, votes
	Line       int            `json:"-"` // first line of the station and ballot in the file
	votesLine  map[string]int // line of each number, for messages
}

// ParseOfficialCSV reads and checks a whole CSV of official figures. It returns every
// station and ballot in file order, or, when any row is wrong, nil and every error as
// "name:line: message" (at most maxCSVErrors, then a count). Nothing is half-read: a file
// with one bad row gives no rows at all.
//
// official_id is derived from the file's content and the station and ballot, so sending the
// same file again is recognised by ingest as a retry, never as new figures.
func ParseOfficialCSV(name string, r io.Reader, c *election.Country) ([]OfficialRow, []string) {
	type lineErr struct {
		line int
		msg  string
	}
	var found []lineErr
	fail := func(line int, format string, a ...any) {
		found = append(found, lineErr{line, fmt.Sprintf(format, a...)})
	}
	h := sha256.New()
	br := bufio.NewReader(io.TeeReader(r, h))
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3) // a spreadsheet's byte-order mark
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = len(OfficialColumns)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []string{name + ":1: the file is empty; want the header " + strings.Join(OfficialColumns, ",")}
		}
		return nil, []string{fmt.Sprintf("%s:1: %v", name, csvMessage(err))}
	}
	for i, col := range OfficialColumns {
		if strings.TrimSpace(strings.ToLower(head[i])) != col {
			return nil, []string{fmt.Sprintf("%s:1: column %d is %q; want the header %s", name, i+1, head[i], strings.Join(OfficialColumns, ","))}
		}
	}
	var rows []*OfficialRow
	byKey := map[string]*OfficialRow{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line := 0
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			fail(line, "%s", csvMessage(err))
			if !errors.Is(err, csv.ErrFieldCount) {
				break // the rest of the file cannot be trusted to be split right
			}
			continue
		}
		line, _ = cr.FieldPos(0) // only valid for a record read without error
		id, ballot := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		st, ok := c.StationByID(id)
		if !ok {
			fail(line, "station %q is not in the reference data", clip(id))
			continue
		}
		if !election.Ballot(ballot).Valid() {
			fail(line, "ballot %q: want constituency or partylist", clip(ballot))
			continue
		}
		var n [5]int
		bad := false
		for i, col := range []int{2, 3, 4, 5, 6} {
			v, err := strconv.Atoi(strings.TrimSpace(rec[col]))
			if err != nil || v < 0 {
				fail(line, "%s %q: want a whole number, 0 or more", OfficialColumns[col], clip(rec[col]))
				bad = true
				break
			}
			n[i] = v
		}
		if bad {
			continue
		}
		cast, invalid, noVote, number, votes := n[0], n[1], n[2], n[3], n[4]
		if !c.ValidNumber(st.ConstituencyID, election.Ballot(ballot), number) {
			if ballot == string(election.BallotConstituency) {
				fail(line, "candidate number %d is not on the ballot of constituency %s", number, st.ConstituencyID)
			} else {
				fail(line, "party number %d is not on the party-list ballot", number)
			}
			continue
		}
		key := id + "/" + ballot
		row := byKey[key]
		if row == nil {
			row = &OfficialRow{StationID: id, Ballot: ballot, Line: line,
				Figures:   Figures{BallotsCast: cast, Invalid: invalid, NoVote: noVote, Votes: map[string]int{}},
				votesLine: map[string]int{}}
			byKey[key] = row
			rows = append(rows, row)
		} else if row.BallotsCast != cast || row.Invalid != invalid || row.NoVote != noVote {
			fail(line, "station %s %s: totals %d/%d/%d differ from line %d's %d/%d/%d (ballots_cast/invalid/no_vote must repeat on every row of a station)",
				id, ballot, cast, invalid, noVote, row.Line, row.BallotsCast, row.Invalid, row.NoVote)
			continue
		}
		no := strconv.Itoa(number)
		if first, dup := row.votesLine[no]; dup {
			fail(line, "station %s %s number %d is listed twice (first on line %d)", id, ballot, number, first)
			continue
		}
		row.votesLine[no] = line
		row.Votes[no] = votes
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		fail(0, "reading: %v", err)
	}
	for _, row := range rows {
		st, _ := c.StationByID(row.StationID)
		sum := row.Invalid + row.NoVote
		for _, v := range row.Votes {
			sum += v
		}
		switch {
		case sum != row.BallotsCast:
			fail(row.Line, "station %s %s: votes + invalid + no_vote = %d, but ballots_cast is %d", row.StationID, row.Ballot, sum, row.BallotsCast)
		case row.BallotsCast > st.EligibleVoters:
			fail(row.Line, "station %s %s: ballots_cast %d is above its %d eligible voters", row.StationID, row.Ballot, row.BallotsCast, st.EligibleVoters)
		}
	}
	if len(rows) == 0 && len(found) == 0 {
		fail(2, "no rows after the header")
	}
	if len(found) > 0 {
		slices.SortStableFunc(found, func(a, b lineErr) int { return a.line - b.line })
		var errs []string
		for i, e := range found {
			if i == maxCSVErrors {
				errs = append(errs, fmt.Sprintf("%s: and %d more errors", name, len(found)-i))
				break
			}
			errs = append(errs, fmt.Sprintf("%s:%d: %s", name, e.line, e.msg))
		}
		return nil, errs
	}
	sum := h.Sum(nil)
	out := make([]OfficialRow, len(rows))
	for i, row := range rows {
		row.OfficialID = uuid.NewSHA1(officialNamespace, append(slices.Clone(sum), row.StationID+"/"+row.Ballot...)).String()
		out[i] = *row
	}
	return out, nil
}

// officialNamespace makes the ids of rows from CSV files (UUID v5).
var officialNamespace = uuid.MustParse("6f0e6a59-4b58-4a8e-9d63-0f1c5b0d2a11")

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Sprintf("want %d columns (%s)", len(OfficialColumns), strings.Join(OfficialColumns, ","))
		}
		return pe.Err.Error()
	}
	return err.Error()
}
