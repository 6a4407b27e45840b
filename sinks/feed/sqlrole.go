package feed

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// sqlNameRE: a ClickHouse identifier the feed writes into SQL unquoted.
var sqlNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// SQLLimits are the newsroom role's settings profile and quota (docs/sql.md), the same as a
// users-file newsroom user's by default.
type SQLLimits struct {
	MaxExecutionTime time.Duration
	MaxRowsToRead    uint64
	MaxMemoryUsage   uint64
	QueriesPerHour   int
	Priority         int // higher yields to lower; the war room's is 0
}

// DefaultSQLLimits match newsroomsql.DefaultLimits.
func DefaultSQLLimits() SQLLimits {
	return SQLLimits{MaxExecutionTime: 30 * time.Second, MaxRowsToRead: 100_000_000, MaxMemoryUsage: 1 << 30,
		QueriesPerHour: 3600, Priority: 10}
}

func (l SQLLimits) validate() error {
	if l.MaxExecutionTime < time.Second || l.MaxRowsToRead == 0 || l.MaxMemoryUsage == 0 || l.QueriesPerHour <= 0 || l.Priority < 1 {
		return fmt.Errorf("SQL limits %+v: every limit must be set, and the priority above the war room's 0", l)
	}
	return nil
}

// quoteSQL is a ClickHouse string literal.
func quoteSQL(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// sqlRoleStatements are what one round of the SQL embargo runs, in order: the role, its
// profile and quota (made once, left alone after: an operator may tune them), the shared
// user with the role and its password kept in step, and the grant of the public database
// only once the embargo has lifted. Every statement is idempotent, so a round after a
// failed one, or after a restart, puts everything right.
func sqlRoleStatements(cfg Config, embargoed bool) []string {
	r, l := cfg.SQLRole, cfg.SQLLimits
	st := []string{
		"CREATE ROLE IF NOT EXISTS " + r,
		fmt.Sprintf("CREATE SETTINGS PROFILE IF NOT EXISTS %s SETTINGS readonly = 2, max_execution_time = %d, max_rows_to_read = %d, read_overflow_mode = 'throw', max_memory_usage = %d, max_concurrent_queries_for_user = 4, priority = %d TO %s",
			r, int64(l.MaxExecutionTime/time.Second), l.MaxRowsToRead, l.MaxMemoryUsage, l.Priority, r),
		fmt.Sprintf("CREATE QUOTA IF NOT EXISTS %s KEYED BY user_name FOR INTERVAL 1 hour MAX queries = %d TO %s", r, l.QueriesPerHour, r),
	}
	if u := cfg.SQLSharedUser; u != "" {
		pw := quoteSQL(cfg.SQLSharedPassword)
		st = append(st,
			"CREATE USER IF NOT EXISTS "+u+" IDENTIFIED WITH sha256_password BY "+pw,
			"ALTER USER "+u+" IDENTIFIED WITH sha256_password BY "+pw,
			"GRANT "+r+" TO "+u,
			"ALTER USER "+u+" DEFAULT ROLE "+r)
	}
	if embargoed {
		return append(st, "REVOKE SELECT ON "+cfg.SQLPublicDatabase+".* FROM "+r)
	}
	return append(st, "GRANT SELECT ON "+cfg.SQLPublicDatabase+".* TO "+r)
}

// manageSQLRole keeps the embargo on the newsroom role (Config.SQLRole): at start, at polls
// close and every SQLGrantsEvery. A failed round (ClickHouse away, or a server without SQL
// access management such as 18.16) is logged and tried again; the feed serves meanwhile.
func (f *Feed) manageSQLRole(ctx context.Context) {
	var lastErr string
	lastState := -1
	f.embargoRounds(ctx, func(embargoed bool) {
		err := f.sqlRoleRound(ctx, embargoed)
		switch {
		case err != nil && ctx.Err() == nil:
			if err.Error() != lastErr { // once per distinct failure, not every round
				f.log.Error("feed: newsroom SQL role", "role", f.cfg.SQLRole, "embargoed", embargoed, "err", err)
			}
			lastErr = err.Error()
		case err == nil:
			if state := map[bool]int{true: 1, false: 0}[embargoed]; state != lastState {
				f.log.Info("feed: newsroom SQL role granted", "role", f.cfg.SQLRole, "database", f.cfg.SQLPublicDatabase, "embargoed", embargoed)
				lastState = state
			}
			lastErr = ""
		}
	})
}

func (f *Feed) sqlRoleRound(ctx context.Context, embargoed bool) error {
	var errs []error
	for _, q := range sqlRoleStatements(f.cfg, embargoed) {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := f.cfg.SQLExec(qctx, q)
		cancel()
		if err != nil {
			// The password never reaches a log line.
			if f.cfg.SQLSharedPassword != "" {
				err = errors.New(strings.ReplaceAll(err.Error(), f.cfg.SQLSharedPassword, "***"))
			}
			verb, _, _ := strings.Cut(q, " BY ")
			errs = append(errs, fmt.Errorf("%s: %w", verb, err))
			if strings.HasPrefix(q, "CREATE ROLE") {
				break // nothing else can work without the role
			}
		}
	}
	return errors.Join(errs...)
}

// NewsroomUserStatements make one newsroom's own SQL user on a server with SQL access
// management (`feed newsroom add` with --sql-embargo-role): the user (refused if it exists),
// a settings profile and a quota of its own, and the newsrooms' role, which carries the
// embargoed grant. The role must exist (the feed makes it).
func NewsroomUserStatements(role, user, password string, l SQLLimits) ([]string, error) {
	if !sqlNameRE.MatchString(role) || !sqlNameRE.MatchString(user) {
		return nil, fmt.Errorf("feed: SQL role %q or user %q: want letters, digits and _", role, user)
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	return []string{
		"CREATE USER " + user + " IDENTIFIED WITH sha256_password BY " + quoteSQL(password),
		fmt.Sprintf("CREATE SETTINGS PROFILE OR REPLACE %s SETTINGS readonly = 2, max_execution_time = %d, max_rows_to_read = %d, read_overflow_mode = 'throw', max_memory_usage = %d, max_concurrent_queries_for_user = 4, priority = %d TO %s",
			user, int64(l.MaxExecutionTime/time.Second), l.MaxRowsToRead, l.MaxMemoryUsage, l.Priority, user),
		fmt.Sprintf("CREATE QUOTA OR REPLACE %s FOR INTERVAL 1 hour MAX queries = %d TO %s", user, l.QueriesPerHour, user),
		"GRANT " + role + " TO " + user,
		"ALTER USER " + user + " DEFAULT ROLE " + role,
	}, nil
}

// DropNewsroomUserStatements undo NewsroomUserStatements; each is harmless when already done.
func DropNewsroomUserStatements(user string) []string {
	return []string{"DROP QUOTA IF EXISTS " + user, "DROP SETTINGS PROFILE IF EXISTS " + user, "DROP USER IF EXISTS " + user}
}
