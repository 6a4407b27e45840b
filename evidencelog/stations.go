package evidencelog

import (
	"context"
	"log/slog"
	"net/http"
)

// stations serves the public station pages (see station.go).
type stations struct{}

func newStations(Config, *slog.Logger) (*stations, error)              { return &stations{}, nil }
func (s *stations) watchTakedowns(ctx context.Context) error           { <-ctx.Done(); return nil }
func (s *stations) handlePage(w http.ResponseWriter, r *http.Request)  {}
func (s *stations) handlePhoto(w http.ResponseWriter, r *http.Request) {}
