package witness

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"votestream/evidencelog/tlog"
)

// TestRunServesPushes: with Listen set, Run takes pushed checkpoints on /add-checkpoint (a
// malformed push is answered 400, a checkpoint not signed by the log 403) while it keeps
// fetching, and stops cleanly when its context ends. The exchange with a real log is
// evidencelog's TestWitnessPush.
func TestRunServesPushes(t *testing.T) {
	dir := t.TempDir()
	_, lvkey, err := tlog.GenerateKey("log.example.org")
	if err != nil {
		t.Fatal(err)
	}
	wskey, _, err := tlog.GenerateKey("witness.example.org")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := DefaultConfig()
	cfg.LogURL = "http://127.0.0.1:1" // unreachable: fetching fails and is retried
	cfg.LogKeysFile, cfg.KeyFile, cfg.StateFile = write("log.pub", lvkey), write("witness.key", wskey), filepath.Join(dir, "state")
	cfg.Listen, cfg.Interval = addr, time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	post := func(body string) int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Post("http://"+addr+"/add-checkpoint", "text/plain", strings.NewReader(body))
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			if time.Now().After(deadline) {
				t.Fatalf("the witness does not listen on %s: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond) // until Run's server is up
		}
	}
	if code := post("nonsense"); code != http.StatusBadRequest {
		t.Errorf("a malformed push: %d, want 400", code)
	}
	if code := post("old 0\n\nlog.example.org\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"); code != http.StatusForbidden {
		t.Errorf("an unsigned checkpoint: %d, want 403", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// FuzzParseAdd: whatever a pusher sends, parseAdd never panics, and what it accepts has at
// most 63 proof hashes of 32 bytes each.
func FuzzParseAdd(f *testing.F) {
	f.Add([]byte("old 0\n\nlog.example.org\n5\nAAAA\n\n— log.example.org AAAA\n"))
	f.Add([]byte("old 12\n" + strings.Repeat("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 3) + "\nnote"))
	f.Add([]byte("old x\n\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, proof, _, err := parseAdd(body)
		if err != nil {
			return
		}
		if len(proof) > 63 {
			t.Fatalf("%d proof hashes accepted", len(proof))
		}
		for _, h := range proof {
			if len(h) != 32 {
				t.Fatalf("a proof hash of %d bytes accepted", len(h))
			}
		}
	})
}
