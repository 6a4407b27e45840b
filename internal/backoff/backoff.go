// Package backoff is votestream's one retry curve: a capped exponential back-off with
// jitter, bounded by a number of tries, by the time spent, or (for a wait on a dependency
// that reports its state through internal/health) by nothing but the context. Every retry
// loop of every role uses it, so a role's curve is set in one line and read in one place.
//
// It follows the shape of Benthos's `backoff` settings (initial interval, maximum interval,
// maximum elapsed time) and of cenkalti/backoff's ExponentialBackOff, without the
// dependency: callers here need the wait itself (to report a dependency's state, or to sleep
// on a simulated clock), and a library's hidden default bound (cenkalti's Retry gives up
// after 15 minutes unless told otherwise) is the wrong default for a role that must ride out
// an outage. Policy.Delay has the signature of franz-go's kgo.RetryBackoffFn, so the
// client's own retries can follow the same curve.
package backoff

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Policy is a retry curve and its bounds. The zero value is not useful; start from
// Exponential. A Policy is a plain value, safe to copy and to share between goroutines.
type Policy struct {
	// Initial is the wait after the first failed try. Must be positive.
	Initial time.Duration
	// Max caps one wait. Must be at least Initial.
	Max time.Duration
	// Multiplier grows each wait over the one before. At least 1; Exponential sets 2.
	Multiplier float64
	// Jitter spreads each wait uniformly over [w×(1−Jitter), w×(1+Jitter)], capped at Max,
	// so processes that failed together do not all come back at the same instant. In
	// [0, 1); Exponential sets 0.2.
	Jitter float64
	// MaxAttempts bounds the tries, the first one included; 0 sets no bound by count.
	MaxAttempts int
	// MaxElapsed bounds the time from the first try: no wait starts that would end later.
	// 0 sets no bound by time. With neither bound a retry ends only with its context: use
	// that only for a wait that reports itself (health.Dependency.Wait).
	MaxElapsed time.Duration
}

// Exponential returns a policy whose waits double from initial up to max, with 20 % jitter
// and no bound yet: add one with Attempts or Within.
func Exponential(initial, max time.Duration) Policy {
	return Policy{Initial: initial, Max: max, Multiplier: 2, Jitter: 0.2}
}

// Attempts returns p bounded to n tries in all (the first one included).
func (p Policy) Attempts(n int) Policy { p.MaxAttempts = n; return p }

// Within returns p bounded to d from the first try.
func (p Policy) Within(d time.Duration) Policy { p.MaxElapsed = d; return p }

// Bounded reports whether p gives up by itself (by count or by time).
func (p Policy) Bounded() bool { return p.MaxAttempts > 0 || p.MaxElapsed > 0 }

// ErrPolicy marks a policy that contradicts itself.
var ErrPolicy = errors.New("backoff: invalid policy")

// Validate reports the first contradiction in p.
func (p Policy) Validate() error {
	switch {
	case p.Initial <= 0:
		return fmt.Errorf("%w: initial wait %v, want > 0", ErrPolicy, p.Initial)
	case p.Max < p.Initial:
		return fmt.Errorf("%w: maximum wait %v below the initial %v", ErrPolicy, p.Max, p.Initial)
	case p.Multiplier < 1 || math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0):
		return fmt.Errorf("%w: multiplier %v, want >= 1", ErrPolicy, p.Multiplier)
	case p.Jitter < 0 || p.Jitter >= 1 || math.IsNaN(p.Jitter):
		return fmt.Errorf("%w: jitter %v, want in [0, 1)", ErrPolicy, p.Jitter)
	case p.MaxAttempts < 0:
		return fmt.Errorf("%w: %d attempts", ErrPolicy, p.MaxAttempts)
	case p.MaxElapsed < 0:
		return fmt.Errorf("%w: maximum elapsed %v", ErrPolicy, p.MaxElapsed)
	}
	return nil
}

