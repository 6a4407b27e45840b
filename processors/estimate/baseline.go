package estimate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"unicode/utf8"

	"votestream/election"
)

// A previous election's results (the baseline, `--baseline DIR`), in the results-set CSV
// format of DESIGN.md §4: station_votes.csv (station_id, ballot, number, votes) is required.
// A station_id may name a station of tonight's reference data or a whole constituency (a
// baseline known only per constituency); ids that match neither are counted and left out.
// Optional files in the same folder:
//
//   - parties.csv (party_no, name_th, name_en): the previous election's party numbers, matched
//     to tonight's parties by name (Thai or English); without it, numbers are taken as
//     tonight's. A party with no match has no baseline and is projected by level alone.
//   - candidates.csv (constituency_id, candidate_no, name, party_no): the previous
//     constituency candidates, so the constituency ballot's votes can be given to parties;
//     without it the constituency ballot's baseline is the party-list one.
//   - station_totals.csv is accepted and not read (the shares need only the votes).

// ErrBaseline wraps every problem with a baseline folder; errors.As finds a *BaselineError
// with its stable Code.
var ErrBaseline = errors.New("estimate: baseline")

// Stable codes of baseline problems (BaselineError.Code).
const (
	BaselineNoVotes   = "BASELINE_NO_VOTES"  // station_votes.csv missing or unreadable
	BaselineHeader    = "BASELINE_HEADER"    // a required column is missing, or an unknown one is present
	BaselineSyntax    = "BASELINE_SYNTAX"    // not CSV, wrong field count, not UTF-8
	BaselineBallot    = "BASELINE_BALLOT"    // ballot is not constituency or partylist
	BaselineNumber    = "BASELINE_NUMBER"    // number, votes or party_no not a non-negative integer (number >= 1)
	BaselineEmptyID   = "BASELINE_EMPTY_ID"  // empty station_id or constituency_id
	BaselineDuplicate = "BASELINE_DUPLICATE" // the same (station, ballot, number) twice
	BaselineNoMatch   = "BASELINE_NO_MATCH"  // no id matches tonight's stations or constituencies, or no party matches
	BaselineEmpty     = "BASELINE_EMPTY"     // no votes at all
	BaselineTooMany   = "BASELINE_TOO_MANY"  // more problems than are reported
	baselineMaxErrors = 20
)

// BaselineError is one problem with a baseline file, with a stable Code.
type BaselineError struct {
	Code string
	File string
	Line int // 1-based, the header is line 1; 0 for the whole file
	Msg  string
}

func (e *BaselineError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("baseline %s:%d: %s: %s", e.File, e.Line, e.Code, e.Msg)
	}
	return fmt.Sprintf("baseline %s: %s: %s", e.File, e.Code, e.Msg)
}

func (e *BaselineError) Unwrap() error { return ErrBaseline }

// Baseline is a previous election's results as read from its folder, before they are
// matched to tonight's reference data (Estimator.SetBaseline).
type Baseline struct {
	// Votes per id (station or constituency), per ballot (0 party-list, 1 constituency),
	// per number (party_no, or candidate_no on the constituency ballot).
	Votes map[string]*[2]map[int]int64
	// PartyNames maps a previous party number to its names (from parties.csv), nil without.
	PartyNames map[int][2]string
	// CandidateParty maps (constituency_id, candidate_no) to the previous party number,
	// nil without candidates.csv.
	CandidateParty map[candidateKey]int
}

type candidateKey struct {
	cons string
	no   int
}

