package ingest

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per volunteer: rate requests per second sustained, burst at
// once. It keeps at most maxBuckets buckets; beyond that, idle (full) buckets are dropped,
// and if none is idle an arbitrary one is, which at worst gives one volunteer a fresh burst.
// Sharded so that concurrent requests rarely share a lock. Safe for concurrent use.
type limiter struct {
	rate   float64
	burst  float64
	shards [16]limiterShard
	seed   maphash.Seed
}

type limiterShard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the limiter's memory (about 100 bytes a bucket): twice the largest
// volunteer corps DESIGN.md plans for.
const maxBuckets = 200000

func newLimiter(rate float64, burst int) *limiter {
	l := &limiter{rate: rate, burst: float64(burst), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
	}
	return l
}

// allow takes one token from id's bucket. When there is none it reports how long until
// there is, rounded up to whole seconds for Retry-After. A nil limiter allows everything.
func (l *limiter) allow(id string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	sh := &l.shards[maphash.String(l.seed, id)%uint64(len(l.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, ok := sh.buckets[id]
	if !ok {
		if len(sh.buckets) >= maxBuckets/len(l.shards) {
			sh.evict(now, l.burst/l.rate)
		}
		b = &bucket{tokens: l.burst, last: now}
		sh.buckets[id] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = math.Min(l.burst, b.tokens+dt*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := math.Ceil((1 - b.tokens) / l.rate)
	return false, time.Duration(wait) * time.Second
}

// evict drops buckets idle long enough to be full again, or one arbitrary bucket if none is.
func (sh *limiterShard) evict(now time.Time, refill float64) {
	dropped := false
	for id, b := range sh.buckets {
		if now.Sub(b.last).Seconds() >= refill {
			delete(sh.buckets, id)
			dropped = true
		}
	}
	if !dropped {
		for id := range sh.buckets {
			delete(sh.buckets, id)
			break
		}
	}
}
