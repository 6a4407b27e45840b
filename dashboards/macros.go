package dashboards

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Query is one panel's SQL, as the ClickHouse data source runs it against the votestream
// database (the data source's default database: table names are never qualified). The SQL
// runs on ClickHouse 18.16 and current releases: no window functions, DateTime64 or JSON.
//
// Grafana expands these, and only these, before the SQL reaches ClickHouse (Expand does the
// same for tests and for running the SQL by hand):
//
//   - $__timeFilter(column): the dashboard's time range, as the plugin writes it:
//     column >= toDateTime(<from, Unix s>) AND column <= toDateTime(<to, Unix s>).
//     Event panels (reports, anomalies, lag) use it; panels showing the current state
//     (statuses, estimates, disputed stations) ignore the time range on purpose.
//   - ${name:singlequote}: a dashboard variable as a quoted string literal; the only
//     variable is constituency on the constituency dashboard.
//
// The plugin's $__timeInterval is avoided: it expands to toStartOfInterval, which ClickHouse
// 18.16 does not have.
type Query struct {
	Name   string // stable identifier for tests and docs
	Title  string // the panel's title
	Format Format
	SQL    string
}

// TimeRange is the dashboard time range a query is expanded for.
type TimeRange struct {
	From, To time.Time
}

// ErrUnknownMacro: the SQL uses a macro or variable Expand does not know, or a variable
// without a value.
var ErrUnknownMacro = errors.New("dashboards: unknown macro or variable")

var (
	timeFilterRe = regexp.MustCompile(`\$__timeFilter\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)`)
	variableRe   = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*):singlequote\}`)
)

// Expand does what Grafana and the ClickHouse plugin do to a query before running it: it
// replaces the macros documented on Query for the time range r and the variable values
// vars. Any other $ in the SQL is an error wrapping ErrUnknownMacro, so a panel cannot
// reach Grafana with a macro that the tests did not exercise.
func Expand(sql string, r TimeRange, vars map[string]string) (string, error) {
	out := timeFilterRe.ReplaceAllString(sql, fmt.Sprintf("$1 >= toDateTime(%d) AND $1 <= toDateTime(%d)", r.From.Unix(), r.To.Unix()))
	var missing []string
	out = variableRe.ReplaceAllStringFunc(out, func(m string) string {
		name := variableRe.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		// Grafana's singlequote format escapes quotes only.
		return "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: no value for %s", ErrUnknownMacro, strings.Join(missing, ", "))
	}
	if i := strings.IndexByte(out, '$'); i >= 0 {
		end := min(i+30, len(out))
		return "", fmt.Errorf("%w: %q", ErrUnknownMacro, out[i:end])
	}
	return out, nil
}