// LoadBaseline reads a baseline folder (use os.DirFS). Up to 20 problems are reported,
// joined, each a *BaselineError.
func LoadBaseline(fsys fs.FS) (*Baseline, error) {
	b := &Baseline{Votes: map[string]*[2]map[int]int64{}}
	var problems []error
	fail := func(code, file string, line int, format string, a ...any) {
		if len(problems) < baselineMaxErrors {
			problems = append(problems, &BaselineError{Code: code, File: file, Line: line, Msg: fmt.Sprintf(format, a...)})
		} else if len(problems) == baselineMaxErrors {
			problems = append(problems, &BaselineError{Code: BaselineTooMany, File: file, Msg: "more problems not listed"})
		}
	}
	seen := map[[3]string]int{}
	err := readBaselineCSV(fsys, election.FileStationVotes, []string{"station_id", "ballot", "number", "votes"}, fail, func(line int, f map[string]string) {
		id := f["station_id"]
		if id == "" {
			fail(BaselineEmptyID, election.FileStationVotes, line, "empty station_id")
			return
		}
		var bi int
		switch election.Ballot(f["ballot"]) {
		case election.BallotPartyList:
		case election.BallotConstituency:
			bi = 1
		default:
			fail(BaselineBallot, election.FileStationVotes, line, "ballot %q is not partylist or constituency", f["ballot"])
			return
		}
		no, err1 := strconv.Atoi(f["number"])
		v, err2 := strconv.ParseInt(f["votes"], 10, 64)
		if err1 != nil || no < 1 {
			fail(BaselineNumber, election.FileStationVotes, line, "number %q is not a whole number from 1", f["number"])
			return
		}
		if err2 != nil || v < 0 || v > 1<<31 {
			fail(BaselineNumber, election.FileStationVotes, line, "votes %q is not a whole number from 0", f["votes"])
			return
		}
		key := [3]string{id, f["ballot"], f["number"]}
		if first, dup := seen[key]; dup {
			fail(BaselineDuplicate, election.FileStationVotes, line, "station %q ballot %s number %d already on line %d", id, f["ballot"], no, first)
			return
		}
		seen[key] = line
		u := b.Votes[id]
		if u == nil {
			u = &[2]map[int]int64{{}, {}}
			b.Votes[id] = u
		}
		u[bi][no] += v
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &BaselineError{Code: BaselineNoVotes, File: election.FileStationVotes, Msg: "the baseline folder has no station_votes.csv"}
	}
	if err != nil {
		return nil, err
	}
	err = readBaselineCSV(fsys, election.FileParties, []string{"party_no", "name_th", "name_en"}, fail, func(line int, f map[string]string) {
		no, err := strconv.Atoi(f["party_no"])
		if err != nil || no < 1 {
			fail(BaselineNumber, election.FileParties, line, "party_no %q is not a whole number from 1", f["party_no"])
			return
		}
		if b.PartyNames == nil {
			b.PartyNames = map[int][2]string{}
		}
		b.PartyNames[no] = [2]string{f["name_th"], f["name_en"]}
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	err = readBaselineCSV(fsys, election.FileCandidates, []string{"constituency_id", "candidate_no", "name", "party_no"}, fail, func(line int, f map[string]string) {
		if f["constituency_id"] == "" {
			fail(BaselineEmptyID, election.FileCandidates, line, "empty constituency_id")
			return
		}
		no, err := strconv.Atoi(f["candidate_no"])
		if err != nil || no < 1 {
			fail(BaselineNumber, election.FileCandidates, line, "candidate_no %q is not a whole number from 1", f["candidate_no"])
			return
		}
		if f["party_no"] == "" { // an independent, or a party without a list number
			return
		}
		p, err := strconv.Atoi(f["party_no"])
		if err != nil || p < 1 {
			fail(BaselineNumber, election.FileCandidates, line, "party_no %q is not a whole number from 1", f["party_no"])
			return
		}
		if b.CandidateParty == nil {
			b.CandidateParty = map[candidateKey]int{}
		}
		b.CandidateParty[candidateKey{f["constituency_id"], no}] = p
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if len(b.Votes) == 0 {
		return nil, &BaselineError{Code: BaselineEmpty, File: election.FileStationVotes, Msg: "no votes"}
	}
	return b, nil
}

// readBaselineCSV reads one file row by row; a missing file is fs.ErrNotExist, a broken
// one a *BaselineError. Row problems go to fail.
func readBaselineCSV(fsys fs.FS, file string, cols []string, fail func(code, file string, line int, format string, a ...any), row func(line int, f map[string]string)) error {
	fh, err := fsys.Open(file)
	if err != nil {
		return err
	}
	defer fh.Close()
	r := csv.NewReader(fh)
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return &BaselineError{Code: BaselineSyntax, File: file, Line: 1, Msg: fmt.Sprintf("no header row: %v", err)}
	}
	pos := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		pos[h] = i
	}
	for _, c := range cols {
		if _, ok := pos[c]; !ok {
			return &BaselineError{Code: BaselineHeader, File: file, Line: 1, Msg: fmt.Sprintf("no column %q (want %s)", c, strings.Join(cols, ", "))}
		}
	}
	f := make(map[string]string, len(cols))
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			fail(BaselineSyntax, file, line, "%v", err)
			return nil
		}
		ok := true
		for _, c := range cols {
			v := strings.TrimSpace(rec[pos[c]])
			if !utf8.ValidString(v) {
				fail(BaselineSyntax, file, line, "column %s is not UTF-8", c)
				ok = false
			}
			f[c] = v
		}
		if ok {
			row(line, f)
		}
	}
}
