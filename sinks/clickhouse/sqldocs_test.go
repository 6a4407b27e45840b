package clickhouse_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/provision"
	"votestream/simulate"
	sink "votestream/sinks/clickhouse"
)

// sqlNight is a simulated night as the sink writes it into the main database: the small
// country's reference, two versions of every station's results (a tally-board count, then
// the final form; every 25th station disputed), a few anomalies, and two estimator runs.
type sqlNight struct {
	country   *election.Country
	current   map[string]schemas.StationResult // "station/ballot" -> newest version
	updatedAt []time.Time                      // of every version written
}

var bkk = election.Bangkok

func loadSQLNight(t *testing.T, ctx context.Context, conn driver.Conn) *sqlNight {
	t.Helper()
	sim, err := simulate.Generate(simulate.SmallConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	c := sim.Country
	if err := sink.LoadReference(ctx, conn, c); err != nil {
		t.Fatal(err)
	}
	n := &sqlNight{country: c, current: map[string]schemas.StationResult{}}
	byTable := map[string]*chtable.Rows{}
	add := func(msg any) {
		rs, err := chtable.MessageRows(msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if byTable[r.Table.Name] == nil {
				byTable[r.Table.Name] = &chtable.Rows{Table: r.Table}
			}
			byTable[r.Table.Name].Rows = append(byTable[r.Table.Name].Rows, r.Rows...)
		}
	}
	pollsClose := time.Date(2023, 5, 14, 17, 0, 0, 0, bkk)
	for i, st := range c.Stations {
		for _, b := range election.Ballots {
			tally := sim.Truth.Tally(i, b)
			votes := map[string]int{}
			for no, v := range tally.Votes {
				votes[strconv.Itoa(no)] = v
			}
			progress := map[string]int{}
			for no, v := range votes {
				progress[no] = v / 2
			}
			first := pollsClose.Add(time.Duration(20+i%90) * time.Minute)
			sources := []schemas.Source{{SubmissionID: "s-" + st.ID, VolunteerID: "v-" + st.ID, Org: "ilaw", Stage: schemas.StageFinal, Hash: "sha256:00"}}
			v1 := schemas.StationResult{StationID: st.ID, ConstituencyID: st.ConstituencyID, Ballot: string(b), Version: 1,
				Status: schemas.StatusProvisional, Stage: schemas.StageProgress, BallotsCast: tally.BallotsCast / 2, Votes: progress,
				Sources: sources, CountedAt: first, UpdatedAt: first}
			v2 := v1
			v2.Version, v2.Stage, v2.Status, v2.Votes = 2, schemas.StageFinal, schemas.StatusCorroborated, votes
			v2.BallotsCast, v2.Invalid, v2.NoVote = tally.BallotsCast, tally.Invalid, tally.NoVote
			v2.UpdatedAt = first.Add(time.Duration(60+i%60) * time.Minute)
			v2.Sources = append(sources, schemas.Source{SubmissionID: "s2-" + st.ID, VolunteerID: "v2-" + st.ID, Org: "we-watch", Stage: schemas.StageFinal, Hash: "sha256:01"})
			if i%25 == 0 {
				v2.Status = schemas.StatusDisputed
				add(schemas.Anomaly{AnomalyID: "a-" + st.ID + string(b), Code: schemas.AnomalyTurnoutOutlier, Severity: schemas.SeveritySoft,
					StationID: st.ID, ConstituencyID: st.ConstituencyID, Ballot: string(b), VolunteerID: "v-" + st.ID,
					Message: "named poll worker", DetectedAt: v2.UpdatedAt})
			}
			add(v1)
			add(v2)
			n.current[st.ID+"/"+string(b)] = v2
			n.updatedAt = append(n.updatedAt, v1.UpdatedAt, v2.UpdatedAt)
		}
	}
	for k, at := range []time.Time{time.Date(2023, 5, 14, 18, 30, 0, 0, bkk), time.Date(2023, 5, 14, 20, 30, 0, 0, bkk)} {
		add(n.estimate(k, at))
	}
	names := make([]string, 0, len(byTable))
	for name := range byTable {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rs := byTable[name]
		batch, err := conn.PrepareBatch(ctx, rs.Table.InsertQuery(""))
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rs.Rows {
			if err := batch.Append(row...); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return n
}

// estimate is an estimator run over the counted votes (shares of the counted party-list
// votes with a made-up interval): what matters here is its shape, not its statistics.
func (n *sqlNight) estimate(k int, at time.Time) schemas.Estimate {
	e := schemas.Estimate{EstimateID: fmt.Sprintf("e-%d", k), DataTime: at, ComputedAt: at.Add(5 * time.Second),
		StationsTotal: len(n.country.Stations), SharesState: schemas.StateEstimate}
	party := map[int]int64{}
	var total int64
	cand := map[string]map[int]int64{}
	for _, sr := range n.current {
		if sr.Status == schemas.StatusDisputed {
			continue
		}
		for no, v := range sr.Votes {
			num, _ := strconv.Atoi(no)
			if sr.Ballot == string(election.BallotPartyList) {
				party[num] += int64(v)
				total += int64(v)
			} else {
				if cand[sr.ConstituencyID] == nil {
					cand[sr.ConstituencyID] = map[int]int64{}
				}
				cand[sr.ConstituencyID][num] += int64(v)
			}
		}
	}
	for _, p := range n.country.Parties {
		s := float64(party[p.No]) / float64(total) * (1 + 0.01*float64(k))
		e.Parties = append(e.Parties, schemas.PartyEstimate{PartyNo: p.No, CountedVotes: party[p.No], ProjectedVotes: party[p.No] * 2,
			Share: s, ShareLo: max(0, s-0.01), ShareHi: min(1, s+0.01)})
	}
	for i, c := range n.country.Constituencies {
		ce := schemas.ConstituencyEstimate{ConstituencyID: c.ID, Call: schemas.CallLeading, WinProbability: 0.5 + float64(i)/40}
		for no := 1; no <= len(cand[c.ID])+1; no++ {
			v, ok := cand[c.ID][no]
			if !ok {
				continue
			}
			ce.Candidates = append(ce.Candidates, schemas.CandidateEstimate{CandidateNo: no, CountedVotes: v, ProjectedVotes: 2 * v})
			if ce.LeaderNo == 0 || v > cand[c.ID][ce.LeaderNo] {
				ce.LeaderNo = no
			}
		}
		if i%3 == 0 {
			ce.Call = schemas.CallCalled
		}
		e.Constituencies = append(e.Constituencies, ce)
	}
	return e
}

var cookbookRE = regexp.MustCompile("(?s)```sql\n(-- cookbook: ([a-z-]+)\n.*?)```")

// TestSQLCookbook runs every query of docs/sql.md's cookbook against the public database
// of a real ClickHouse loaded with a simulated night, reading only that database, and
// checks what each returns against the night as written.
func TestSQLCookbook(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "sql.md"))
	if err != nil {
		t.Fatal(err)
	}
	queries := cookbookRE.FindAllStringSubmatch(string(doc), -1)
	if len(queries) < 8 {
		t.Fatalf("%d cookbook queries in docs/sql.md, want the 8 it documents", len(queries))
	}
	env := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database); err != nil {
		t.Fatal(err)
	}
	night := loadSQLNight(t, ctx, env.Conn)
	opts := env.Options()
	opts.Auth.Database = schemas.PublicDatabase(env.Database)
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Go's own count of the night, to hold the answers against.
	reported := map[string]int{} // province -> party-list stations not disputed
	leader := map[string]int64{} // constituency -> leading candidate's counted votes
	candVotes := map[string]map[string]int64{}
	for _, sr := range night.current {
		if sr.Status == schemas.StatusDisputed {
			continue
		}
		if sr.Ballot == string(election.BallotPartyList) {
			c, _ := night.country.Constituency(sr.ConstituencyID)
			reported[c.ProvinceID]++
			continue
		}
		if candVotes[sr.ConstituencyID] == nil {
			candVotes[sr.ConstituencyID] = map[string]int64{}
		}
		for no, v := range sr.Votes {
			candVotes[sr.ConstituencyID][no] += int64(v)
		}
	}
	for cid, m := range candVotes {
		for _, v := range m {
			leader[cid] = max(leader[cid], v)
		}
	}
	changedSince := map[string]bool{}
	since := time.Date(2023, 5, 14, 19, 0, 0, 0, bkk)
	for key, sr := range night.current {
		if sr.UpdatedAt.After(since) {
			changedSince[key] = true
		}
	}

	for _, q := range queries {
		name, sql := q[2], q[1]
		t.Run(name, func(t *testing.T) {
			rows := queryMaps(t, ctx, conn, sql)
			if len(rows) == 0 {
				t.Fatalf("no rows:\n%s", sql)
			}
			switch name {
			case "national-shares":
				if len(rows) != len(night.country.Parties) || rows[0]["shares_state"] != "estimate" || rows[0]["name_th"] == "" {
					t.Errorf("%d parties (want %d), first %v", len(rows), len(night.country.Parties), rows[0])
				}
			case "national-trend":
				if len(rows) != 6 { // 3 parties x 2 runs
					t.Errorf("%d rows, want 6: %v", len(rows), rows)
				}
			case "constituency-leaders":
				if len(rows) != len(night.country.Constituencies) {
					t.Errorf("%d constituencies, want %d", len(rows), len(night.country.Constituencies))
				}
				for _, r := range rows {
					if r["leader_votes"] != fmt.Sprint(leader[r["constituency_id"]]) || r["name"] == "" {
						t.Errorf("%v: want leader_votes %d", r, leader[r["constituency_id"]])
					}
				}
			case "close-races":
				for _, r := range rows {
					if r["call"] == string(schemas.CallCalled) {
						t.Errorf("a called race: %v", r)
					}
				}
			case "turnout-by-province":
				for _, r := range rows {
					tu, _ := strconv.ParseFloat(r["turnout"], 64)
					if r["stations_reported"] != strconv.Itoa(reported[r["province_id"]]) || !(tu > 0 && tu <= 1) {
						t.Errorf("%v: want %d stations reported, a turnout in (0, 1]", r, reported[r["province_id"]])
					}
				}
				if len(rows) != len(reported) {
					t.Errorf("%d provinces, want %d", len(rows), len(reported))
				}
			case "anomalies-by-province":
				total := 0
				for _, r := range rows {
					k, _ := strconv.Atoi(r["anomalies"])
					total += k
				}
				if want := 2 * ((len(night.country.Stations) + 24) / 25); total != want {
					t.Errorf("%d anomalies, want %d", total, want)
				}
			case "changed-since":
				if len(rows) != len(changedSince) {
					t.Errorf("%d changed, want %d", len(rows), len(changedSince))
				}
			case "station-history":
				if len(rows) != 4 { // two versions on each ballot
					t.Errorf("%d versions, want 4: %v", len(rows), rows)
				}
			default:
				t.Errorf("no check for cookbook query %q: add one", name)
			}
		})
	}
}

// queryMaps runs q and returns its rows as column -> printed value.
func queryMaps(t *testing.T, ctx context.Context, conn driver.Conn, q string) []map[string]string {
	t.Helper()
	rows, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []map[string]string
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for i, ct := range types {
			m[ct.Name()] = fmt.Sprint(reflect.ValueOf(vals[i]).Elem().Interface())
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
