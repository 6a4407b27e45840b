package feed

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"votestream/internal/newsroomsql"
	"votestream/internal/testenv"
)

// TestSQLGrantsFollowTheEmbargo: the feed puts a newsroom's ClickHouse user made open back
// under the embargo before polls close, and grants it the public database once they close.
func TestSQLGrantsFollowTheEmbargo(t *testing.T) {
	dir := t.TempDir()
	u, _, err := newsroomsql.Add(dir, newsroomsql.User{Newsroom: "Nation TV", Databases: []string{"votestream_public"}, Limits: newsroomsql.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock(pollsClose.Add(-time.Minute))
	f := newTestFeed(t, func(c *Config) {
		c.PollsClose, c.Now, c.SQLUsersDir, c.SQLGrantsEvery = pollsClose, clock.Now, dir, 10*time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.manageSQLGrants(ctx) })
	defer wg.Wait()
	defer cancel()
	grants := func(db string) func() bool {
		return func() bool {
			b, err := os.ReadFile(newsroomsql.Path(dir, u.Name))
			return err == nil && strings.Contains(string(b), "<database>"+db+"</database>")
		}
	}
	testenv.WaitFor(t, "embargo on the SQL user before polls close", 10*time.Second, grants("votestream_public_embargoed"))
	clock.Set(pollsClose)
	testenv.WaitFor(t, "the public database granted at polls close", 10*time.Second, grants("votestream_public"))
}
