package election

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A write that fails half way leaves the previous file whole and no temporary file.
func TestWriteFileAtomicKeepsOldFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "provinces.csv")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := writeFileAtomic(dir, "provinces.csv", func(w io.Writer) error {
		if _, err := io.WriteString(w, "new, half"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("writeFileAtomic = %v, want %v", err, boom)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "old\n" {
		t.Errorf("file now %q, %v; want the old content", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the old file", len(entries))
	}
}
