package plugin

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"votestream/dashboards/live"
)

// A stream's channel is ds/<data source uid>/<path>, and the path is the query: Grafana
// starts one RunStream per channel, shared by every panel subscribed to it, and hands the
// plugin only the path. A path is the query type, then each parameter that is set as
// /name=value in a fixed order. Values outside Grafana's channel alphabet (a Thai
// constituency id) travel hex-encoded as /name.hex=<hex of the UTF-8>.

// maxChannel is Grafana Live's limit on a whole channel id (live.ParseChannel).
const maxChannel = 160

var (
	plainValue = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	hexValue   = regexp.MustCompile(`^[0-9a-f]+$`)
)

// params lists a query's parameters in path order, with their values ("" when unset).
func params(q live.Query) [][2]string {
	top := ""
	if q.Top != 0 {
		top = strconv.Itoa(q.Top)
	}
	return [][2]string{
		{"top", top}, {"groupBy", string(q.GroupBy)}, {"code", q.Code},
		{"severity", q.Severity}, {"constituency", q.Constituency}, {"call", q.Call},
	}
}

// StreamPath is the channel path of a checked query.
func StreamPath(q live.Query) string {
	var b strings.Builder
	b.WriteString(string(q.QueryType))
	for _, p := range params(q) {
		switch {
		case p[1] == "":
		case plainValue.MatchString(p[1]):
			b.WriteString("/" + p[0] + "=" + p[1])
		default:
			b.WriteString("/" + p[0] + ".hex=" + hex.EncodeToString([]byte(p[1])))
		}
	}
	return b.String()
}

// ParseStreamPath reads a channel path back into a checked query. Anything a browser can
// put in a channel reaches it, so every malformed path is an error wrapping live.ErrQuery.
func ParseStreamPath(path string) (live.Query, error) {
	parts := strings.Split(path, "/")
	q := live.Query{QueryType: live.QueryType(parts[0])}
	order := params(live.Query{})
	next := 0 // parameters come in path order, each at most once: one query, one path
	for _, part := range parts[1:] {
		name, value, ok := strings.Cut(part, "=")
		if !ok || value == "" {
			return live.Query{}, fmt.Errorf("%w: path part %q is not name=value", live.ErrQuery, part)
		}
		if base, isHex := strings.CutSuffix(name, ".hex"); isHex {
			raw, err := hex.DecodeString(value)
			if err != nil || !hexValue.MatchString(value) || plainValue.Match(raw) {
				return live.Query{}, fmt.Errorf("%w: path part %q: not the hex form of a value that needs it", live.ErrQuery, part)
			}
			name, value = base, string(raw)
		} else if !plainValue.MatchString(value) {
			return live.Query{}, fmt.Errorf("%w: path part %q: value out of the channel alphabet", live.ErrQuery, part)
		}
		i := next
		for i < len(order) && order[i][0] != name {
			i++
		}
		if i == len(order) {
			return live.Query{}, fmt.Errorf("%w: path part %q: unknown, repeated or out of order", live.ErrQuery, part)
		}
		next = i + 1
		switch name {
		case "top":
			n, err := strconv.Atoi(value)
			if err != nil || strconv.Itoa(n) != value || n == 0 {
				return live.Query{}, fmt.Errorf("%w: top %q", live.ErrQuery, value)
			}
			q.Top = n
		case "groupBy":
			q.GroupBy = live.GroupBy(value)
		case "code":
			q.Code = value
		case "severity":
			q.Severity = value
		case "constituency":
			q.Constituency = value
		case "call":
			q.Call = value
		}
	}
	if err := q.Check(); err != nil {
		return live.Query{}, err
	}
	if StreamPath(q) != path {
		// Defaults filled by Check (groupBy) must be spelt out: one query, one channel.
		return live.Query{}, fmt.Errorf("%w: path %q is not the canonical %q", live.ErrQuery, path, StreamPath(q))
	}
	return q, nil
}
