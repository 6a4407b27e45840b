package staff

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestEnrolAndCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "staff.json")
	now := time.Date(2026, 5, 14, 11, 0, 5, 0, time.UTC)
	key, err := Enrol(path, Member{ID: "wr-somchai", Name: "สมชาย", Role: "war_room"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("enrolment file: %v %v", err, st.Mode())
	}
	members, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := Find(members, "wr-somchai")
	if !ok || m.Secret != key.Secret() || m.Name != "สมชาย" {
		t.Fatalf("member %+v", m)
	}
	// The code an authenticator app computes from the URI (the library's own generator).
	code, err := totp.GenerateCode(key.Secret(), now)
	if err != nil {
		t.Fatal(err)
	}
	var g Guard
	if err := g.Check(m, wrong(code), now); !errors.Is(err, ErrBadCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := g.Check(m, code, now.Add(5*time.Minute)); !errors.Is(err, ErrBadCode) {
		t.Fatalf("code of five minutes ago: %v", err)
	}
	if err := g.Check(m, code, now); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if err := g.Check(m, code, now.Add(time.Second)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("same code twice: %v", err)
	}
	next, _ := totp.GenerateCode(key.Secret(), now.Add(Period))
	if err := g.Check(m, next, now.Add(Period)); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	// Re-enrolling replaces the secret: the old phone's codes stop working.
	if _, err := Enrol(path, Member{ID: "wr-somchai", Role: "war_room"}, now); err != nil {
		t.Fatal(err)
	}
	members, _ = Load(path)
	if len(members) != 1 || members[0].Secret == key.Secret() {
		t.Fatalf("re-enrolment: %+v", members)
	}
}

// Five wrong codes lock the member out for LockFor, even from the right code; then it works.
func TestLockAfterWrongCodes(t *testing.T) {
	now := time.Date(2026, 5, 14, 11, 0, 5, 0, time.UTC)
	m := Member{ID: "w", Role: "war_room", Secret: "JBSWY3DPEHPK3PXPJBSWY3DP"}
	code, _ := totp.GenerateCode(m.Secret, now)
	var g Guard
	for i := range MaxFailures {
		if err := g.Check(m, wrong(code), now); !errors.Is(err, ErrBadCode) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	if err := g.Check(m, code, now); !errors.Is(err, ErrLocked) {
		t.Fatalf("right code while locked: %v", err)
	}
	later := now.Add(LockFor)
	code, _ = totp.GenerateCode(m.Secret, later)
	if err := g.Check(m, code, later); err != nil {
		t.Fatalf("right code after the lock: %v", err)
	}
}

func wrong(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// FuzzCheck: whatever a person types as the code, Check answers one of its errors or nil,
// and nil only for the right code.
func FuzzCheck(f *testing.F) {
	now := time.Date(2026, 5, 14, 11, 0, 5, 0, time.UTC)
	m := Member{ID: "w", Role: "war_room", Secret: "JBSWY3DPEHPK3PXPJBSWY3DP"}
	right, err := totp.GenerateCode(m.Secret, now)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{right, "", "000000", "12345", "1234567", "abcdef", " 12345", "٠١٢٣٤٥"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		var g Guard
		err := g.Check(m, code, now)
		switch {
		case err == nil && code != right:
			prev, _ := totp.GenerateCode(m.Secret, now.Add(-Period))
			next, _ := totp.GenerateCode(m.Secret, now.Add(Period))
			if code != prev && code != next {
				t.Fatalf("accepted %q", code)
			}
		case err != nil && !errors.Is(err, ErrBadCode) && !errors.Is(err, ErrLocked):
			t.Fatalf("error %v for %q", err, code)
		}
	})
}
