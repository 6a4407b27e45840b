package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"votestream/internal/testenv"
)

// TestNewsroomSystemTablesOn1816 signs in as the shared newsroom user of scripts/services'
// ClickHouse 18.16 while the war room's user runs a query holding a marker, and records what
// docs/sql.md ("Other users' queries") says of that server: the newsroom user reads the war
// room's query, text included, in system.processes (18.16 lets every user read the system
// database, whatever allow_databases says, and has no grant to withhold it), and
// system.query_log does not exist (the server logs no queries). Should either change (a
// newer server, query logging switched on), this fails and the page must be revised.
func TestNewsroomSystemTablesOn1816(t *testing.T) {
	ch := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var version string
	if err := ch.Conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, "18.16.") {
		t.Fatalf("server %s: this test records what ClickHouse 18.16 shows (scripts/services); revise docs/sql.md for this release", version)
	}
	// scripts/services' shared newsroom user (users.d/newsroom.xml there).
	opts := ch.Options()
	opts.Auth = clickhouse.Auth{Username: "newsroom", Password: "newsroom", Database: "system"}
	newsroom, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer newsroom.Close()

	var raw [6]byte
	_, _ = rand.Read(raw[:])
	marker := "vol-marker-" + hex.EncodeToString(raw[:])
	warCtx, stopWar := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWar()
	wg.Go(func() {
		// About 3 s (18.16's most per block), with a volunteer-like literal in its text.
		_ = ch.Conn.Exec(warCtx, "SELECT sleepEachRow(0.1), '"+marker+"' FROM numbers(29) FORMAT Null")
	})
	seen := func() bool {
		var n uint64
		err := newsroom.QueryRow(ctx, "SELECT count() FROM system.processes WHERE user != 'newsroom' AND query LIKE '%"+marker+"%'").Scan(&n)
		if err != nil {
			t.Fatalf("the newsroom user reading system.processes: %v", err)
		}
		return n > 0
	}
	testenv.WaitFor(t, "the war room's query in system.processes, as the newsroom user reads it", 20*time.Second, seen)

	var n uint64
	err = newsroom.QueryRow(ctx, "SELECT count() FROM system.query_log").Scan(&n)
	if err == nil || !strings.Contains(err.Error(), "doesn't exist") {
		t.Errorf("system.query_log as the newsroom user: %v (%d rows); docs/sql.md says it does not exist here", err, n)
	}
}
