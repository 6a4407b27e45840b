package provision_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/provision"
)

// TestClusterStatementsForEveryMigration: every statement of every migration has a cluster
// form; each table's is a Replicated engine at its own Keeper path, created ON CLUSTER.
func TestClusterStatementsForEveryMigration(t *testing.T) {
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	tables := 0
	for _, m := range ms {
		plain, err := m.Statements("vs")
		if err != nil {
			t.Fatal(err)
		}
		cluster, err := m.ClusterStatements("vs", "night")
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range cluster {
			switch {
			case strings.HasPrefix(plain[i], "INSERT INTO "):
				if s != plain[i] {
					t.Errorf("%s statement %d: a backfill changed for the cluster:\n%s", m.Name, i+1, s)
				}
			case !strings.Contains(s, " ON CLUSTER `night` ") && !strings.HasSuffix(s, " ON CLUSTER `night`"):
				t.Errorf("%s statement %d: not ON CLUSTER:\n%s", m.Name, i+1, s)
			case strings.HasPrefix(s, "CREATE TABLE "):
				tables++
				start := strings.Index(s, "('/clickhouse/tables/{shard}/vs")
				if !strings.Contains(s, "ENGINE = Replicated") || start < 0 {
					t.Errorf("%s statement %d: not a Replicated table:\n%s", m.Name, i+1, s)
					continue
				}
				path, _, _ := strings.Cut(s[start+2:], "'")
				if paths[path] {
					t.Errorf("%s statement %d: Keeper path %s used twice", m.Name, i+1, path)
				}
				paths[path] = true
			}
		}
	}
	if tables < 30 {
		t.Errorf("%d tables converted, want every table of the migrations", tables)
	}
	for _, bad := range []string{"DROP TABLE `vs`.x", "ALTER TABLE `vs`.x ADD COLUMN y String", "CREATE TABLE `vs`.x (a String) ENGINE = MergeTree ORDER BY a"} {
		if s, err := schemas.ClusterStatement(bad, "night"); err == nil {
			t.Errorf("ClusterStatement(%q) = %q, want an error (no cluster form)", bad, s)
		}
	}
	if _, err := schemas.ClusterStatement("CREATE DATABASE IF NOT EXISTS `vs`", "night; DROP"); err == nil {
		t.Error("a cluster name that is not an identifier was accepted")
	}
}

// TestMigrateClickHouseCluster creates the whole schema Replicated, ON CLUSTER, on a real
// two-replica cluster (a ZooKeeper and two ClickHouse servers of the test's own): both
// replicas get the same tables and views as a single server does, every table replicates
// (a row inserted on one replica, through its materialized view into the newsrooms'
// database, is read on the other), and the migrations' record is replicated too (a second
// run on the other replica applies nothing).
func TestMigrateClickHouseCluster(t *testing.T) {
	single := testenv.ClickHouse(t)
	c := testenv.OwnClickHouseCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r1, r2 := c.Conn(t, 0), c.Conn(t, 1)
	const db = "vs_cluster"

	began := time.Now()
	applied, err := provision.MigrateClickHouseCluster(ctx, r1, db, c.Name)
	if err != nil {
		t.Fatalf("migrate on the cluster: %v\n%s", err, c.LogTail(0))
	}
	t.Logf("cluster: %d migrations applied ON CLUSTER in %s", len(applied), time.Since(began).Round(time.Millisecond))
	if want := migrationNames(t); !slices.Equal(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	if _, err := provision.MigrateClickHouse(ctx, single.Conn, single.Database); err != nil {
		t.Fatal(err)
	}

	// The same objects as on one server, each MergeTree table Replicated, on both replicas.
	objects := func(conn driver.Conn, db string) []string {
		var out []string
		for _, r := range queryStrings(t, conn, fmt.Sprintf(
			"SELECT concat(replaceOne(database, '%[1]s', 'DB'), '.', name, ' ', engine) FROM system.tables WHERE database IN ('%[1]s', '%[1]s_public') ORDER BY database, name", db)) {
			out = append(out, strings.Replace(r, " Replicated", " ", 1))
		}
		return out
	}
	want := objects(single.Conn, single.Database)
	for i, conn := range []driver.Conn{r1, r2} {
		if got := objects(conn, db); !slices.Equal(got, want) {
			t.Errorf("replica %d: tables and views\n%v\nwant as on one server\n%v", i+1, got, want)
		}
	}
	plainTables := queryStrings(t, r2, fmt.Sprintf("SELECT name FROM system.tables WHERE database IN ('%[1]s', '%[1]s_public') AND engine LIKE '%%MergeTree' AND engine NOT LIKE 'Replicated%%'", db))
	if len(plainTables) != 0 {
		t.Errorf("replica 2: tables not replicated: %v", plainTables)
	}
	replicas := queryStrings(t, r2, fmt.Sprintf("SELECT concat(database, '.', table, ' ', toString(is_readonly)) FROM system.replicas WHERE database IN ('%[1]s', '%[1]s_public') ORDER BY database, table", db))
	tables := queryStrings(t, r2, fmt.Sprintf("SELECT concat(database, '.', name, ' 0') FROM system.tables WHERE database IN ('%[1]s', '%[1]s_public') AND engine LIKE 'Replicated%%' ORDER BY database, name", db))
	if len(tables) < 30 || !slices.Equal(replicas, tables) {
		t.Errorf("replica 2: system.replicas\n%v\nwant every Replicated table, writable\n%v", replicas, tables)
	}

	// A row written on replica 1 reaches replica 2, in the table and through the
	// materialized view in the newsrooms' database.
	b, err := r1.PrepareBatch(ctx, "INSERT INTO `"+db+"`.provinces (province_id, name_th, name_en, region, loaded_at)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("P99", "จังหวัดทดสอบ", "Test", "central", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatalf("insert on replica 1: %v", err)
	}
	t.Logf("cluster: schema created and a row written on replica 1 after %s", time.Since(began).Round(time.Millisecond))
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(200 * time.Millisecond) // polling another server's replication queue
	defer tick.Stop()
	for {
		got := queryStrings(t, r2, "SELECT concat(province_id, ' ', name_th) FROM `"+db+"_public`.provinces")
		if slices.Equal(got, []string{"P99 จังหวัดทดสอบ"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica 2's public provinces after a minute: %v, want the row written on replica 1", got)
		}
		<-tick.C
	}
	t.Logf("cluster: the row read on replica 2 after %s", time.Since(began).Round(time.Millisecond))

	if again, err := provision.MigrateClickHouseCluster(ctx, r2, db, c.Name); err != nil || len(again) != 0 {
		t.Errorf("second migration on replica 2: applied %v, %v; want nothing (the record is replicated)", again, err)
	}
}
