package live

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		q    Query
		want string // in the error; "" = valid
	}{
		{Query{QueryType: Shares, Top: 8}, ""},
		{Query{QueryType: Anomalies, Code: "ARITH", Severity: "hard", Constituency: "C1"}, ""},
		{Query{QueryType: Constituencies, Call: "called"}, ""},
		{Query{QueryType: "votes"}, `unknown queryType "votes"`},
		{Query{}, `unknown queryType ""`},
		{Query{QueryType: Seats, Top: 3}, "seats does not take top"},
		{Query{QueryType: Parties, Constituency: "C1"}, "parties does not take constituency"},
		{Query{QueryType: Shares, Top: -1}, "top -1 out of 0..1000"},
		{Query{QueryType: Shares, Top: MaxTop + 1}, "top 1001 out of"},
		{Query{QueryType: AnomalyCounts, GroupBy: "ballot"}, `unknown groupBy "ballot"`},
		{Query{QueryType: Anomalies, Code: "arith"}, `unknown anomaly code "arith"`},
		{Query{QueryType: Anomalies, Severity: "fatal"}, `unknown severity "fatal"`},
		{Query{QueryType: Constituencies, Call: "won"}, `unknown call "won"`},
	} {
		q := tc.q
		err := q.Check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.q, err)
		case tc.want != "" && (!errors.Is(err, ErrQuery) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want ErrQuery with %q", tc.q, err, tc.want)
		}
	}
	// AnomalyCounts groups by code unless told.
	q := Query{QueryType: AnomalyCounts}
	if err := q.Check(); err != nil || q.GroupBy != ByCode {
		t.Errorf("anomaly_counts without groupBy: %v, groupBy %q; want code", err, q.GroupBy)
	}
	// Every parameter list names only parameters Check knows.
	for qt, ps := range Params {
		for _, p := range ps {
			if !strings.Contains("top groupBy code severity constituency call", p) {
				t.Errorf("%s takes unknown parameter %s", qt, p)
			}
		}
	}
}
