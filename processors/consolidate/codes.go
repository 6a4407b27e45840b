package consolidate

import "votestream/schemas"

// codeSet is a set of anomaly codes, one bit per entry of schemas.AnomalyCatalogue. Its
// width follows the catalogue's length (a constant), so a new code can never fall off the
// end; it stays a comparable value, copied with the view that holds it.
type codeSet [(len(schemas.AnomalyCatalogue) + 63) / 64]uint64

// add puts code in the set. Codes come from the schemas.Anomaly* constants, every one of
// which a schemas test finds in the catalogue; anything else is ignored.
func (s *codeSet) add(code string) {
	if _, i, ok := schemas.LookupAnomaly(code); ok {
		s[i/64] |= 1 << (i % 64)
	}
}

// remove takes code out of the set.
func (s *codeSet) remove(code string) {
	if _, i, ok := schemas.LookupAnomaly(code); ok {
		s[i/64] &^= 1 << (i % 64)
	}
}

func (s *codeSet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

// hard reports whether any code in the set disputes a result.
func (s codeSet) hard() bool {
	for i, k := range schemas.AnomalyCatalogue {
		if s.has(i) && k.Severity == schemas.SeverityHard {
			return true
		}
	}
	return false
}

// list returns the codes in catalogue order (DESIGN.md §4), nil for none.
func (s codeSet) list() []string {
	var out []string
	for i, k := range schemas.AnomalyCatalogue {
		if s.has(i) {
			out = append(out, k.Code)
		}
	}
	return out
}
