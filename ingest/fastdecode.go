package ingest

import "bytes"

// decodeSubmission decodes one submission object into w. Bodies of the common shape (strings
// of printable ASCII without escapes, whole numbers, no nulls, each field once, nothing
// unknown) are scanned directly: reflection in encoding/json was the largest single cost of
// a request. Anything else, valid or not, goes to decodeStrict, so every refusal and every
// unusual body gets encoding/json's reading and the same error codes.
// FuzzFastSubmission holds the two paths to the same result.
func decodeSubmission(data []byte, w *submissionWire) *APIError {
	if scanSubmission(data, w) {
		return nil
	}
	*w = submissionWire{}
	return decodeStrict(data, w)
}

// scanSubmission fills w from data and reports true only when data is one JSON object of the
// common shape; on false, w holds partial values.
func scanSubmission(data []byte, w *submissionWire) bool {
	s := newScanner(data)
	return s.submission(w) && s.end()
}

// scanBatch reads a body that is an array of 1 to max objects of the common shape. Any other
// body, including a batch that will be refused, is left to splitBatch (false).
func scanBatch(data []byte, max int) ([]submissionWire, bool) {
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, false // before the string copy: a single object is copied once, later
	}
	s := newScanner(data)
	s.next('[')
	ws := make([]submissionWire, 0, min(max, 1+len(data)/128))
	for len(ws) < max {
		ws = append(ws, submissionWire{})
		if !s.submission(&ws[len(ws)-1]) {
			return nil, false
		}
		if s.next(',') {
			continue
		}
		if s.next(']') && s.end() {
			return ws, true
		}
		return nil, false
	}
	return nil, false
}

// submission reads one object of the common shape into w.
func (s *scanner) submission(w *submissionWire) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	// One allocation holds every scalar the wire points at.
	vals := new(struct {
		strs [5]string
		ints [3]int
	})
	var seen uint16
	for {
		key, ok := s.rawString()
		if !ok || !s.next(':') {
			return false
		}
		var bit uint16
		switch key {
		case "submission_id":
			bit = 1 << 0
			w.SubmissionID, ok = s.stringInto(&vals.strs[0])
		case "station_id":
			bit = 1 << 1
			w.StationID, ok = s.stringInto(&vals.strs[1])
		case "ballot":
			bit = 1 << 2
			w.Ballot, ok = s.stringInto(&vals.strs[2])
		case "stage":
			bit = 1 << 3
			w.Stage, ok = s.stringInto(&vals.strs[3])
		case "counted_at":
			bit = 1 << 4
			w.CountedAt, ok = s.stringInto(&vals.strs[4])
		case "ballots_cast":
			bit = 1 << 5
			w.BallotsCast, ok = s.intInto(&vals.ints[0])
		case "invalid":
			bit = 1 << 6
			w.Invalid, ok = s.intInto(&vals.ints[1])
		case "no_vote":
			bit = 1 << 7
			w.NoVote, ok = s.intInto(&vals.ints[2])
		case "votes":
			bit = 1 << 8
			w.Votes, ok = s.votes()
		case "evidence":
			bit = 1 << 9
			w.Evidence, ok = s.strings()
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if s.next(',') {
			continue
		}
		return s.next('}')
	}
}

// scanner reads the common shape of JSON and gives up (false) on anything else. It reads a
// string copy of the body, so that every value it returns is a substring of that one copy
// rather than an allocation of its own. Values that outlive the request (the receipt kept for
// retries) must be cloned, or they keep the whole body alive.
type scanner struct {
	b string
	i int
}

func newScanner(data []byte) scanner { return scanner{b: string(data)} }

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c, after white space, if it comes next.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// rawString reads a string of printable ASCII without escapes.
func (s *scanner) rawString() (string, bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			out := s.b[s.i+1 : j]
			s.i = j + 1
			return out, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", false
		}
	}
	return "", false
}

func (s *scanner) stringInto(v *string) (*string, bool) {
	var ok bool
	*v, ok = s.rawString()
	return v, ok
}

// integer reads -?(0|[1-9][0-9]*) of at most 18 digits, which always fits an int.
func (s *scanner) integer() (int, bool) {
	s.space()
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	start, n := s.i, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 18 || (digits > 1 && s.b[start] == '0') {
		return 0, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] { // a fraction or exponent: encoding/json's to judge
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

func (s *scanner) intInto(v *int) (*int, bool) {
	var ok bool
	*v, ok = s.integer()
	return v, ok
}

// votes reads an object of whole numbers; a key given twice is left to decodeStrict, which
// refuses it.
func (s *scanner) votes() (map[string]int, bool) {
	if !s.next('{') {
		return nil, false
	}
	m := make(map[string]int, 16)
	if s.next('}') {
		return m, true
	}
	for {
		k, ok := s.rawString()
		if !ok || !s.next(':') {
			return nil, false
		}
		n, ok := s.integer()
		if !ok {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		m[k] = n
		if s.next(',') {
			continue
		}
		if s.next('}') {
			return m, true
		}
		return nil, false
	}
}

// strings reads an array of strings.
func (s *scanner) strings() ([]string, bool) {
	if !s.next('[') {
		return nil, false
	}
	out := []string{}
	if s.next(']') {
		return out, true
	}
	for {
		b, ok := s.rawString()
		if !ok {
			return nil, false
		}
		out = append(out, b)
		if s.next(',') {
			continue
		}
		if s.next(']') {
			return out, true
		}
		return nil, false
	}
}
