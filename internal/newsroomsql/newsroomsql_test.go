package newsroomsql

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestUserName(t *testing.T) {
	for name, want := range map[string]string{
		"Nation TV":        "newsroom_nation_tv",
		"Thai PBS ":        "newsroom_thai_pbs",
		"  -- BBC Thai --": "newsroom_bbc_thai",
	} {
		if got := UserName(name); got != want {
			t.Errorf("UserName(%q) = %q, want %q", name, got, want)
		}
	}
	a, b, c := UserName("ไทยพีบีเอส"), UserName("ไทยรัฐ 2"), UserName("มติชน 2")
	if !userNameRE.MatchString(a) || !userNameRE.MatchString(b) || a == b || b == c || !strings.HasPrefix(b, "newsroom_2_") {
		t.Errorf("Thai names: %q %q %q", a, b, c)
	}
}

func TestAddWritesAUsersFile(t *testing.T) {
	dir := t.TempDir()
	u, password, err := Add(dir, User{Newsroom: `Nation <TV> & "co" --`, Databases: []string{"votestream"}, Limits: DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(Path(dir, u.Name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Users struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"users"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, data)
	}
	sum := sha256.Sum256([]byte(password))
	if !strings.Contains(string(doc.Users.Inner), "<password_sha256_hex>"+hex.EncodeToString(sum[:])+"<") || strings.Contains(string(data), password) {
		t.Fatalf("password not stored as its hash only:\n%s", data)
	}
	for _, want := range []string{"<readonly>2</readonly>", "<priority>10</priority>", "<queries>3600</queries>", "<database>votestream</database>"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("no %s in\n%s", want, data)
		}
	}
	if _, _, err := Add(dir, User{Newsroom: "Nation TV", Databases: []string{"other"}, Limits: DefaultLimits()}); err != nil {
		t.Fatalf("another newsroom: %v", err)
	}
	if _, _, err := Add(dir, User{Newsroom: "Nation TV", Databases: []string{"votestream"}, Limits: DefaultLimits()}); !errors.Is(err, ErrExists) {
		t.Fatalf("the same newsroom twice: %v", err)
	}
	if _, err := Remove(dir, "Nation TV"); err != nil {
		t.Fatal(err)
	}
	if _, err := Remove(dir, "Nation TV"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestAddRefuses(t *testing.T) {
	ok := User{Newsroom: "N", Databases: []string{"votestream"}, Limits: DefaultLimits()}
	for name, mod := range map[string]func(u *User){
		"no newsroom":       func(u *User) { u.Newsroom = " " },
		"no database":       func(u *User) { u.Databases = nil },
		"odd database":      func(u *User) { u.Databases = []string{"a</database><database>system"} },
		"odd network":       func(u *User) { u.Networks = []string{"::/0</ip>"} },
		"no time limit":     func(u *User) { u.Limits.MaxExecutionTime = 0 },
		"no row limit":      func(u *User) { u.Limits.MaxRowsToRead = 0 },
		"no quota":          func(u *User) { u.Limits.QueriesPerHour = 0 },
		"war-room priority": func(u *User) { u.Limits.Priority = 0 },
	} {
		u := ok
		mod(&u)
		if _, _, err := Add(t.TempDir(), u); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSetEmbargo(t *testing.T) {
	dir := t.TempDir()
	u, _, err := Add(dir, User{Newsroom: "Thai PBS", Databases: []string{"votestream_public"}, Limits: DefaultLimits(), Embargoed: true})
	if err != nil {
		t.Fatal(err)
	}
	foreign := dir + "/newsroom-other.xml" // not ours: no marker, never changed
	if err := os.WriteFile(foreign, []byte("<yandex><database>x</database></yandex>"), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if !strings.Contains(read(Path(dir, u.Name)), "<database>votestream_public_embargoed</database>") {
		t.Fatalf("made under the embargo:\n%s", read(Path(dir, u.Name)))
	}
	for _, step := range []struct {
		embargoed bool
		changed   int
		want      string
	}{{true, 0, "votestream_public_embargoed"}, {false, 1, "votestream_public"}, {false, 0, "votestream_public"}, {true, 1, "votestream_public_embargoed"}} {
		n, err := SetEmbargo(dir, step.embargoed)
		if err != nil || n != step.changed {
			t.Fatalf("SetEmbargo(%v): %d changed, %v; want %d", step.embargoed, n, err, step.changed)
		}
		if got := read(Path(dir, u.Name)); !strings.Contains(got, "<database>"+step.want+"</database>") {
			t.Fatalf("SetEmbargo(%v): want %s in\n%s", step.embargoed, step.want, got)
		}
	}
	if read(foreign) != "<yandex><database>x</database></yandex>" {
		t.Error("a file without the marker was changed")
	}
}

// TestRevokeWinsOverEmbargo: a user removed while SetEmbargo rewrites the files never comes
// back (SetEmbargo reads, then renames a new copy over the file: without the folder's lock
// the copy would bring a removed user back).
func TestRevokeWinsOverEmbargo(t *testing.T) {
	dir := t.TempDir()
	for i := range 100 {
		u, _, err := Add(dir, User{Newsroom: "Thai PBS", Databases: []string{"votestream_public"}, Limits: DefaultLimits()})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			var err error
			for k := range 20 {
				if _, err = SetEmbargo(dir, (i+k)%2 == 0); err != nil {
					break
				}
			}
			done <- err
		}()
		if _, err := Remove(dir, "Thai PBS"); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(Path(dir, u.Name)); !os.IsNotExist(err) {
			t.Fatalf("round %d: the removed user is back: %v", i, err)
		}
	}
}
