package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/internal/newsroomsql"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/provision"
	"votestream/sinks/feed"
)

// TestFeedNewsroomOnClickHouse adds a newsroom with `feed newsroom add` on a ClickHouse
// 18.16 server of the test's own (started by scripts/services; users.d is its own, so the
// shared server's users are never touched) before polls close, finds it (and the shared
// newsroom user) refused the public database until the embargo lifts, then reading the
// public copies of rows inserted into the main database but refused the main database
// (volunteer tables), running into its row limit and its hourly quota, and gone after
// `feed newsroom revoke`, its API key with it.
func TestFeedNewsroomOnClickHouse(t *testing.T) {
	ch := testenv.OwnClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const db = "votestream" // the database the shared newsroom user of scripts/services is granted
	public := schemas.PublicDatabase(db)
	if _, err := provision.MigrateClickHouse(ctx, ch.Conn, db); err != nil {
		t.Fatal(err)
	}
	admin := func(q string) {
		t.Helper()
		if err := ch.Conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	admin("CREATE TABLE " + public + ".filler ENGINE = MergeTree ORDER BY n AS SELECT number AS n FROM system.numbers LIMIT 50000")

	keys := filepath.Join(t.TempDir(), "newsroom-keys")
	nf := newsroomFlags{usersDir: ch.UsersDir(), database: db, limits: newsroomsql.DefaultLimits(), embargoed: true}
	nf.limits.MaxRowsToRead, nf.limits.QueriesPerHour = 20000, 30
	var out bytes.Buffer
	if err := runNewsroom(&out, keys, nf, []string{"add", "Nation TV"}); err != nil {
		t.Fatalf("newsroom add: %v", err)
	}
	user := regexp.MustCompile(`ClickHouse user:\s+(\S+)`).FindStringSubmatch(out.String())
	password := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out.String())
	key := regexp.MustCompile(`API key:\s+(\S+)`).FindStringSubmatch(out.String())
	if user == nil || password == nil || key == nil || user[1] != "newsroom_nation_tv" || !strings.Contains(out.String(), "reads database:   "+public) {
		t.Fatalf("newsroom add printed:\n%s", out.String())
	}
	if ks, err := feed.LoadKeys(keys); err != nil {
		t.Fatal(err)
	} else if nr, ok := ks.Newsroom(key[1]); !ok || nr != "Nation TV" {
		t.Fatalf("the printed key is not in the key file: %q %v", nr, ok)
	}
	if err := runNewsroom(&out, keys, nf, []string{"add", "Nation TV"}); !errors.Is(err, newsroomsql.ErrExists) {
		t.Fatalf("a second add of the same newsroom: %v", err)
	}
	// Before polls close: the shared user (written open by scripts/services) is put under
	// the embargo too.
	if n, err := newsroomsql.SetEmbargo(ch.UsersDir(), true); err != nil || n != 1 {
		t.Fatalf("embargo on the shared user: %d files changed, %v", n, err)
	}
	admin("SYSTEM RELOAD CONFIG") // what the server does by itself within seconds

	open := func(name, pw string) driver.Conn {
		t.Helper()
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr},
			Auth: clickhouse.Auth{Username: name, Password: pw}, DialTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	own, shared := open(user[1], password[1]), open("newsroom", "newsroom")
	succeeded := 0
	query := func(conn driver.Conn, q string) ([][]string, error) {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var got [][]string
		types := rows.ColumnTypes()
		for rows.Next() {
			vals := make([]any, len(types))
			for i, ct := range types {
				vals[i] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(vals...); err != nil {
				return nil, err
			}
			var row []string
			for _, v := range vals {
				row = append(row, fmt.Sprint(reflect.ValueOf(v).Elem().Interface()))
			}
			got = append(got, row)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		succeeded++
		return got, nil
	}
	code := func(err error) int32 {
		var e *clickhouse.Exception
		if errors.As(err, &e) {
			return e.Code
		}
		return -1
	}
	users := map[string]driver.Conn{"own": own, "shared": shared}
	for who, conn := range users {
		if _, err := query(conn, "SELECT * FROM "+public+".constituency_totals"); code(err) != 291 { // ACCESS_DENIED
			t.Fatalf("%s user before polls close: %v", who, err)
		}
	}

	// A night's rows arrive in the main database (as the sink writes them) and their public
	// copies in the public one.
	admin("INSERT INTO " + db + ".station_results (station_id, constituency_id, ballot, version, status, stage, ballots_cast, invalid, no_vote," +
		" vote_no, votes, source_submission_ids, source_volunteer_ids, source_orgs, source_stages, source_hashes, anomalies, decided_by, counted_at, updated_at)" +
		" SELECT 'BKK_1_001', 'BKK_1', 'constituency', 2, 'corroborated', 'final', 500, 10, 6, [1, 2], [300, 184], ['s1', 's2'], ['v-somchai', 'v-malee']," +
		" ['ilaw', 'we-watch'], ['final', 'final'], ['h1', 'h2'], ['TURNOUT_HIGH'], 'lead-17', toDateTime('2023-05-14 17:58:00', 'Asia/Bangkok'), toDateTime('2023-05-14 18:03:00', 'Asia/Bangkok')")
	admin("INSERT INTO " + db + ".anomalies SELECT 'a1', 'TURNOUT_HIGH', 'soft', 'BKK_1_001', 'BKK_1', 'constituency', 'v-somchai', ['s1']," +
		" 'poll worker Somchai added 40 ballots', ['turnout'], ['1.02'], toDateTime('2023-05-14 18:04:00', 'Asia/Bangkok')")

	// Polls close: the feed lifts the embargo on every newsroom user.
	if n, err := newsroomsql.SetEmbargo(ch.UsersDir(), false); err != nil || n != 2 {
		t.Fatalf("lifting the embargo: %d files changed, %v", n, err)
	}
	admin("SYSTEM RELOAD CONFIG")
	for who, conn := range users {
		got, err := query(conn, "SELECT station_id, ballot, version, status, ballots_cast, votes, sources, anomalies FROM "+public+".station_results_current")
		if err != nil {
			t.Fatalf("%s user after polls close: %v", who, err)
		}
		if want := "[[BKK_1_001 constituency 2 corroborated 500 [300 184] 2 [TURNOUT_HIGH]]]"; fmt.Sprint(got) != want {
			t.Errorf("%s user reads %v, want %s", who, got, want)
		}
		got, err = query(conn, "SELECT * FROM "+public+".anomalies")
		if err != nil || fmt.Sprint(got) != "[[a1 TURNOUT_HIGH soft BKK_1_001 BKK_1 constituency 2023-05-14 18:04:00 +0700 +07]]" {
			t.Errorf("%s user reads anomalies %v, %v", who, got, err)
		}
		for _, private := range []string{"station_results", "anomalies", "submissions", "roster", "station_coverage"} {
			if _, err := query(conn, "SELECT * FROM "+db+"."+private); code(err) != 291 {
				t.Errorf("%s user reading %s.%s: %v, want ACCESS_DENIED", who, db, private, err)
			}
		}
		for _, view := range []string{"constituency_totals", "constituency_votes", "estimate_latest", "estimate_parties_latest", "log_checkpoint_latest"} {
			if _, err := query(conn, "SELECT * FROM "+public+"."+view); err != nil {
				t.Errorf("%s user cannot read %s: %v", who, view, err)
			}
		}
	}
	succeeded = 0
	if _, err := query(own, "SELECT count() FROM "+public+".filler"); code(err) != 158 { // TOO_MANY_ROWS
		t.Fatalf("50,000 rows with a limit of 20,000: %v", err)
	}
	if err := own.Exec(ctx, "INSERT INTO "+public+".filler SELECT 1"); err == nil {
		t.Fatal("a read-only user inserted")
	}
	// The quota of 30 queries an hour (some spent above): no more than 30 succeed in all
	// (refused queries may or may not count, as ClickHouse decides), then QUOTA_EXPIRED.
	var err error
	for range 40 {
		if _, err = query(own, "SELECT 1"); err != nil {
			break
		}
	}
	t.Logf("quota of 30 queries an hour: %d more succeeded, then %v", succeeded, err)
	if code(err) != 201 {
		t.Fatalf("quota of 30: %d more queries succeeded, then %v", succeeded, err)
	}
	out.Reset()
	if err := runNewsroom(&out, keys, nf, []string{"revoke", "Nation TV"}); err != nil {
		t.Fatalf("newsroom revoke: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ch.UsersDir(), "newsroom-"+user[1]+".xml")); !os.IsNotExist(err) {
		t.Fatalf("the user's file is still there: %v", err)
	}
	if ks, err := feed.LoadKeys(keys); err != nil || ks.Len() != 0 {
		t.Fatalf("keys after revoke: %v %v", ks, err)
	}
	admin("SYSTEM RELOAD CONFIG")
	gone, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr},
		Auth: clickhouse.Auth{Username: user[1], Password: password[1]}, DialTimeout: 10 * time.Second})
	if err == nil {
		defer gone.Close()
		err = gone.Ping(ctx)
	}
	if err == nil || !strings.Contains(fmt.Sprint(err), user[1]) {
		t.Fatalf("the revoked user still logs in (or another error): %v", err)
	}
}
