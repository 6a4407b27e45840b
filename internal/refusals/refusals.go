// Package refusals samples refused requests for refusals.v1, so that someone hammering a
// service with bad tokens cannot fill Kafka or the war room's table: per source (a token's
// holder, or a client address when no valid token came), Burst at once and then one each
// Every; in all, PerSecond (burst GlobalBurst). What is left out is counted and carried by
// the source's next record (schemas.Refusal.Suppressed). Ingest and the review console
// share it.
package refusals

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const (
	Burst       = 5
	Every       = 10 * time.Second
	PerSecond   = 50
	GlobalBurst = 200
	// MaxSources bounds the per-source table; past it the table starts again (a flood from
	// many addresses then meets the global limit alone).
	MaxSources = 50_000
	// MessageMax clips the message kept (our own messages quote what was sent).
	MessageMax = 300
)

// Sampler decides which refusals are published. The zero value is ready; safe for
// concurrent use.
type Sampler struct {
	mu      sync.Mutex
	sources map[string]*source
	global  *rate.Limiter
}

type source struct {
	lim        *rate.Limiter
	suppressed int
}

// Admit reports whether a refusal from source at now is published, and if so how many of
// the source's refusals were left out since its previous published one.
func (s *Sampler) Admit(src string, now time.Time) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sources == nil || len(s.sources) >= MaxSources {
		s.sources = map[string]*source{}
	}
	if s.global == nil {
		s.global = rate.NewLimiter(PerSecond, GlobalBurst)
	}
	x := s.sources[src]
	if x == nil {
		x = &source{lim: rate.NewLimiter(rate.Every(Every), Burst)}
		s.sources[src] = x
	}
	if !x.lim.AllowN(now, 1) || !s.global.AllowN(now, 1) {
		x.suppressed++
		return false, 0
	}
	suppressed, x.suppressed = x.suppressed, 0
	return true, suppressed
}

// Clip cuts s to at most n bytes on a rune boundary.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
