// Package roster imports the organisations' volunteer rosters and issues each volunteer a
// token (package token). It finds the same person listed by two organisations by a salted
// SHA-256 of their normalised phone number, so that one person is not counted as two
// independent sources; phone numbers themselves never leave this package, and names are
// read but written nowhere.
//
// A roster is a CSV file (UTF-8, a header row, a leading byte-order mark allowed) with the
// columns org, volunteer_id, name, phone, role, scope, in any order; other columns are
// ignored. role is station, district_lead or war_room; scope is station ids separated by
// ';' for a station volunteer, one constituency id for a district lead, and empty for the
// war room. Volunteer ids are only unique within an organisation, so a token's volunteer id
// is "<org>/<volunteer_id>".
package roster

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"votestream/election"
	"votestream/schemas"
)

// Sentinel errors.
var (
	ErrBadRoster = errors.New("roster: bad roster")
	ErrBadPhone  = errors.New("roster: bad phone number")
)

// Entry is one volunteer of a roster.
type Entry struct {
	Source       string   // file the entry came from
	Line         int      // 1-based line in it
	Org          string   // organisation, as the roster spells it
	LocalID      string   // volunteer_id within the organisation
	Name         string   // read for the operator; never written out
	PhoneHash    string   // hex SHA-256 of salt and the normalised phone; "" without a phone
	Role         string   // schemas.Role*
	Stations     []string // scope of a station volunteer
	Constituency string   // scope of a district lead
}

// VolunteerID is the id the volunteer's token carries: unique across organisations.
func (e Entry) VolunteerID() string { return e.Org + "/" + e.LocalID }

var columns = []string{"org", "volunteer_id", "name", "phone", "role", "scope"}

// maxProblems bounds the errors one Parse reports.
const maxProblems = 20

// Parse reads one roster. country, when not nil, must be indexed: every station and
// constituency named in a scope must then exist in it. salt keys the phone hashes (see
// HashPhone). It reports up to 20 problems at once, each with its line, and returns no
// entries if there is any: a half-imported roster would leave volunteers without tokens
// and nobody the wiser.
func Parse(r io.Reader, source string, salt []byte, country *election.Country) ([]Entry, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	width, col, err := readHeader(cr, source)
	if err != nil {
		return nil, err
	}
	rr := &rowReader{source: source, salt: salt, country: country, col: col, seen: map[string]int{}}
	var entries []Entry
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// FieldPos is only defined after a successful Read.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rr.problem(pe.StartLine, "%v", pe.Err)
			} else {
				rr.problem(0, "%v", err)
			}
			break // the rest of the file cannot be trusted to split into rows
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != width {
			rr.problem(line, "%d fields, the header has %d", len(rec), width)
			continue
		}
		if e, ok := rr.entry(rec, line); ok {
			entries = append(entries, e)
		}
	}
	if err := rr.err(); err != nil {
		return nil, err
	}
	return entries, nil
}

// readHeader reads the header row: its width and each column's index by its lower-case
// name. A column named twice, or one of columns missing, is an error.
func readHeader(cr *csv.Reader, source string) (int, map[string]int, error) {
	header, err := cr.Read()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s: no header row: %v", ErrBadRoster, source, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		if _, dup := col[h]; dup {
			return 0, nil, fmt.Errorf("%w: %s: column %q twice", ErrBadRoster, source, h)
		}
		col[h] = i
	}
	for _, c := range columns {
		if _, ok := col[c]; !ok {
			return 0, nil, fmt.Errorf("%w: %s: no %q column (want %s)", ErrBadRoster, source, c, strings.Join(columns, ", "))
		}
	}
	return len(header), col, nil
}

// rowReader turns the rows of one roster into entries, noting each row's problems.
type rowReader struct {
	source  string
	salt    []byte
	country *election.Country // nil: scopes are not checked against reference data
	col     map[string]int    // column index by name
	seen    map[string]int    // org/volunteer_id -> line that listed it first

	problems []error
	dropped  int // problems beyond maxProblems
}

// problem notes a problem of line (0: of the file), keeping the first maxProblems.
func (rr *rowReader) problem(line int, format string, args ...any) {
	if len(rr.problems) < maxProblems {
		rr.problems = append(rr.problems, fmt.Errorf("%s:%d: %s", rr.source, line, fmt.Sprintf(format, args...)))
	} else {
		rr.dropped++
	}
}

// err joins the problems noted, or returns nil when there are none.
func (rr *rowReader) err() error {
	if len(rr.problems) == 0 {
		return nil
	}
	problems := rr.problems
	if rr.dropped > 0 {
		problems = append(problems, fmt.Errorf("... and %d more problems", rr.dropped))
	}
	return fmt.Errorf("%w: %w", ErrBadRoster, errors.Join(problems...))
}

