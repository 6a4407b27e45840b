package feed

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRevokeNewsroom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	file := "# keys\n" + keyNation + " Nation TV\n" + keyPBS + "\tไทยพีบีเอส\n" +
		"nation-second-key-0123456789 Nation TV\n!limit rate=5 burst=20 Nation TV\n!limit rate=2 burst=4 ไทยพีบีเอส\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := RevokeNewsroom(path, "Nation TV")
	if err != nil || n != 2 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	data, _ := os.ReadFile(path)
	if want := "# keys\n" + keyPBS + "\tไทยพีบีเอส\n!limit rate=2 burst=4 ไทยพีบีเอส\n"; string(data) != want {
		t.Fatalf("after revoking:\n%s\nwant\n%s", data, want)
	}
	keys, err := LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := keys.Newsroom(keyNation); ok {
		t.Fatal("a revoked key still works")
	}
	if nr, ok := keys.Newsroom(keyPBS); !ok || nr != "ไทยพีบีเอส" {
		t.Fatalf("another newsroom's key: %q %v", nr, ok)
	}
	if _, err := RevokeNewsroom(path, "Nation TV"); !errors.Is(err, ErrNoSuchNewsroom) {
		t.Fatalf("revoking twice: %v", err)
	}
}