// Delay is the wait after failed try number attempt (1 for the first), jitter included.
// It ignores the bounds. Its signature is kgo.RetryBackoffFn's. Safe for concurrent use.
func (p Policy) Delay(attempt int) time.Duration {
	d := float64(p.Initial)
	if attempt > 1 {
		d *= math.Pow(p.Multiplier, float64(attempt-1))
	}
	d = min(d, float64(p.Max))
	if p.Jitter > 0 {
		d *= 1 + p.Jitter*(2*rand.Float64()-1)
		d = min(d, float64(p.Max))
	}
	return time.Duration(d)
}

// Backoff is one run of a policy: it counts failed tries and says how long to wait before
// the next, or that the bounds are reached. Not safe for concurrent use.
type Backoff struct {
	p       Policy
	failed  int
	started time.Time
	now     func() time.Time
}

// Start begins a run: the first try is about to happen.
func (p Policy) Start() *Backoff { return &Backoff{p: p, started: time.Now(), now: time.Now} }

// Next counts one failed try and returns the wait before the next, or false when the
// policy's bounds allow no further try.
func (b *Backoff) Next() (time.Duration, bool) {
	b.failed++
	if b.p.MaxAttempts > 0 && b.failed >= b.p.MaxAttempts {
		return 0, false
	}
	d := b.p.Delay(b.failed)
	if b.p.MaxElapsed > 0 && b.now().Add(d).Sub(b.started) > b.p.MaxElapsed {
		return 0, false
	}
	return d, true
}

// Failed returns the failed tries counted since Start or the last Reset.
func (b *Backoff) Failed() int { return b.failed }

// Elapsed returns the time since Start or the last Reset.
func (b *Backoff) Elapsed() time.Duration { return b.now().Sub(b.started) }

// Reset starts the run again, after a success: the next failure waits Initial.
func (b *Backoff) Reset() { b.failed, b.started = 0, b.now() }

// Sleep waits d or until ctx ends, whichever is first; it returns ctx.Err() when ctx ended.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrExhausted is matched (errors.Is) by the error Retry returns when the policy's bounds
// were reached.
var ErrExhausted = errors.New("backoff: gave up")

// ExhaustedError is what Retry returns when the bounds were reached: how many tries over
// how long, and the last try's error (Unwrap).
type ExhaustedError struct {
	Attempts int
	Elapsed  time.Duration
	Err      error
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("after %d attempts in %v: %v", e.Attempts, e.Elapsed.Round(time.Millisecond), e.Err)
}

func (e *ExhaustedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrExhausted) true.
func (e *ExhaustedError) Is(target error) bool { return target == ErrExhausted }

// permanent marks an error that no retry can mend.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot mend (a missing topic, a refused
// configuration): Retry returns it at once, unwrapped. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

// IsPermanent reports whether err carries the Permanent mark.
func IsPermanent(err error) bool {
	var pe *permanent
	return errors.As(err, &pe)
}

// Retrying describes one failed try that will be tried again, for a caller's log line.
type Retrying struct {
	Attempt int           // the failed try, 1 for the first
	Err     error         // its error
	Wait    time.Duration // the wait before the next
}

// Retry calls op until it returns nil, returns an error marked Permanent, the policy's
// bounds are reached (an *ExhaustedError wrapping op's last error) or ctx ends (ctx.Err()).
// onRetry, when not nil, is called before each wait. It blocks; op runs on the caller's
// goroutine.
func Retry(ctx context.Context, p Policy, op func(ctx context.Context) error, onRetry func(Retrying)) error {
	b := p.Start()
	for {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if pe := (*permanent)(nil); errors.As(err, &pe) {
			return pe.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait, ok := b.Next()
		if !ok {
			return &ExhaustedError{Attempts: b.Failed(), Elapsed: b.Elapsed(), Err: err}
		}
		if onRetry != nil {
			onRetry(Retrying{Attempt: b.Failed(), Err: err, Wait: wait})
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
