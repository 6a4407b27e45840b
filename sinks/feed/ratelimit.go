package feed

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// CodeRateLimited: 429, with Retry-After: the newsroom spent its request budget.
const CodeRateLimited = "RATE_LIMITED"

// rateLimitPolicy names the one policy in RateLimit-Policy and RateLimit headers.
const rateLimitPolicy = "newsroom"

// limiters holds a token bucket per newsroom (all its keys share it). Newsrooms are few
// (tens) and named by the key file, so the map stays small.
type limiters struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// limitOf returns the newsroom's limit: its `!limit` line, or the default.
func (f *Feed) limitOf(newsroom string) Limit {
	if l, ok := f.keys.Limit(newsroom); ok {
		return l
	}
	return Limit{Rate: f.cfg.RateLimit, Burst: f.cfg.RateBurst}
}

// A bucket counts half-requests, so that an answer that turns out 304 Not Modified can
// cost half of a full one.
const (
	costFull        = 2
	costConditional = 1 // paid up front by a request with If-None-Match; the rest unless 304
)

// limiter returns the newsroom's bucket, following a key file change of its limit.
func (f *Feed) limiter(newsroom string, l Limit) *rate.Limiter {
	f.limits.mu.Lock()
	defer f.limits.mu.Unlock()
	lim := f.limits.m[newsroom]
	r, b := rate.Limit(l.Rate*costFull), l.Burst*costFull
	// A new newsroom, or a new limit from the key file, starts with a full bucket.
	if lim == nil || lim.Limit() != r || lim.Burst() != b {
		lim = rate.NewLimiter(r, b)
		f.limits.m[newsroom] = lim
	}
	return lim
}

// admit spends the newsroom's budget for one request and sets the RateLimit-Policy and
// RateLimit headers (draft-ietf-httpapi-ratelimit-headers). A conditional request pays half
// up front; settle, called with the answer's status, charges the other half unless it was
// 304. Over budget, admit answers 429 RATE_LIMITED with Retry-After and returns false.
func (f *Feed) admit(w http.ResponseWriter, r *http.Request, newsroom string, conditionalOK bool) (ok bool, settle func(status int)) {
	now := f.now()
	l := f.limitOf(newsroom)
	lim := f.limiter(newsroom, l)
	cost := costFull
	if conditionalOK && r.Header.Get("If-None-Match") != "" {
		cost = costConditional
	}
	res := lim.ReserveN(now, cost)
	delay := res.DelayFrom(now)
	if delay > 0 {
		res.CancelAt(now) // a refused request costs nothing
	}
	tokens := max(lim.TokensAt(now), 0) / costFull
	h := w.Header()
	// q requests in a window of w seconds: the bucket's size over the time it takes to refill.
	window := math.Ceil(float64(l.Burst) / l.Rate)
	h.Set("RateLimit-Policy", fmt.Sprintf("%q;q=%d;w=%d", rateLimitPolicy, l.Burst, int64(window)))
	// r: full requests left now; t: seconds until the bucket is full again.
	full := math.Ceil((float64(l.Burst) - tokens) / l.Rate)
	h.Set("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", rateLimitPolicy, int64(math.Floor(tokens)), int64(full)))
	if delay <= 0 {
		f.m.newsroomRequests.WithLabelValues(newsroom, "allowed").Inc()
		return true, func(status int) {
			if cost < costFull && status != http.StatusNotModified {
				// Never refused: the bucket may go into debt, which later requests wait out.
				lim.ReserveN(f.now(), costFull-cost)
			}
		}
	}
	f.m.newsroomRequests.WithLabelValues(newsroom, "rate_limited").Inc()
	h.Set("Retry-After", strconv.FormatInt(int64((delay+time.Second-1)/time.Second), 10))
	f.writeError(w, CodeRateLimited, "newsroom %q made more than %d requests at once or %g a second; retry after the time in Retry-After",
		newsroom, l.Burst, l.Rate)
	return false, nil
}
