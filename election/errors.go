package election

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns wraps one of them, so callers can tell
// the kinds apart with errors.Is whatever the wrapping (a *CSVError, a joined list).
var (
	// ErrDuplicateID: an id (or a natural key such as constituency and candidate number)
	// appears twice.
	ErrDuplicateID = errors.New("election: duplicate id")
	// ErrUnknownRef: a row refers to a province, constituency, station, party or candidate
	// that the reference data does not hold.
	ErrUnknownRef = errors.New("election: unknown reference")
	// ErrBadNumber: a number is missing, not a decimal integer, negative, out of range, or
	// (for votes keys) not in canonical decimal form.
	ErrBadNumber = errors.New("election: bad number")
	// ErrBadValue: a required text field is empty or has surrounding spaces, or a flag or
	// ballot is not one of its allowed values.
	ErrBadValue = errors.New("election: bad value")
	// ErrBadUTF8: a field is not valid UTF-8.
	ErrBadUTF8 = errors.New("election: invalid UTF-8")
	// ErrBadHeader: a CSV header row is missing, or lacks a required column, or names a
	// column twice or a column the contract does not know.
	ErrBadHeader = errors.New("election: bad header")
	// ErrColumnCount: a CSV row has a different number of fields from its header.
	ErrColumnCount = errors.New("election: wrong column count")
	// ErrSyntax: a CSV row cannot be parsed at all (for example a stray quote).
	ErrSyntax = errors.New("election: CSV syntax")
	// ErrMissingFile: a required file of a reference folder or results set is absent.
	ErrMissingFile = errors.New("election: missing file")
	// ErrArith: votes + invalid + no_vote differ from ballots cast.
	ErrArith = errors.New("election: votes, invalid and no-vote do not add up to ballots cast")
	// ErrOverEligible: more ballots cast than eligible voters.
	ErrOverEligible = errors.New("election: ballots cast above eligible voters")
	// ErrNoVotes: a seat allocation was asked for with no valid votes to allocate by.
	ErrNoVotes = errors.New("election: no valid votes")
)

// CSVError locates one malformed row or field: the file, the 1-based line the field starts
// on, and the column (its header name) and field position when they are known. Err wraps
// one of the package's sentinel errors.
type CSVError struct {
	File   string // file name within the folder, e.g. "stations.csv"
	Line   int    // 1-based line; the header is line 1
	Column string // header name of the offending column; "" when the whole row is at fault
	Field  int    // 1-based field position; 0 when the whole row is at fault
	Err    error
}

func (e *CSVError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("%s:%d: column %s: %v", e.File, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *CSVError) Unwrap() error { return e.Err }

// maxErrors bounds how many problems one load or validation reports, so a file that is
// wrong on every line gives a readable error rather than a megabyte of text.
const maxErrors = 20

// errList collects up to maxErrors errors and counts the rest.
type errList struct {
	errs    []error
	dropped int
	stopped bool // reading stopped at the bound, so more problems may follow
}

func (l *errList) add(err error) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, err)
		return
	}
	l.dropped++
}

func (l *errList) full() bool { return len(l.errs) >= maxErrors }

func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	errs := l.errs
	if l.dropped > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("... and %d more problems", l.dropped))
	}
	if l.stopped {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("... stopped after %d problems", len(l.errs)))
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
