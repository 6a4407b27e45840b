package schemas_test

import (
	"regexp"
	"strings"
	"testing"

	"votestream/schemas"
)

func TestClickHouseMigrations(t *testing.T) {
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 6 {
		t.Fatalf("%d migrations, want at least the 6 of the first release", len(ms))
	}
	// Things ClickHouse 18.16 lacks or that need a setting there (DESIGN.md §5).
	forbidden := regexp.MustCompile(`(?i)\b(LowCardinality|DateTime64|JSON|Object\s*\(|OVER\s*\()|\{[a-z_]+:[A-Za-z]`)
	// CREATE ... IF NOT EXISTS, or the copy of existing rows into a public table (a re-run
	// repeats rows its ReplacingMergeTree folds away).
	idempotent := regexp.MustCompile(`^(CREATE (TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS ` + "`vs(_public)?`" + `\.|CREATE DATABASE IF NOT EXISTS ` + "`vs_public`" + `$|INSERT INTO ` + "`vs_public`" + `\.\w+ SELECT )`)
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("%s: version %d at position %d", m.Name, m.Version, i)
		}
		if !strings.HasPrefix(m.Checksum, "sha256:") || len(m.Checksum) != 71 {
			t.Errorf("%s: checksum %q", m.Name, m.Checksum)
		}
		stmts, err := m.Statements("vs")
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		for _, s := range stmts {
			if strings.Contains(s, "{db}") || strings.Contains(s, "{public}") || strings.HasSuffix(s, ";") {
				t.Errorf("%s: statement not finished: %.80s", m.Name, s)
			}
			if !idempotent.MatchString(s) {
				t.Errorf("%s: statement is not CREATE ... IF NOT EXISTS `vs`.name: %.80s", m.Name, s)
			}
			if loc := forbidden.FindString(s); loc != "" {
				t.Errorf("%s: %q is not for ClickHouse 18.16: %.80s", m.Name, loc, s)
			}
		}
	}
}

func TestMigrationStatements(t *testing.T) {
	m := schemas.Migration{Name: "0009_test.sql", SQL: `-- a comment; with a semicolon;
CREATE TABLE IF NOT EXISTS {db}.a (
    x UInt8 -- trailing comment
) ENGINE = MergeTree ORDER BY x;

-- another
CREATE VIEW IF NOT EXISTS {db}.b AS SELECT x FROM {db}.a;
`}
	got, err := m.Statements("elect_2023")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CREATE TABLE IF NOT EXISTS `elect_2023`.a (\n    x UInt8 -- trailing comment\n) ENGINE = MergeTree ORDER BY x",
		"CREATE VIEW IF NOT EXISTS `elect_2023`.b AS SELECT x FROM `elect_2023`.a",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	for _, bad := range []string{"", "1db", "a-b", "a`b", "x; DROP DATABASE y", strings.Repeat("a", 65)} {
		if _, err := m.Statements(bad); err == nil {
			t.Errorf("database name %q accepted", bad)
		}
	}
	unfinished := schemas.Migration{Name: "0010_x.sql", SQL: "CREATE TABLE IF NOT EXISTS {db}.a (x UInt8) ENGINE = Log"}
	if _, err := unfinished.Statements("db"); err == nil {
		t.Error("a statement without ';' accepted")
	}
}
