package feed

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"votestream/election"
)

// An event id (and an ETag) is "<epoch>-<seq>": the epoch names one process's view, so an
// id from before a restart never passes for one of the current sequence.
func formatEventID(epoch string, seq uint64) string {
	return epoch + "-" + strconv.FormatUint(seq, 10)
}

// maxEventIDLen bounds what parseEventID looks at; real ids are under 30 bytes.
const maxEventIDLen = 64

// parseEventID reads "<epoch>-<seq>". The epoch is lower-case letters and digits; seq is a
// canonical decimal number (no sign, no leading zero). Surrounding white space is ignored.
func parseEventID(s string) (epoch string, seq uint64, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) > maxEventIDLen {
		return "", 0, false
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i == len(s)-1 {
		return "", 0, false
	}
	epoch, num := s[:i], s[i+1:]
	for _, r := range epoch {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "", 0, false
		}
	}
	if len(num) > 1 && num[0] == '0' {
		return "", 0, false
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return epoch, n, true
}

// etag is the entity tag of an answer: weak, since the same answer may go out plain or
// gzipped.
func etag(eventID string) string { return `W/"` + eventID + `"` }

// etagMatches reports whether an If-None-Match header matches an answer's event id, by
// the weak comparison RFC 9110 prescribes for If-None-Match: "*", or any listed tag, W/ or
// not, whose opaque part is the id. A malformed list matches nothing from the first fault
// on, so a garbled header costs a full answer, never a wrong 304.
func etagMatches(header, eventID string) bool {
	s := header
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return false
		}
		if s[0] == '*' {
			return true
		}
		s = strings.TrimPrefix(s, "W/")
		if s == "" || s[0] != '"' {
			return false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return false
		}
		if s[1:1+end] == eventID {
			return true
		}
		s = s[end+2:]
		// After a tag only white space and a comma may come.
		t := strings.TrimLeft(s, " \t")
		if t != "" && t[0] != ',' {
			return false
		}
		s = t
	}
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (and not with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if strings.HasPrefix(q, "q=0") && strings.Trim(q[3:], ".0") == "" {
			continue // q=0, q=0.0, q=0.000: refused
		}
		return true
	}
	return false
}

// paramError is a query parameter the feed cannot use (400 INVALID_PARAMETER).
type paramError struct {
	param, reason string
}

func (e *paramError) Error() string { return fmt.Sprintf("query parameter %s: %s", e.param, e.reason) }

// maxFilterIDs bounds the ids one stream filter may list (there are 400 constituencies
// and 77 provinces).
const maxFilterIDs = 500

// streamFilter selects the result and call events of some constituencies or provinces;
// estimate, national call and reset events always pass. An empty filter passes everything.
type streamFilter struct {
	constituencies map[string]bool
	provinces      map[string]bool
}

func (f streamFilter) empty() bool { return len(f.constituencies) == 0 && len(f.provinces) == 0 }

func (f streamFilter) match(ev *Event) bool {
	if ev.ConstituencyID == "" || f.empty() {
		return true
	}
	return f.constituencies[ev.ConstituencyID] || f.provinces[ev.ProvinceID]
}

// splitIDs collects the ids of a repeated, comma-separated parameter.
func splitIDs(q url.Values, param string, known func(string) bool) (map[string]bool, error) {
	var out map[string]bool
	for _, v := range q[param] {
		for _, id := range strings.Split(v, ",") {
			id = strings.TrimSpace(id)
			switch {
			case id == "":
				return nil, &paramError{param, "empty id"}
			case !known(id):
				return nil, &paramError{param, fmt.Sprintf("unknown id %q", truncate(id, 40))}
			}
			if out == nil {
				out = map[string]bool{}
			}
			out[id] = true
			if len(out) > maxFilterIDs {
				return nil, &paramError{param, fmt.Sprintf("more than %d ids", maxFilterIDs)}
			}
		}
	}
	return out, nil
}

// parseStreamFilter reads ?constituency=ID[,ID...]&province=ID[,ID...] (each may repeat).
func parseStreamFilter(q url.Values, c *election.Country) (streamFilter, error) {
	var f streamFilter
	var err error
	if f.constituencies, err = splitIDs(q, "constituency", func(id string) bool { _, ok := c.Constituency(id); return ok }); err != nil {
		return streamFilter{}, err
	}
	if f.provinces, err = splitIDs(q, "province", func(id string) bool { _, ok := c.Province(id); return ok }); err != nil {
		return streamFilter{}, err
	}
	return f, nil
}

// parseProvince reads the optional ?province=ID of the constituency list.
func parseProvince(q url.Values, c *election.Country) (string, error) {
	vs := q["province"]
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", &paramError{"province", "given more than once"}
	}
	id := strings.TrimSpace(vs[0])
	if _, ok := c.Province(id); !ok {
		return "", &paramError{"province", fmt.Sprintf("unknown id %q", truncate(id, 40))}
	}
	return id, nil
}

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence, for error
// messages that quote a client's input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
