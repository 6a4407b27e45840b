package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"votestream/internal/newsroomsql"
)

// TestFeedNewsroomSQL: with --sql-embargo-role, `feed newsroom add` makes the newsroom's user
// by SQL (statements recorded here: no server with SQL access management runs on this
// machine) and its API key; a failure after the user was made drops it and appends no key;
// revoke drops the user and the keys.
func TestFeedNewsroomSQL(t *testing.T) {
	var stmts []string
	failOn := ""
	nf := newsroomFlags{database: "votestream", limits: newsroomsql.DefaultLimits(), sqlRole: "votestream_newsrooms",
		sqlExec: func(_ context.Context, q string) error {
			stmts = append(stmts, q)
			if failOn != "" && strings.HasPrefix(q, failOn) {
				return errors.New("Code: 511. DB::Exception: There is no role `votestream_newsrooms` in user directories " + q)
			}
			return nil
		}}
	keys := filepath.Join(t.TempDir(), "newsroom-keys")
	var out bytes.Buffer
	if err := runNewsroom(&out, keys, nf, []string{"add", "Thai PBS"}); err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 5 || !strings.HasPrefix(stmts[0], "CREATE USER newsroom_thai_pbs IDENTIFIED WITH sha256_password BY '") ||
		stmts[3] != "GRANT votestream_newsrooms TO newsroom_thai_pbs" || !strings.Contains(out.String(), "reads database:   votestream_public") {
		t.Errorf("add: statements %q\n%s", stmts, out.String())
	}
	if b, _ := os.ReadFile(keys); strings.Count(string(b), " Thai PBS\n") != 1 {
		t.Errorf("key file after add:\n%s", b)
	}

	stmts, failOn, out = nil, "GRANT", bytes.Buffer{}
	err := runNewsroom(&out, keys, nf, []string{"add", "Prachatai"})
	if err == nil || !strings.Contains(err.Error(), "--sql-embargo-role") || strings.Contains(err.Error(), "sha256_password BY '") {
		t.Errorf("add without the role: %v", err)
	}
	if last := stmts[len(stmts)-1]; last != "DROP USER IF EXISTS newsroom_prachatai" {
		t.Errorf("the half-made user was not dropped: %q", stmts)
	}
	if b, _ := os.ReadFile(keys); strings.Contains(string(b), "Prachatai") {
		t.Errorf("a key was appended for a newsroom without a user:\n%s", b)
	}

	stmts, failOn, out = nil, "", bytes.Buffer{}
	if err := runNewsroom(&out, keys, nf, []string{"revoke", "Thai PBS"}); err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 3 || stmts[2] != "DROP USER IF EXISTS newsroom_thai_pbs" {
		t.Errorf("revoke: %q", stmts)
	}
	if b, _ := os.ReadFile(keys); strings.Contains(string(b), "Thai PBS") {
		t.Errorf("key file after revoke:\n%s", b)
	}
}