// entry reads the volunteer of one row of the header's width: the identity, the phone hash,
// then the role's scope. false when the row has problems (noted).
func (rr *rowReader) entry(rec []string, line int) (Entry, bool) {
	field := func(name string) string {
		if i := rr.col[name]; i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	e := Entry{Source: rr.source, Line: line, Org: field("org"), LocalID: field("volunteer_id"), Name: field("name"), Role: field("role")}
	if !rr.identity(e) {
		return e, false
	}
	rr.seen[e.VolunteerID()] = line
	if phone := field("phone"); phone != "" {
		norm, err := NormalizePhone(phone)
		if err != nil {
			rr.problem(line, "%v", err)
			return e, false
		}
		e.PhoneHash = HashPhone(rr.salt, norm)
	}
	return e, rr.scope(&e, field("scope"))
}

// identity checks e's organisation, volunteer id and name, and that the volunteer is not
// listed twice.
func (rr *rowReader) identity(e Entry) bool {
	bad := false
	for _, f := range []struct{ name, v string }{{"org", e.Org}, {"volunteer_id", e.LocalID}, {"name", e.Name}} {
		if !utf8.ValidString(f.v) {
			rr.problem(e.Line, "%s is not valid UTF-8", f.name)
			bad = true
		}
	}
	switch {
	case bad:
		return false
	case e.Org == "" || e.LocalID == "":
		rr.problem(e.Line, "org and volunteer_id are required")
		return false
	case strings.Contains(e.Org, "/"):
		rr.problem(e.Line, "org %q contains '/', which separates org and volunteer in token ids", e.Org)
		return false
	}
	if prev, dup := rr.seen[e.VolunteerID()]; dup {
		rr.problem(e.Line, "volunteer %q of %q already listed on line %d", e.LocalID, e.Org, prev)
		return false
	}
	return true
}

// scope sets e's scope from the scope column as its role reads it, checked against the
// reference data when there is a country.
func (rr *rowReader) scope(e *Entry, scope string) bool {
	switch e.Role {
	case schemas.RoleStation:
		for _, s := range strings.Split(scope, ";") {
			if s = strings.TrimSpace(s); s != "" {
				e.Stations = append(e.Stations, s)
			}
		}
		if len(e.Stations) == 0 {
			rr.problem(e.Line, "a station volunteer needs station ids in scope, separated by ';'")
			return false
		}
		ok := true
		if rr.country != nil {
			for _, s := range e.Stations {
				if _, known := rr.country.StationByID(s); !known {
					rr.problem(e.Line, "station %q is not in the reference data", s)
					ok = false
				}
			}
		}
		return ok
	case schemas.RoleDistrictLead:
		e.Constituency = scope
		if scope == "" || strings.Contains(scope, ";") {
			rr.problem(e.Line, "a district lead's scope is one constituency id")
			return false
		}
		if rr.country != nil {
			if _, known := rr.country.Constituency(scope); !known {
				rr.problem(e.Line, "constituency %q is not in the reference data", scope)
				return false
			}
		}
		return true
	case schemas.RoleWarRoom, schemas.RoleDesk:
		if scope != "" {
			rr.problem(e.Line, "the %s's scope is empty (it covers everything); got %q", e.Role, scope)
			return false
		}
		return true
	default:
		rr.problem(e.Line, "role %q: want station, district_lead, war_room or desk", e.Role)
		return false
	}
}

// NormalizePhone brings a phone number to E.164 ("+66812345678"), reading Thai numbers
// as Thai organisations write them: "081-234-5678", "08 1234 5678", "+66 (0) 81 234 5678",
// "66812345678", or in Thai digits "๐๘๑๒๓๔๕๖๗๘". Numbers of other countries must start with
// '+'.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '๐' && r <= '๙':
			b.WriteRune('0' + (r - '๐'))
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("%w: %q has a %q", ErrBadPhone, s, r)
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(d, "+660"):
		d = "+66" + d[4:]
	case strings.HasPrefix(d, "+"):
	case strings.HasPrefix(d, "66") && len(d) >= 10:
		d = "+" + d
	case strings.HasPrefix(d, "0") && (len(d) == 9 || len(d) == 10):
		d = "+66" + d[1:]
	default:
		return "", fmt.Errorf("%w: %q is neither a Thai number (0…, 66…) nor international (+…)", ErrBadPhone, s)
	}
	// E.164: at most 15 digits; a Thai number is 8 (landline) or 9 (mobile) after +66.
	digits := len(d) - 1
	if digits < 8 || digits > 15 || strings.HasPrefix(d, "+66") && (digits < 10 || digits > 11) {
		return "", fmt.Errorf("%w: %q has the wrong number of digits", ErrBadPhone, s)
	}
	return d, nil
}

// HashPhone is the hex SHA-256 of salt followed by the normalised number. The salt keeps
// the hashes from being reversed by hashing every Thai number (there are only about a
// billion); it must be the same for every roster of one import for duplicates to be found.
func HashPhone(salt []byte, normalised string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(normalised))
	return hex.EncodeToString(h.Sum(nil))
}

// Duplicate is one phone number listed more than once.
type Duplicate struct {
	PhoneHash string
	Entries   []Entry // in input order
}

// CrossOrg reports whether the entries come from more than one organisation: the case that
// matters, since two organisations' reports would otherwise count as independent.
func (d Duplicate) CrossOrg() bool {
	for _, e := range d.Entries[1:] {
		if e.Org != d.Entries[0].Org {
			return true
		}
	}
	return false
}

// FindDuplicates groups entries by phone hash and returns the groups of two or more, in the
// order their first entry appears. Entries without a phone are never duplicates.
func FindDuplicates(entries []Entry) []Duplicate {
	groups := map[string][]Entry{}
	var order []string
	for _, e := range entries {
		if e.PhoneHash == "" {
			continue
		}
		if _, ok := groups[e.PhoneHash]; !ok {
			order = append(order, e.PhoneHash)
		}
		groups[e.PhoneHash] = append(groups[e.PhoneHash], e)
	}
	var out []Duplicate
	for _, h := range order {
		if len(groups[h]) > 1 {
			out = append(out, Duplicate{PhoneHash: h, Entries: groups[h]})
		}
	}
	return out
}
