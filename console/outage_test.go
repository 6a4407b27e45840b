package console_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"votestream/console"
	"votestream/console/staff"
	"votestream/ingest/token"
	"votestream/schemas"
)

// With ClickHouse unreachable the console still starts and says so: /readyz and the queue
// answer 503 with Retry-After, never a 500 or an empty queue that looks like a quiet night.
func TestClickHouseDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now

	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	line, _ := token.NewKeyLine("k1")
	if err := os.WriteFile(keys, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ring, _ := token.LoadStaffKeyring(keys)
	now := time.Now()
	warTok, _ := ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: "w", Org: "x", Role: schemas.RoleWarRoom, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	staffFile := filepath.Join(dir, "staff.json")
	if _, err := staff.Enrol(staffFile, staff.Member{ID: "w", Role: schemas.RoleWarRoom}, now); err != nil {
		t.Fatal(err)
	}

	cfg := console.DefaultConfig()
	cfg.Country, cfg.ClickHouseAddr, cfg.StaffKeysFile, cfg.StaffFile = testCountry(t), dead, keys, staffFile
	cfg.Listen, cfg.EvidenceDir, cfg.Refresh, cfg.QueryTimeout = "127.0.0.1:0", dir, 50*time.Millisecond, 2*time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	if err := srv.Rebuild(ctx); err == nil {
		t.Fatal("Rebuild against a dead ClickHouse returned nil")
	}
	base := "http://" + srv.Addr(ctx)
	// Signing in needs no ClickHouse (its audit row is then only logged).
	members, _ := staff.Load(staffFile)
	code, _ := staff.Code(members[0], time.Now())
	lb, _ := json.Marshal(map[string]string{"token": warTok, "code": code})
	st, body, _ := do(t, http.MethodPost, base+"/v1/session", "", lb)
	var sess struct {
		Session string `json:"session"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &sess) != nil {
		t.Fatalf("sign-in with ClickHouse down: %d %s", st, body)
	}
	war := sess.Session
	st, body, h := do(t, http.MethodGet, base+"/v1/queue", war, nil)
	if st != http.StatusServiceUnavailable || !strings.Contains(string(body), "NOT_READY") || h.Get("Retry-After") == "" {
		t.Fatalf("queue with ClickHouse down: %d %s (Retry-After %q); want 503 NOT_READY with Retry-After", st, body, h.Get("Retry-After"))
	}
	if st, _, _ := do(t, http.MethodGet, base+"/readyz", "", nil); st != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with ClickHouse down: %d; want 503", st)
	}
	if st, _, _ := do(t, http.MethodGet, base+"/healthz", "", nil); st != http.StatusOK {
		t.Fatalf("/healthz: %d; want 200 (the process serves)", st)
	}
	if st, body, _ := do(t, http.MethodGet, base+"/v1/stations/S01", war, nil); st != http.StatusBadGateway || !strings.Contains(string(body), "UPSTREAM") {
		t.Fatalf("station page with ClickHouse down: %d %s; want 502 UPSTREAM", st, body)
	}
}
