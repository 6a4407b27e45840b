package clickhouse

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// The sink's two busiest record kinds (station-result.v1 and report.v1, one per accepted
// submission and one per new version) are decoded by a hand-written reader straight into
// their table's columns; encoding/json's reflection, the votes map and the []any rows
// were more than half the sink's CPU. The reader takes only the plain form our encoders
// write: the fields' exact names, each once, strings without escapes, integers without
// sign, fraction or exponent, vote numbers in canonical decimal. Anything else (an escape,
// an unknown or repeated field, a figure out of its column's range, any syntax error)
// makes it say "not mine", and the record goes the general way (schemas.DecodeAny and
// chtable), which decodes it or dead-letters it exactly as before. FuzzFastDecode checks
// that whatever the reader accepts, the general way accepts too, with the same row.

// lexer reads one JSON value. s is the record's value as one string: the strings of the
// row are substrings of it, so a record costs one string allocation, not one per field.
type lexer struct {
	s string
	i int
	a *arena
}

// arena hands out the arrays of rows (votes, sources, evidence) from large blocks, so a
// row's arrays cost no allocation of their own; the lexer builds each in a scratch slice.
type arena struct {
	u16 []uint16
	u32 []uint32
	str []string

	nos     []uint16
	counts  []uint32
	strs    []string
	sources [5][]string
}

// keep copies v into block's free room (a new block when it has too little) and returns
// the copy, with no room to grow into its neighbours.
func keep[T any](block *[]T, v []T) []T {
	if len(v) == 0 {
		return []T{}
	}
	if cap(*block)-len(*block) < len(v) {
		*block = make([]T, 0, max(4096, len(v)))
	}
	start := len(*block)
	*block = append(*block, v...)
	return (*block)[start:len(*block):len(*block)]
}

func (l *lexer) ws() {
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return
		}
	}
}

// eat consumes c (after white space) if it comes next.
func (l *lexer) eat(c byte) bool {
	l.ws()
	if l.i < len(l.s) && l.s[l.i] == c {
		l.i++
		return true
	}
	return false
}

// null consumes a JSON null if it comes next. encoding/json leaves a field it reads null
// into at its zero value, which is where every field of a fresh row starts.
func (l *lexer) null() bool {
	l.ws()
	if strings.HasPrefix(l.s[l.i:], "null") {
		l.i += 4
		return true
	}
	return false
}

// str reads a string without escapes (valid UTF-8, no control characters).
func (l *lexer) str() (string, bool) {
	if !l.eat('"') {
		return "", false
	}
	start, ascii := l.i, true
	for j := start; j < len(l.s); j++ {
		switch c := l.s[j]; {
		case c == '"':
			v := l.s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", false // encoding/json would replace the bad bytes
			}
			l.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// uint reads a non-negative integer in canonical form (no sign, leading zero, fraction or
// exponent) of at most max.
func (l *lexer) uint(max uint64) (uint64, bool) {
	l.ws()
	start := l.i
	var n uint64
	for l.i < len(l.s) && l.s[l.i] >= '0' && l.s[l.i] <= '9' {
		d := uint64(l.s[l.i] - '0')
		if n > (max-d)/10 {
			return 0, false
		}
		n = n*10 + d
		l.i++
	}
	if l.i == start || (l.s[start] == '0' && l.i-start > 1) {
		return 0, false
	}
	if l.i < len(l.s) {
		switch l.s[l.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return n, true
}

func (l *lexer) u32() (uint32, bool) {
	n, ok := l.uint(math.MaxUint32)
	return uint32(n), ok
}

// time reads an RFC 3339 string as time.Time's JSON decoding does; null is the zero time.
func (l *lexer) time() (time.Time, bool) {
	var t time.Time
	if !l.null() {
		s, ok := l.str()
		if !ok || t.UnmarshalText([]byte(s)) != nil {
			return time.Time{}, false
		}
	}
	return t, true
}

// text reads a string field; null is "".
func (l *lexer) text() (string, bool) {
	if l.null() {
		return "", true
	}
	return l.str()
}

// object reads an object's members, calling field for each name with the lexer at its value.
// seen catches a repeated name (encoding/json keeps the last; the general path does it).
func (l *lexer) object(field func(name string) (bit uint32, ok bool)) bool {
	if !l.eat('{') {
		return false
	}
	if l.eat('}') {
		return true
	}
	var seen uint32
	for {
		name, ok := l.str()
		if !ok || !l.eat(':') {
			return false
		}
		bit, ok := field(name)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if l.eat(',') {
			continue
		}
		return l.eat('}')
	}
}

// array reads an array, calling elem for each element; null is an empty array.
func (l *lexer) array(elem func() bool) bool {
	if l.null() {
		return true
	}
	if !l.eat('[') {
		return false
	}
	if l.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if l.eat(',') {
			continue
		}
		return l.eat(']')
	}
}

// strings reads an array of strings (never nil, as chtable stores an absent one).
func (l *lexer) strings() ([]string, bool) {
	out := l.a.strs[:0]
	ok := l.array(func() bool {
		s, ok := l.str()
		out = append(out, s)
		return ok
	})
	l.a.strs = out
	return keep(&l.a.str, out), ok
}

// votes reads a votes object into arrays sorted by number, as chtable's voteArrays makes them.
func (l *lexer) votes() (nos []uint16, votes []uint32, ok bool) {
	if l.null() {
		return []uint16{}, []uint32{}, true
	}
	nos, votes = l.a.nos[:0], l.a.counts[:0]
	ok = l.object(func(name string) (uint32, bool) {
		k := lexer{s: name}
		no, ok := k.uint(math.MaxUint16)
		if !ok || k.i != len(name) {
			return 0, false
		}
		n, ok := l.u32()
		if !ok {
			return 0, false
		}
		// Insertion by number: a ballot has at most a few dozen.
		at := len(nos)
		for at > 0 && nos[at-1] > uint16(no) {
			at--
		}
		if at > 0 && nos[at-1] == uint16(no) {
			return 0, false
		}
		nos = append(nos, 0)
		votes = append(votes, 0)
		copy(nos[at+1:], nos[at:])
		copy(votes[at+1:], votes[at:])
		nos[at], votes[at] = uint16(no), n
		return 0, true
	})
	l.a.nos, l.a.counts = nos, votes
	return keep(&l.a.u16, nos), keep(&l.a.u32, votes), ok
}

// end reports whether nothing but white space follows.
func (l *lexer) end() bool {
	l.ws()
	return l.i == len(l.s)
}
