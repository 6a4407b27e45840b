package feed

import (
	"context"
	"time"

	"votestream/internal/newsroomsql"
)

// manageSQLGrants keeps the embargo on the newsrooms' ClickHouse users in
// Config.SQLUsersDir: until polls close each is granted only a stand-in for the public
// database, from then on the public database itself (newsroomsql.SetEmbargo). It checks at
// start, at polls close and every SQLGrantsEvery, so a users file rewritten meanwhile (a
// newsroom added, the server's config regenerated) is put right within that time.
func (f *Feed) manageSQLGrants(ctx context.Context) {
	f.embargoRounds(ctx, func(embargoed bool) {
		n, err := newsroomsql.SetEmbargo(f.cfg.SQLUsersDir, embargoed)
		switch {
		case err != nil:
			f.log.Error("feed: newsroom SQL grants", "dir", f.cfg.SQLUsersDir, "embargoed", embargoed, "err", err)
		case n > 0:
			f.log.Info("feed: newsroom SQL grants changed", "dir", f.cfg.SQLUsersDir, "embargoed", embargoed, "users", n)
		}
	})
}

// embargoRounds runs round at once, at polls close and every SQLGrantsEvery until ctx ends,
// telling it whether the embargo holds: the schedule of both ways of keeping the embargo.
func (f *Feed) embargoRounds(ctx context.Context, round func(embargoed bool)) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		embargoed := f.embargoed()
		round(embargoed)
		wait := f.cfg.SQLGrantsEvery
		if embargoed {
			wait = max(min(wait, f.cfg.PollsClose.Sub(f.now())), time.Millisecond)
		}
		timer.Reset(wait)
	}
}
