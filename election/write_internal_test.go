package election

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
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

func TestVotesInOrder(t *testing.T) {
	tests := []struct {
		name  string
		votes map[int]int
		want  [][2]int
	}{
		{"empty", map[int]int{}, nil},
		{"small numbers", map[int]int{31: 5, 7: 0, 29: 12}, [][2]int{{7, 0}, {29, 12}, {31, 5}}},
		{"numbers past the table", map[int]int{300: 1, 2: 2, 256: 3}, [][2]int{{2, 2}, {256, 3}, {300, 1}}},
		{"huge figure", map[int]int{2: math.MaxInt, 1: 4}, [][2]int{{1, 4}, {2, math.MaxInt}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := votesInOrder(tt.votes, [][2]int{{99, 99}})
			want := append([][2]int{{99, 99}}, tt.want...)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
