package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/internal/chquery"
	"votestream/schemas"
)

// Migration errors.
var (
	// ErrChecksumMismatch: a migration recorded as applied differs from the file this build
	// ships. Released files never change; add a new one instead.
	ErrChecksumMismatch = errors.New("provision: applied migration differs from its file")
	// ErrUnknownMigration: the database records a migration this build does not have (a
	// newer build migrated it).
	ErrUnknownMigration = errors.New("provision: database has a migration this build does not know")
	// ErrDatabaseName: the database name is not a plain identifier.
	ErrDatabaseName = errors.New("provision: bad database name")
)

// migrationsTable records what was applied. A plain MergeTree: two runs racing may both
// record a version, which is harmless since every statement is idempotent; the checksums
// of all rows of a version are compared.
const migrationsTable = `CREATE TABLE IF NOT EXISTS %s.schema_migrations (
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime('Asia/Bangkok')
) ENGINE = MergeTree
ORDER BY version`

// MigrateClickHouse brings database to the current schema: it creates the database if
// missing and a schema_migrations table in it, checks that every migration already
// recorded there matches the file this build ships, then applies the pending ones in order,
// recording each after all its statements succeeded. It returns the names of the files it
// applied: none on a second run. conn may be connected to any database.
//
// Run one migration at a time per database: ClickHouse has no transactions or locks. A run
// that stopped half-way is finished by the next one (every statement is idempotent).
func MigrateClickHouse(ctx context.Context, conn driver.Conn, database string) (applied []string, err error) {
	return MigrateClickHouseCluster(ctx, conn, database, "")
}

// MigrateClickHouseCluster is MigrateClickHouse on a replicated cluster named cluster (in
// the servers' remote_servers, with Keeper and the {shard} and {replica} macros): every
// CREATE runs ON CLUSTER and every table is Replicated (schemas.ClusterStatement), the
// backfills run once, here, and replicate. conn is any server of the cluster. An empty
// cluster is the single server of MigrateClickHouse.
func MigrateClickHouseCluster(ctx context.Context, conn driver.Conn, database, cluster string) (applied []string, err error) {
	if !schemas.ValidDatabaseName(database) {
		return nil, fmt.Errorf("%w: %q", ErrDatabaseName, database)
	}
	migrations, err := schemas.ClickHouseMigrations()
	if err != nil {
		return nil, err
	}
	db := "`" + database + "`"
	forCluster := func(stmt string) (string, error) {
		if cluster == "" {
			return stmt, nil
		}
		return schemas.ClusterStatement(stmt, cluster)
	}
	for _, s := range []struct{ what, sql string }{
		{"create database " + database, "CREATE DATABASE IF NOT EXISTS " + db},
		{"create " + database + ".schema_migrations", fmt.Sprintf(migrationsTable, db)},
	} {
		q, err := forCluster(s.sql)
		if err != nil {
			return nil, err
		}
		if err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("provision: %s: %w", s.what, err)
		}
	}
	done, err := recorded(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	byVersion := make(map[int]schemas.Migration, len(migrations))
	for _, m := range migrations {
		byVersion[m.Version] = m
	}
	for _, r := range done {
		m, ok := byVersion[int(r.version)]
		if !ok {
			return nil, fmt.Errorf("%w: %s.schema_migrations has version %d (%s)", ErrUnknownMigration, database, r.version, r.name)
		}
		if r.checksum != m.Checksum {
			return nil, fmt.Errorf("%w: %s was applied with checksum %s, the file now has %s", ErrChecksumMismatch, m.Name, r.checksum, m.Checksum)
		}
	}
	have := make(map[int]bool, len(done))
	for _, r := range done {
		have[int(r.version)] = true
	}
	for _, m := range migrations {
		if have[m.Version] {
			continue
		}
		stmts, err := m.Statements(database)
		if cluster != "" {
			stmts, err = m.ClusterStatements(database, cluster)
		}
		if err != nil {
			return applied, err
		}
		for i, s := range stmts {
			if err := conn.Exec(ctx, s); err != nil {
				return applied, fmt.Errorf("provision: %s statement %d (%s): %w", m.Name, i+1, firstLine(s), err)
			}
		}
		if err := record(ctx, conn, db, m); err != nil {
			return applied, err
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

type migrationRow struct {
	version  uint32
	name     string
	checksum string
}

func recorded(ctx context.Context, conn driver.Conn, db string) ([]migrationRow, error) {
	out, err := chquery.All(ctx, conn, func(rows driver.Rows) (migrationRow, error) {
		var r migrationRow
		err := rows.Scan(&r.version, &r.name, &r.checksum)
		return r, err
	}, "SELECT version, name, checksum FROM "+db+".schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("provision: read %s.schema_migrations: %w", db, err)
	}
	return out, nil
}

func record(ctx context.Context, conn driver.Conn, db string, m schemas.Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".schema_migrations (version, name, checksum, applied_at)")
	if err != nil {
		return fmt.Errorf("provision: record %s: %w", m.Name, err)
	}
	defer b.Close()
	if err := b.Append(uint32(m.Version), m.Name, m.Checksum, time.Now()); err != nil {
		return fmt.Errorf("provision: record %s: %w", m.Name, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("provision: record %s: %w", m.Name, err)
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// ClickHouseConfig says where `votestream migrate` finds ClickHouse.
type ClickHouseConfig struct {
	Addr        string        // host:port of the native protocol; default "127.0.0.1:9000"
	Database    string        // database to create and migrate; default "votestream"
	Cluster     string        // a replicated cluster's name (MigrateClickHouseCluster); default "": one server
	User        string        // default "default"
	Password    string        // default ""
	DialTimeout time.Duration // per connection attempt; default 10s
	Timeout     time.Duration // for the whole migration; default 2m
}

// DefaultClickHouseConfig returns the defaults documented on ClickHouseConfig.
func DefaultClickHouseConfig() ClickHouseConfig {
	return ClickHouseConfig{
		Addr:        "127.0.0.1:9000",
		Database:    "votestream",
		User:        "default",
		DialTimeout: 10 * time.Second,
		Timeout:     2 * time.Minute,
	}
}

// Validate reports a config that cannot work.
func (c ClickHouseConfig) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("provision: clickhouse address is empty")
	case !schemas.ValidDatabaseName(c.Database):
		return fmt.Errorf("%w: %q", ErrDatabaseName, c.Database)
	case c.DialTimeout <= 0 || c.Timeout <= 0:
		return errors.New("provision: clickhouse timeouts must be positive")
	}
	return nil
}

// MigrateClickHouseAt connects to the server of cfg (through its "default" database, since
// the target may not exist yet) and runs MigrateClickHouse on cfg.Database.
func MigrateClickHouseAt(ctx context.Context, cfg ClickHouseConfig) ([]string, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{cfg.Addr},
		Auth:        clickhouse.Auth{Database: "default", Username: cfg.User, Password: cfg.Password},
		DialTimeout: cfg.DialTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("provision: clickhouse %s: %w", cfg.Addr, err)
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		return nil, fmt.Errorf("provision: clickhouse %s: %w", cfg.Addr, err)
	}
	return MigrateClickHouseCluster(ctx, conn, cfg.Database, cfg.Cluster)
}
