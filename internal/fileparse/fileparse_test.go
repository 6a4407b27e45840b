package fileparse

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var errEmpty = errors.New("empty")

func firstLine(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	if !sc.Scan() {
		return "", errEmpty
	}
	return sc.Text(), nil
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good, empty := filepath.Join(dir, "good"), filepath.Join(dir, "empty")
	if err := os.WriteFile(good, []byte("key one\nkey two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := Load(good, "keys", firstLine); err != nil || v != "key one" {
		t.Errorf("Load(good) = %q, %v; want \"key one\"", v, err)
	}
	_, err := Load(empty, "keys", firstLine)
	if !errors.Is(err, errEmpty) || !strings.HasPrefix(err.Error(), empty+": ") {
		t.Errorf("Load(empty) error %v: want the parse error under the path", err)
	}
	_, err = Load(filepath.Join(dir, "missing"), "keys", firstLine)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "keys: ") {
		t.Errorf("Load(missing) error %v: want fs.ErrNotExist under the prefix", err)
	}
}
