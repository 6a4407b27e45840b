package election

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// table reads one CSV file of the contract: a header row naming the columns (in any order),
// then rows whose fields are looked up by column name. Field accessors record the first
// problem of the current row as a *CSVError and return zero values after it, so a loader
// reads a row straight through and checks rowErr once.
type table struct {
	file   string
	r      *csv.Reader
	closer io.Closer
	header []string // column names by field position; at most the 7 the contract knows
	rec    []string
	line   int // line of the current record's first field
	rowErr *CSVError
}

// openTable opens file in fsys and checks its header against the required and optional
// columns. A missing file gives an error wrapping both ErrMissingFile and fs.ErrNotExist.
func openTable(fsys fs.FS, file string, required, optional []string) (*table, error) {
	f, err := fsys.Open(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s: %w", ErrMissingFile, file, err)
		}
		return nil, fmt.Errorf("election: open %s: %w", file, err)
	}
	t := &table{file: file, r: csv.NewReader(f), closer: f}
	// Column counts are checked here, with a message naming both counts.
	t.r.FieldsPerRecord = -1
	t.r.ReuseRecord = true
	if err := t.readHeader(required, optional); err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

func (t *table) close() { t.closer.Close() }

func (t *table) readHeader(required, optional []string) error {
	rec, err := t.r.Read()
	if err == io.EOF {
		return &CSVError{File: t.file, Line: 1, Err: fmt.Errorf("%w: empty file, expected a header row", ErrBadHeader)}
	}
	if err != nil {
		return t.readError(err)
	}
	if len(rec) > 0 {
		// Spreadsheets often save UTF-8 with a byte-order mark; it is not part of the name.
		rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
	}
	known := make(map[string]bool, len(required)+len(optional))
	for _, c := range required {
		known[c] = true
	}
	for _, c := range optional {
		known[c] = true
	}
	for i, name := range rec {
		line, _ := t.r.FieldPos(i)
		switch {
		case !known[name]:
			// An unknown column is more often a misspelt one than a harmless extra.
			return &CSVError{File: t.file, Line: line, Column: name, Field: i + 1,
				Err: fmt.Errorf("%w: unknown column %q (want %s)", ErrBadHeader, name, strings.Join(slices.Concat(required, optional), ", "))}
		case t.has(name):
			return &CSVError{File: t.file, Line: line, Column: name, Field: i + 1,
				Err: fmt.Errorf("%w: column %q appears twice", ErrBadHeader, name)}
		}
		t.header = append(t.header, strings.Clone(name))
	}
	for _, c := range required {
		if !t.has(c) {
			return &CSVError{File: t.file, Line: 1, Column: c,
				Err: fmt.Errorf("%w: missing column %q", ErrBadHeader, c)}
		}
	}
	return nil
}

// readError turns a csv.Reader error into a located error.
func (t *table) readError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{File: t.file, Line: pe.Line, Err: fmt.Errorf("%w: %v at byte %d", ErrSyntax, pe.Err, pe.Column)}
	}
	return fmt.Errorf("election: read %s: %w", t.file, err)
}

// next reads the next row. It returns false at the end of the file; a non-nil error
// (syntax, I/O) ends the file. Row-level problems (column count, UTF-8) are left in rowErr
// for the caller to collect, and the row's fields then read as zero values.
func (t *table) next() (bool, error) {
	rec, err := t.r.Read()
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, t.readError(err)
	}
	t.rec = rec
	t.line, _ = t.r.FieldPos(0)
	t.rowErr = nil
	if len(rec) != len(t.header) {
		t.rowErr = &CSVError{File: t.file, Line: t.line,
			Err: fmt.Errorf("%w: %d fields, the header has %d", ErrColumnCount, len(rec), len(t.header))}
		return true, nil
	}
	for i, v := range rec {
		if !utf8.ValidString(v) {
			t.fieldFail(i, fmt.Errorf("%w: %q", ErrBadUTF8, v))
			break
		}
	}
	return true, nil
}

func (t *table) fieldFail(i int, err error) {
	if t.rowErr != nil {
		return
	}
	line, _ := t.r.FieldPos(i)
	t.rowErr = &CSVError{File: t.file, Line: line, Column: t.header[i], Field: i + 1, Err: err}
}

