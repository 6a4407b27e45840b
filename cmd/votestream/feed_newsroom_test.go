package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"votestream/internal/newsroomsql"
	"votestream/internal/testenv"
	"votestream/schemas/provision"
	"votestream/sinks/feed"
)

// TestFeedNewsroomOnClickHouse adds a newsroom with `feed newsroom add` on a ClickHouse
// 18.16 server of the test's own (started by scripts/services; users.d is its own, so the
// shared server's users are never touched), logs in as its user, reads the results views,
// is refused another database, runs into its row limit and its hourly quota, and is gone
// after `feed newsroom revoke`, its API key with it.
func TestFeedNewsroomOnClickHouse(t *testing.T) {
	ch := testenv.OwnClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := provision.MigrateClickHouse(ctx, ch.Conn, ch.Database); err != nil {
		t.Fatal(err)
	}
	admin := func(q string) {
		t.Helper()
		if err := ch.Conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	admin("CREATE TABLE " + ch.Database + ".filler ENGINE = MergeTree ORDER BY n AS SELECT number AS n FROM system.numbers LIMIT 5000")
	warroom := ch.Database + "_warroom"
	admin("CREATE DATABASE " + warroom)
	defer func() { _ = ch.Conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+warroom) }()
	admin("CREATE TABLE " + warroom + ".volunteers ENGINE = MergeTree ORDER BY id AS SELECT toString(number) AS id FROM system.numbers LIMIT 3")

	keys := filepath.Join(t.TempDir(), "newsroom-keys")
	nf := newsroomFlags{usersDir: ch.UsersDir(), database: ch.Database, limits: newsroomsql.DefaultLimits()}
	nf.limits.MaxRowsToRead, nf.limits.QueriesPerHour = 1000, 8
	var out bytes.Buffer
	if err := runNewsroom(&out, keys, nf, []string{"add", "Nation TV"}); err != nil {
		t.Fatalf("newsroom add: %v", err)
	}
	user := regexp.MustCompile(`ClickHouse user:\s+(\S+)`).FindStringSubmatch(out.String())
	password := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out.String())
	key := regexp.MustCompile(`API key:\s+(\S+)`).FindStringSubmatch(out.String())
	if user == nil || password == nil || key == nil || user[1] != "newsroom_nation_tv" {
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
	admin("SYSTEM RELOAD CONFIG") // what the server does by itself within seconds

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr},
		Auth: clickhouse.Auth{Database: ch.Database, Username: user[1], Password: password[1]}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	succeeded := 0
	query := func(q string) error {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			return err
		}
		succeeded++
		return nil
	}
	code := func(err error) int32 {
		var e *clickhouse.Exception
		if errors.As(err, &e) {
			return e.Code
		}
		return -1
	}
	for _, view := range []string{"station_results_current", "constituency_totals", "estimate_latest"} {
		if err := query("SELECT * FROM " + view); err != nil {
			t.Fatalf("the newsroom cannot read %s: %v", view, err)
		}
	}
	if err := query("SELECT * FROM " + warroom + ".volunteers"); code(err) != 291 { // ACCESS_DENIED
		t.Fatalf("another database: %v", err)
	}
	if err := query("SELECT count() FROM filler"); code(err) != 158 { // TOO_MANY_ROWS
		t.Fatalf("5,000 rows with a limit of 1,000: %v", err)
	}
	if err := query("INSERT INTO filler VALUES (1)"); err == nil {
		t.Fatal("a read-only user inserted")
	}
	// The quota of 8 queries an hour: no more than 8 succeed in all (refused queries may
	// or may not count, as ClickHouse decides), then QUOTA_EXPIRED.
	for range 20 {
		if err = query("SELECT 1"); err != nil {
			break
		}
	}
	t.Logf("quota of 8 queries an hour: %d succeeded, then %v", succeeded, err)
	if code(err) != 201 || succeeded > 8 {
		t.Fatalf("quota of 8: %d queries succeeded, then %v", succeeded, err)
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
		Auth: clickhouse.Auth{Database: ch.Database, Username: user[1], Password: password[1]}, DialTimeout: 10 * time.Second})
	if err == nil {
		defer gone.Close()
		err = gone.Ping(ctx)
	}
	if err == nil || !strings.Contains(fmt.Sprint(err), user[1]) {
		t.Fatalf("the revoked user still logs in (or another error): %v", err)
	}
}
