package console_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
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

// authConsole is a console with no ClickHouse behind it (sign-in needs none; the audit rows
// are then only logged), a staff key file and an enrolment file.
func authConsole(t *testing.T, hook func(*console.Config)) (base string, ring *token.Keyring, staffFile string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	keys := filepath.Join(dir, "staff-keys")
	line, _ := token.NewKeyLine("k1")
	if err := os.WriteFile(keys, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ring, err = token.LoadStaffKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	staffFile = filepath.Join(dir, "staff.json")
	cfg := console.DefaultConfig()
	cfg.Country, cfg.ClickHouseAddr, cfg.StaffKeysFile, cfg.StaffFile = testCountry(t), dead, keys, staffFile
	cfg.Listen, cfg.EvidenceDir, cfg.Refresh, cfg.QueryTimeout = "127.0.0.1:0", dir, time.Hour, 2*time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if hook != nil {
		hook(&cfg)
	}
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
	return "http://" + srv.Addr(ctx), ring, staffFile
}

func signIn(t *testing.T, base, tok, code string) (int, string, string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"token": tok, "code": code})
	st, body, h := do(t, http.MethodPost, base+"/v1/session", "", b)
	var v struct {
		Session string `json:"session"`
		Error   struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &v)
	if st == http.StatusOK {
		c := h.Get("Set-Cookie")
		if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
			t.Fatalf("session cookie %q: want HttpOnly and SameSite=Strict", c)
		}
	}
	return st, v.Session, v.Error.Code
}

func TestSignInSecondFactor(t *testing.T) {
	base, ring, staffFile := authConsole(t, nil)
	now := time.Now()
	lead := token.Claims{TokenID: token.NewTokenID(), VolunteerID: "lead-C1", Org: "war room", Role: schemas.RoleDistrictLead,
		Constituency: "C1", IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}
	tok, err := ring.Issue(lead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staff.Enrol(staffFile, staff.Member{ID: "lead-C1", Role: schemas.RoleDistrictLead, Constituency: "C1"}, now); err != nil {
		t.Fatal(err)
	}
	members, _ := staff.Load(staffFile)
	code, _ := staff.Code(members[0], time.Now())

	// A lead's token made with the volunteers' key (same key id, HMAC by hand as a thief
	// would) is refused before the code is even looked at.
	volKey := make([]byte, 32)
	payload := fmt.Sprintf(`{"jti":"x","sub":"lead-C1","org":"o","role":"district_lead","con":"C1","iat":%d,"exp":%d}`, now.Add(-time.Minute).Unix(), now.Add(time.Hour).Unix())
	signed := "vt1.k1." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, volKey)
	mac.Write([]byte(signed))
	forged := signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	if st, _, c := signIn(t, base, forged, code); st != http.StatusUnauthorized || c != console.CodeUnauthenticated {
		t.Fatalf("lead token signed with another key: %d %s; want 401 UNAUTHENTICATED", st, c)
	}
	// A token alone, as a bearer, opens nothing.
	if st, _, _ := do(t, http.MethodGet, base+"/v1/session", tok, nil); st != http.StatusUnauthorized {
		t.Fatalf("token as bearer: %d; want 401", st)
	}
	wrong := []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	if st, _, c := signIn(t, base, tok, string(wrong)); st != http.StatusUnauthorized || c != console.CodeBadCode {
		t.Fatalf("wrong code: %d %s; want 401 BAD_CODE", st, c)
	}
	if st, _, c := signIn(t, base, tok, ""); st != http.StatusUnauthorized || c != console.CodeBadCode {
		t.Fatalf("no code: %d %s; want 401 BAD_CODE", st, c)
	}
	st, sess, c := signIn(t, base, tok, code)
	if st != http.StatusOK || sess == "" {
		t.Fatalf("right code: %d %s", st, c)
	}
	if st, _, c := signIn(t, base, tok, code); st != http.StatusUnauthorized || c != console.CodeBadCode {
		t.Fatalf("the same code again: %d %s; want 401 BAD_CODE", st, c)
	}
	if st, body, _ := do(t, http.MethodGet, base+"/v1/session", sess, nil); st != http.StatusOK || !strings.Contains(string(body), `"lead-C1"`) {
		t.Fatalf("session: %d %s", st, body)
	}
	// Signed out, the session is gone.
	if st, _, _ := do(t, http.MethodDelete, base+"/v1/session", sess, nil); st != http.StatusNoContent {
		t.Fatalf("sign out: %d", st)
	}
	if st, _, _ := do(t, http.MethodGet, base+"/v1/session", sess, nil); st != http.StatusUnauthorized {
		t.Fatalf("after sign-out: %d; want 401", st)
	}
	// A valid token whose holder is not enrolled gets no session.
	other, _ := ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: "war-9", Org: "x", Role: schemas.RoleWarRoom,
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)})
	if st, _, c := signIn(t, base, other, code); st != http.StatusForbidden || c != console.CodeNotEnrolled {
		t.Fatalf("not enrolled: %d %s; want 403 NOT_ENROLLED", st, c)
	}
}

// A session past its absolute limit is refused (the limit is a nanosecond here, so the
// next request is past it without waiting).
func TestSessionExpires(t *testing.T) {
	base, ring, staffFile := authConsole(t, func(c *console.Config) { c.SessionMax = time.Nanosecond })
	now := time.Now()
	tok, _ := ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: "w", Org: "x", Role: schemas.RoleWarRoom,
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)})
	if _, err := staff.Enrol(staffFile, staff.Member{ID: "w", Role: schemas.RoleWarRoom}, now); err != nil {
		t.Fatal(err)
	}
	members, _ := staff.Load(staffFile)
	code, _ := staff.Code(members[0], time.Now())
	st, sess, c := signIn(t, base, tok, code)
	if st != http.StatusOK {
		t.Fatalf("sign-in: %d %s", st, c)
	}
	st, body, _ := do(t, http.MethodGet, base+"/v1/session", sess, nil)
	if st != http.StatusUnauthorized || !strings.Contains(string(body), console.CodeSessionExpired) {
		t.Fatalf("expired session: %d %s; want 401 SESSION_EXPIRED", st, body)
	}
}