// fail records a problem with the named column of the current row.
func (t *table) fail(col string, err error) {
	if t.rowErr != nil {
		return
	}
	i, ok := t.index(col)
	if !ok {
		t.rowErr = &CSVError{File: t.file, Line: t.line, Column: col, Err: err}
		return
	}
	line, _ := t.r.FieldPos(i)
	t.rowErr = &CSVError{File: t.file, Line: line, Column: col, Field: i + 1, Err: err}
}

// has reports whether the header has the (optional) column.
func (t *table) has(col string) bool {
	_, ok := t.index(col)
	return ok
}

// index finds a column's field position. A scan of at most 7 short names is cheaper than a
// map lookup, and this runs for every field of millions of rows.
func (t *table) index(col string) (int, bool) {
	for i, name := range t.header {
		if name == col {
			return i, true
		}
	}
	return 0, false
}

// field returns the raw value of a column the header is known to have.
func (t *table) field(col string) string {
	i, _ := t.index(col)
	return t.rec[i]
}

// text returns a free-text field (a name), which may be empty.
func (t *table) text(col string) string {
	if t.rowErr != nil {
		return ""
	}
	return strings.Clone(t.field(col))
}

// id returns an identifier: non-empty and without surrounding spaces, since ids become
// Kafka keys and join keys where " BKK_1" and "BKK_1" would silently differ. The string
// shares memory with the row: clone it before keeping it.
func (t *table) id(col string) string {
	if t.rowErr != nil {
		return ""
	}
	v := t.field(col)
	if err := checkID(v); err != nil {
		t.fail(col, err)
		return ""
	}
	return v
}

// checkID applies the rule for identifiers (ids, region names) of CSV files and of an
// in-memory Country alike, so that whatever passes Validate loads back.
func checkID(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: empty", ErrBadValue)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %q", ErrBadUTF8, v)
	case strings.TrimSpace(v) != v:
		return fmt.Errorf("%w: %q has surrounding spaces", ErrBadValue, v)
	case strings.ContainsFunc(v, unicode.IsControl):
		return fmt.Errorf("%w: %q holds a control character", ErrBadValue, v)
	}
	return nil
}

// number returns a non-negative decimal integer of at least min.
func (t *table) number(col string, min int) int {
	if t.rowErr != nil {
		return 0
	}
	v := t.field(col)
	n, ok := parseDigits(v)
	switch {
	case !ok:
		t.fail(col, fmt.Errorf("%w: %q is not a non-negative whole number", ErrBadNumber, v))
	case n < min:
		t.fail(col, fmt.Errorf("%w: %d is below %d", ErrBadNumber, n, min))
	}
	return n
}

// optionalNumber is number for a field that may be left empty, which reads as 0.
func (t *table) optionalNumber(col string, min int) int {
	if t.rowErr != nil || t.field(col) == "" {
		return 0
	}
	return t.number(col, min)
}

// flag returns an optional 0/1 column; an absent column or an empty field is 0.
func (t *table) flag(col string) bool {
	if t.rowErr != nil || !t.has(col) {
		return false
	}
	switch v := t.field(col); v {
	case "", "0":
		return false
	case "1":
		return true
	default:
		t.fail(col, fmt.Errorf("%w: %q is not 0 or 1", ErrBadValue, v))
		return false
	}
}

// minutes returns a finite, non-negative decimal number.
func (t *table) minutes(col string) float64 {
	if t.rowErr != nil {
		return 0
	}
	v := t.field(col)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || strings.ContainsAny(v, "xXpP_ ") {
		t.fail(col, fmt.Errorf("%w: %q is not a non-negative number of minutes", ErrBadNumber, v))
		return 0
	}
	return f
}

// ballot returns a ballot name.
func (t *table) ballot(col string) Ballot {
	if t.rowErr != nil {
		return ""
	}
	b := Ballot(t.field(col))
	if !b.Valid() {
		t.fail(col, fmt.Errorf("%w: ballot %q is not %q or %q", ErrBadValue, string(b), BallotConstituency, BallotPartyList))
		return ""
	}
	return b
}
