package httpserve

import (
	"context"
	"log/slog"
	"time"
)

// Reload calls reload every interval until ctx ends: the loop behind files a server re-reads
// while it runs (ingest's revocation list, the feed's newsroom keys). A failed reload keeps
// what was loaded before and logs an error; a reload that changed something is logged with
// size(). what names the file in the log ("revocation list").
func Reload(ctx context.Context, every time.Duration, log *slog.Logger, what string, reload func() (changed bool, err error), size func() int) {
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed, err := reload()
			switch {
			case err != nil:
				log.Error(what+" not reloaded; the previous one stays in force", "err", err)
			case changed:
				log.Info(what+" reloaded", "entries", size())
			}
		}
	}
}
