package evidencelog

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// stations would serve the public station pages after polls close (issue 15, part 7); they
// are not built yet, so a config that asks for them is refused rather than served blank.
type stations struct{}

// ErrStationPages: Config.ClickHouseAddr asks for station pages, which are not built.
var ErrStationPages = errors.New("evidencelog: public station pages are not built yet; leave ClickHouseAddr empty")

func newStations(Config, *slog.Logger) (*stations, error)    { return nil, ErrStationPages }
func (s *stations) watchTakedowns(ctx context.Context) error { <-ctx.Done(); return nil }
func (s *stations) handlePage(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotImplemented, "NOT_BUILT", "station pages are not built yet")
}
func (s *stations) handlePhoto(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotImplemented, "NOT_BUILT", "station pages are not built yet")
}
