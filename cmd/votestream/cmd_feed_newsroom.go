package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"votestream/internal/newsroomsql"
	"votestream/schemas"
	"votestream/sinks/feed"
)

// newsroomFlags are the flags of `feed newsroom add|revoke`.
type newsroomFlags struct {
	usersDir string // the ClickHouse server's users.d folder
	database string // the main database: newsrooms read its public database only
	limits   newsroomsql.Limits
	// embargoed: polls have not closed yet, so the user is made under the embargo (the
	// feed's --sql-embargo-users lifts it at polls close).
	embargoed bool
	// sqlRole, with sqlExec, makes and drops the user by SQL access management instead
	// (current ClickHouse, docker-compose): the user holds the role the feed grants.
	sqlRole string
	sqlExec func(ctx context.Context, q string) error
}

// defaultUsersDir is the users.d folder of the ClickHouse scripts/services runs.
func defaultUsersDir() string {
	v := os.Getenv("VOTESTREAM_VAR")
	if v == "" {
		v = "var"
	}
	return filepath.Join(v, "clickhouse", "users.d")
}

// runNewsroom does `feed newsroom add NAME` and `feed newsroom revoke NAME`: the API key in
// keysFile and the ClickHouse user in users.d, made or removed together.
func runNewsroom(out io.Writer, keysFile string, nf newsroomFlags, args []string) error {
	if len(args) != 2 || (args[0] != "add" && args[0] != "revoke") {
		return fmt.Errorf("%w: feed --keys FILE newsroom add|revoke NAME", errUsage)
	}
	if keysFile == "" {
		return fmt.Errorf("%w: feed newsroom needs --keys", errUsage)
	}
	name := args[1]
	if nf.sqlRole != "" {
		return runNewsroomSQL(out, keysFile, nf, args[0], name)
	}
	if args[0] == "revoke" {
		n, kerr := feed.RevokeNewsroom(keysFile, name)
		user, uerr := newsroomsql.Remove(nf.usersDir, name)
		if kerr == nil {
			fmt.Fprintf(out, "revoked %d API key(s) of %q in %s (a running feed drops them at its next reload)\n", n, name, keysFile)
		}
		if uerr == nil {
			fmt.Fprintf(out, "removed ClickHouse user %s (%s; the server drops it within seconds)\n", user, newsroomsql.Path(nf.usersDir, user))
		}
		if kerr != nil && uerr != nil {
			return fmt.Errorf("feed newsroom revoke %q: %w; %w", name, kerr, uerr)
		}
		return errors.Join(kerr, uerr) // one of the two was already gone: say so
	}
	public := schemas.PublicDatabase(nf.database)
	u, password, err := newsroomsql.Add(nf.usersDir, newsroomsql.User{Newsroom: name, Databases: []string{public},
		Limits: nf.limits, Embargoed: nf.embargoed})
	if err != nil {
		return fmt.Errorf("feed newsroom add %q: %w", name, err)
	}
	key, err := feed.AppendKey(keysFile, name)
	if err != nil {
		// Both or neither: take the ClickHouse user back.
		_, _ = newsroomsql.Remove(nf.usersDir, name)
		return fmt.Errorf("feed newsroom add %q: %w", name, err)
	}
	fmt.Fprintf(out, "newsroom %q\n  API key:          %s\n  ClickHouse user:  %s\n  password:         %s\n  reads database:   %s\n  file:             %s\n",
		name, key, u.Name, password, public, newsroomsql.Path(nf.usersDir, u.Name))
	fmt.Fprintf(out, "  limits:           %s a query, %d rows read, %d MiB, %d queries an hour, priority %d\n",
		u.Limits.MaxExecutionTime, u.Limits.MaxRowsToRead, u.Limits.MaxMemoryUsage>>20, u.Limits.QueriesPerHour, u.Limits.Priority)
	if nf.embargoed {
		fmt.Fprintf(out, "Embargo: until polls close the user is granted %s%s (nothing); the feed's --sql-embargo-users grants %s at polls close.\n",
			public, newsroomsql.EmbargoSuffix, public)
	}
	fmt.Fprintln(out, "Give the key and the password to the newsroom over a private channel; neither is shown again.")
	return nil
}

// runNewsroomSQL is runNewsroom on a server with SQL access management: the user is made
// (or dropped) by SQL and holds the newsrooms' role, whose grant the feed keeps under the
// embargo (--sql-embargo-role).
func runNewsroomSQL(out io.Writer, keysFile string, nf newsroomFlags, verb, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := newsroomsql.UserName(name)
	run := func(stmts []string, secret string) error {
		for _, q := range stmts {
			if err := nf.sqlExec(ctx, q); err != nil {
				verb, _, _ := strings.Cut(q, " BY ")
				msg := err.Error()
				if secret != "" {
					msg = strings.ReplaceAll(msg, secret, "***")
				}
				return fmt.Errorf("%s: %s", verb, msg)
			}
		}
		return nil
	}
	if verb == "revoke" {
		n, kerr := feed.RevokeNewsroom(keysFile, name)
		if kerr == nil {
			fmt.Fprintf(out, "revoked %d API key(s) of %q in %s (a running feed drops them at its next reload)\n", n, name, keysFile)
		}
		uerr := run(feed.DropNewsroomUserStatements(user), "")
		if uerr == nil {
			fmt.Fprintf(out, "dropped ClickHouse user %s (if it existed)\n", user)
		}
		return errors.Join(kerr, uerr)
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("feed newsroom add %q: password: %w", name, err)
	}
	password := hex.EncodeToString(raw[:])
	l := nf.limits
	stmts, err := feed.NewsroomUserStatements(nf.sqlRole, user, password, feed.SQLLimits{MaxExecutionTime: l.MaxExecutionTime,
		MaxRowsToRead: l.MaxRowsToRead, MaxMemoryUsage: l.MaxMemoryUsage, QueriesPerHour: l.QueriesPerHour, Priority: l.Priority})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := run(stmts, password); err != nil {
		if !strings.Contains(err.Error(), "CREATE USER") { // made, then failed: take it back
			_ = run(feed.DropNewsroomUserStatements(user), "")
		}
		return fmt.Errorf("feed newsroom add %q: %w (the role %s is made by the feed's --sql-embargo-role)", name, err, nf.sqlRole)
	}
	key, err := feed.AppendKey(keysFile, name)
	if err != nil {
		_ = run(feed.DropNewsroomUserStatements(user), "")
		return fmt.Errorf("feed newsroom add %q: %w", name, err)
	}
	public := schemas.PublicDatabase(nf.database)
	fmt.Fprintf(out, "newsroom %q\n  API key:          %s\n  ClickHouse user:  %s\n  password:         %s\n  reads database:   %s (through the role %s)\n",
		name, key, user, password, public, nf.sqlRole)
	fmt.Fprintf(out, "  limits:           %s a query, %d rows read, %d MiB, %d queries an hour, priority %d\n",
		l.MaxExecutionTime, l.MaxRowsToRead, l.MaxMemoryUsage>>20, l.QueriesPerHour, l.Priority)
	fmt.Fprintf(out, "Embargo: the role %s reads %s only from polls close (the feed's --sql-embargo-role grants it).\n", nf.sqlRole, public)
	fmt.Fprintln(out, "Give the key and the password to the newsroom over a private channel; neither is shown again.")
	return nil
}
