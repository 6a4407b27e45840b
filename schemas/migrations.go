package schemas

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed clickhouse/*.sql
var clickhouseFiles embed.FS

// Migration is one ClickHouse DDL file of schemas/clickhouse, applied once and in order by
// provision.MigrateClickHouse.
//
// File rules: the name is NNNN_words.sql (NNNN its version, from 0001, no gaps); every
// statement ends with ';' at the end of a line and no ';' ends a line inside a statement;
// lines starting with "--" are comments; "{db}" stands for the target database and
// "{public}" for its newsrooms' database (PublicDatabase); every
// statement is idempotent (CREATE ... IF NOT EXISTS), so a file that failed half-way can be
// run again. A file never changes once released: its checksum is recorded and compared.
type Migration struct {
	Version  int
	Name     string // file name, e.g. "0003_station_results.sql"
	SQL      string // file text
	Checksum string // "sha256:<hex>" of the file text
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// ClickHouseMigrations returns the embedded migrations in version order. An error means the
// embedded files break the rules above (a test guards against it).
func ClickHouseMigrations() ([]Migration, error) {
	entries, err := clickhouseFiles.ReadDir("clickhouse")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("schemas: clickhouse/%s: name is not NNNN_words.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := clickhouseFiles.ReadFile("clickhouse/" + e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b), Checksum: "sha256:" + hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("schemas: clickhouse/%s: version %d, want %d (versions start at 1 without gaps or repeats)", m.Name, m.Version, i+1)
		}
		if _, err := m.Statements("db"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// PublicDatabase names the database of what newsrooms may read beside database: its
// name and "_public" (schemas/clickhouse/0010_public.sql, docs/sql.md).
func PublicDatabase(database string) string { return database + "_public" }

// ValidDatabaseName reports whether name is a plain ClickHouse identifier, the only kind
// of database name the migrations accept.
func ValidDatabaseName(name string) bool { return databaseName.MatchString(name) }

// Statements splits the file into its statements, with {db} and {public} replaced by the
// quoted names of database and its public database, and without the final ';'.
func (m Migration) Statements(database string) ([]string, error) {
	if !ValidDatabaseName(database) || !ValidDatabaseName(PublicDatabase(database)) {
		return nil, fmt.Errorf("schemas: database name %q: want letters, digits and _ (at most 57)", database)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(m.SQL, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "--") || (t == "" && cur.Len() == 0) {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			stmt = strings.ReplaceAll(stmt, "{public}", "`"+PublicDatabase(database)+"`")
			out = append(out, strings.ReplaceAll(stmt, "{db}", "`"+database+"`"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		return nil, fmt.Errorf("schemas: clickhouse/%s: text after the last ';'", m.Name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("schemas: clickhouse/%s: no statement", m.Name)
	}
	return out, nil
}
