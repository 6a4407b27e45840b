package testenv

import (
	"context"
	"net"
	"testing"
)

// Background is a role's Run on a goroutine the test owns: outage tests check that it is
// still running while a service is away, then stop it and look at what it returned.
type Background struct {
	t      testing.TB
	cancel context.CancelFunc
	done   chan error
	ended  bool
	err    error
}

// RunInBackground calls run on its own goroutine with a context that Stop cancels; the
// test's end stops it too.
func RunInBackground(t testing.TB, run func(context.Context) error) *Background {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Background{t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- run(ctx) }()
	t.Cleanup(func() { _ = b.Stop() })
	return b
}

// Running returns true while run has not returned, and fails the test (Fatal) when it has:
// a role must ride out an outage, not end. Call it from the test's goroutine.
func (b *Background) Running() bool {
	b.t.Helper()
	if !b.ended {
		select {
		case b.err = <-b.done:
			b.ended = true
		default:
			return true
		}
	}
	b.t.Fatalf("Run returned: %v", b.err)
	return false
}

// Stop cancels run's context and returns what run returned. Call it from the test's goroutine.
func (b *Background) Stop() error {
	b.cancel()
	if !b.ended {
		b.err, b.ended = <-b.done, true
	}
	return b.err
}

// Serve listens on a free loopback port and runs serve on it in the background (see
// RunInBackground). It returns the base URL ("http://127.0.0.1:<port>") and the run.
func Serve(t testing.TB, serve func(context.Context, net.Listener) error) (string, *Background) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := RunInBackground(t, func(ctx context.Context) error { return serve(ctx, ln) })
	return "http://" + ln.Addr().String(), b
}
