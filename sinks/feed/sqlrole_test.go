package feed

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"votestream/internal/testenv"
)

// sqlRecorder stands in for ClickHouse in a unit test of the feed's own logic: it records
// the statements and fails those that contain failOn.
type sqlRecorder struct {
	mu     sync.Mutex
	stmts  []string
	failOn string
}

func (r *sqlRecorder) exec(_ context.Context, q string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmts = append(r.stmts, q)
	if r.failOn != "" && strings.Contains(q, r.failOn) {
		return errors.New("Code: 62. DB::Exception: Syntax error: " + q)
	}
	return nil
}

func (r *sqlRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.stmts) == 0 {
		return ""
	}
	return r.stmts[len(r.stmts)-1]
}

// TestSQLRoleFollowsTheEmbargo: the feed revokes the public database from the newsroom role
// before polls close and grants it at polls close, creating the role, its profile, quota
// and the shared user first; the password is quoted, and never logged when a statement
// fails.
func TestSQLRoleFollowsTheEmbargo(t *testing.T) {
	rec := &sqlRecorder{}
	clock := newFakeClock(pollsClose.Add(-time.Minute))
	f := newTestFeed(t, func(c *Config) {
		c.PollsClose, c.Now, c.SQLGrantsEvery = pollsClose, clock.Now, 10*time.Millisecond
		c.SQLRole, c.SQLExec, c.SQLSharedUser, c.SQLSharedPassword = "votestream_newsrooms", rec.exec, "newsroom", `it's\secret`
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.manageSQLRole(ctx) })
	defer wg.Wait()
	defer cancel()
	testenv.WaitFor(t, "the role revoked before polls close", 10*time.Second, func() bool {
		return rec.last() == "REVOKE SELECT ON votestream_public.* FROM votestream_newsrooms"
	})
	rec.mu.Lock()
	first := slices.Clone(rec.stmts[:8])
	rec.mu.Unlock()
	want := []string{"CREATE ROLE IF NOT EXISTS votestream_newsrooms", "CREATE SETTINGS PROFILE IF NOT EXISTS votestream_newsrooms SETTINGS readonly = 2",
		"CREATE QUOTA IF NOT EXISTS votestream_newsrooms KEYED BY user_name FOR INTERVAL 1 hour MAX queries = 3600 TO votestream_newsrooms",
		`CREATE USER IF NOT EXISTS newsroom IDENTIFIED WITH sha256_password BY 'it\'s\\secret'`, `ALTER USER newsroom IDENTIFIED WITH sha256_password BY 'it\'s\\secret'`,
		"GRANT votestream_newsrooms TO newsroom", "ALTER USER newsroom DEFAULT ROLE votestream_newsrooms",
		"REVOKE SELECT ON votestream_public.* FROM votestream_newsrooms"}
	for i, w := range want {
		if !strings.HasPrefix(first[i], w) {
			t.Errorf("statement %d %q, want it to start %q", i, first[i], w)
		}
	}
	clock.Set(pollsClose)
	testenv.WaitFor(t, "the public database granted at polls close", 10*time.Second, func() bool {
		return rec.last() == "GRANT SELECT ON votestream_public.* TO votestream_newsrooms"
	})
}

// TestSQLRoleFailureMasksPassword: a failed round says what failed without the password, goes
// on to the grant, and stops at once when the server has no roles.
func TestSQLRoleFailureMasksPassword(t *testing.T) {
	rec := &sqlRecorder{failOn: "IDENTIFIED"}
	clock := newFakeClock(pollsClose.Add(time.Hour))
	f := newTestFeed(t, func(c *Config) {
		c.PollsClose, c.Now, c.SQLGrantsEvery = pollsClose, clock.Now, time.Hour
		c.SQLRole, c.SQLExec, c.SQLSharedUser, c.SQLSharedPassword = "votestream_newsrooms", rec.exec, "newsroom", "hunter2-secret"
	})
	err := f.sqlRoleRound(context.Background(), false)
	if err == nil || strings.Contains(err.Error(), "hunter2-secret") || !strings.Contains(err.Error(), "***") {
		t.Errorf("round error %v: want the failures, the password masked", err)
	}
	// The grant still comes after the user's failures.
	if rec.last() != "GRANT SELECT ON votestream_public.* TO votestream_newsrooms" {
		t.Errorf("last statement %q", rec.last())
	}
	// Without the role (a server without SQL access management) nothing else is tried.
	rec = &sqlRecorder{failOn: "CREATE ROLE"}
	f.cfg.SQLExec = rec.exec
	if err := f.sqlRoleRound(context.Background(), false); err == nil || len(rec.stmts) != 1 {
		t.Errorf("round on a server without roles: %v after %d statements, want an error after 1", err, len(rec.stmts))
	}
}

func TestSQLRoleConfig(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"no exec":         func(c *Config) { c.SQLRole = "r" },
		"bad role":        func(c *Config) { c.SQLRole, c.SQLExec = "r; DROP", (&sqlRecorder{}).exec },
		"bad database":    func(c *Config) { c.SQLRole, c.SQLExec, c.SQLPublicDatabase = "r", (&sqlRecorder{}).exec, "x.y" },
		"user without pw": func(c *Config) { c.SQLRole, c.SQLExec, c.SQLSharedUser = "r", (&sqlRecorder{}).exec, "newsroom" },
		"test mode": func(c *Config) {
			c.SQLRole, c.SQLExec, c.TestMode, c.TopicPrefix = "r", (&sqlRecorder{}).exec, true, "test."
		},
	} {
		cfg := DefaultConfig()
		cfg.Seeds, cfg.Country, cfg.KeysFile = []string{"x:1"}, smallCountry(t), "keys"
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}

func TestNewsroomUserStatements(t *testing.T) {
	st, err := NewsroomUserStatements("votestream_newsrooms", "newsroom_thai_pbs", "p'w", DefaultSQLLimits())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`CREATE USER newsroom_thai_pbs IDENTIFIED WITH sha256_password BY 'p\'w'`,
		"CREATE SETTINGS PROFILE OR REPLACE newsroom_thai_pbs SETTINGS readonly = 2, max_execution_time = 30, max_rows_to_read = 100000000",
		"CREATE QUOTA OR REPLACE newsroom_thai_pbs FOR INTERVAL 1 hour MAX queries = 3600 TO newsroom_thai_pbs",
		"GRANT votestream_newsrooms TO newsroom_thai_pbs", "ALTER USER newsroom_thai_pbs DEFAULT ROLE votestream_newsrooms"}
	if len(st) != len(want) {
		t.Fatalf("%d statements: %q", len(st), st)
	}
	for i, w := range want {
		if !strings.HasPrefix(st[i], w) {
			t.Errorf("statement %d %q, want it to start %q", i, st[i], w)
		}
	}
	if _, err := NewsroomUserStatements("r", "x; DROP USER default", "p", DefaultSQLLimits()); err == nil {
		t.Error("a user name with SQL in it was taken")
	}
	if _, err := NewsroomUserStatements("r", "u", "p", SQLLimits{}); err == nil {
		t.Error("limits switched off were taken")
	}
}
