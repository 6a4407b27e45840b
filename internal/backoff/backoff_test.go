package backoff

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestDelayDoublesUpToTheCap(t *testing.T) {
	p := Exponential(100*time.Millisecond, time.Second)
	p.Jitter = 0
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	// Far beyond the cap the float arithmetic must not overflow into a negative wait.
	if got := p.Delay(10_000); got != time.Second {
		t.Errorf("Delay(10000) = %v, want the cap", got)
	}
}

func TestJitterStaysWithinItsBandAndTheCap(t *testing.T) {
	p := Exponential(100*time.Millisecond, 300*time.Millisecond) // Jitter 0.2
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := p.Delay(1)
		if d < 80*time.Millisecond || d > 120*time.Millisecond {
			t.Fatalf("Delay(1) = %v, outside 100ms ± 20%%", d)
		}
		seen[d] = true
		if d := p.Delay(5); d < 240*time.Millisecond || d > 300*time.Millisecond {
			t.Fatalf("Delay(5) = %v, outside [240ms, 300ms]", d)
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct waits in 1000 draws: no jitter", len(seen))
	}
}

func TestNextStopsAtMaxAttempts(t *testing.T) {
	b := Exponential(time.Millisecond, time.Millisecond).Attempts(3).Start()
	for i := 1; i <= 2; i++ {
		if _, ok := b.Next(); !ok {
			t.Fatalf("try %d: gave up before the third try", i)
		}
	}
	if _, ok := b.Next(); ok {
		t.Fatal("a fourth try allowed with MaxAttempts 3")
	}
	if b.Failed() != 3 {
		t.Errorf("Failed() = %d, want 3", b.Failed())
	}
	b.Reset()
	if _, ok := b.Next(); !ok || b.Failed() != 1 {
		t.Errorf("after Reset: ok %v, failed %d", ok, b.Failed())
	}
}

func TestNextStopsBeforeAWaitBeyondMaxElapsed(t *testing.T) {
	now := time.Date(2023, 5, 14, 17, 0, 0, 0, time.UTC)
	p := Exponential(time.Second, 4*time.Second).Within(10 * time.Second)
	p.Jitter = 0
	b := p.Start()
	b.started, b.now = now, func() time.Time { return now }
	var waits []time.Duration
	for {
		d, ok := b.Next()
		if !ok {
			break
		}
		waits = append(waits, d)
		now = now.Add(d)
	}
	// 1 + 2 + 4 = 7 s; another 4 s would end at 11 s, past the 10 s bound.
	if fmt.Sprint(waits) != "[1s 2s 4s]" {
		t.Errorf("waits %v, want [1s 2s 4s]", waits)
	}
}

func TestUnboundedPolicyGoesOn(t *testing.T) {
	p := Exponential(time.Millisecond, time.Millisecond)
	if p.Bounded() {
		t.Fatal("Exponential without bounds says it is bounded")
	}
	b := p.Start()
	for i := range 10_000 {
		if _, ok := b.Next(); !ok {
			t.Fatalf("unbounded policy gave up after %d tries", i+1)
		}
	}
}

func TestRetry(t *testing.T) {
	fast := Exponential(time.Microsecond, time.Microsecond)
	boom := errors.New("boom")
	t.Run("succeeds after failures", func(t *testing.T) {
		calls := 0
		var notes []int
		err := Retry(context.Background(), fast.Attempts(5), func(context.Context) error {
			if calls++; calls < 3 {
				return boom
			}
			return nil
		}, func(r Retrying) { notes = append(notes, r.Attempt) })
		if err != nil || calls != 3 || fmt.Sprint(notes) != "[1 2]" {
			t.Fatalf("err %v, calls %d, notes %v", err, calls, notes)
		}
	})
	t.Run("gives up with the last error", func(t *testing.T) {
		calls := 0
		err := Retry(context.Background(), fast.Attempts(4), func(context.Context) error { calls++; return boom }, nil)
		var ex *ExhaustedError
		if !errors.As(err, &ex) || !errors.Is(err, boom) || !errors.Is(err, ErrExhausted) || ex.Attempts != 4 || calls != 4 {
			t.Fatalf("err %v (%T), calls %d", err, err, calls)
		}
	})
	t.Run("permanent error ends at once", func(t *testing.T) {
		calls := 0
		err := Retry(context.Background(), fast.Attempts(10), func(context.Context) error {
			calls++
			return fmt.Errorf("wrapped: %w", Permanent(boom))
		}, nil)
		if err != boom || calls != 1 {
			t.Fatalf("err %v, calls %d", err, calls)
		}
	})
	t.Run("cancelled context ends the wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := Retry(ctx, Exponential(time.Hour, time.Hour), func(context.Context) error {
			if calls++; calls == 1 {
				cancel()
			}
			return boom
		}, nil)
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Fatalf("err %v, calls %d", err, calls)
		}
	})
}

func TestValidate(t *testing.T) {
	good := Exponential(time.Second, time.Minute).Attempts(3)
	if err := good.Validate(); err != nil {
		t.Fatalf("valid policy refused: %v", err)
	}
	for name, p := range map[string]Policy{
		"zero initial":    {Max: time.Second, Multiplier: 2},
		"max below":       {Initial: time.Second, Max: time.Millisecond, Multiplier: 2},
		"shrinking":       {Initial: time.Second, Max: time.Second, Multiplier: 0.5},
		"jitter of one":   {Initial: time.Second, Max: time.Second, Multiplier: 2, Jitter: 1},
		"negative tries":  {Initial: time.Second, Max: time.Second, Multiplier: 2, MaxAttempts: -1},
		"negative budget": {Initial: time.Second, Max: time.Second, Multiplier: 2, MaxElapsed: -1},
	} {
		if err := p.Validate(); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: %v, want ErrPolicy", name, err)
		}
	}
}

func ExampleRetry() {
	p := Exponential(time.Millisecond, 10*time.Millisecond).Attempts(3)
	tries := 0
	err := Retry(context.Background(), p, func(context.Context) error {
		tries++
		return errors.New("broker not answering")
	}, func(r Retrying) { fmt.Println("try", r.Attempt, "failed:", r.Err) })
	fmt.Println(err != nil, errors.Is(err, ErrExhausted), tries)
	// Output:
	// try 1 failed: broker not answering
	// try 2 failed: broker not answering
	// true true 3
}
