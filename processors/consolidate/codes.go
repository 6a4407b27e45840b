package consolidate

import "votestream/schemas"

// codeSet is a set of anomaly codes, one bit per code of schemas.AnomalyCodes.
type codeSet uint16

var codeBit = func() map[string]codeSet {
	m := make(map[string]codeSet, len(schemas.AnomalyCodes))
	for i, c := range schemas.AnomalyCodes {
		m[c] = 1 << i
	}
	return m
}()

func (s *codeSet) add(code string) { *s |= codeBit[code] }

// hard reports whether any code in the set disputes a result.
func (s codeSet) hard() bool {
	for i, c := range schemas.AnomalyCodes {
		if s&(1<<i) != 0 && isHard(c) {
			return true
		}
	}
	return false
}

// list returns the codes in catalogue order (DESIGN.md §4), nil for none.
func (s codeSet) list() []string {
	if s == 0 {
		return nil
	}
	var out []string
	for i, c := range schemas.AnomalyCodes {
		if s&(1<<i) != 0 {
			out = append(out, c)
		}
	}
	return out
}
