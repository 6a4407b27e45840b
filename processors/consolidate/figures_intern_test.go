package consolidate

import (
	"runtime/debug"
	"slices"
	"testing"
)

// Figures with the same numbers share one list of them, and keep their own votes.
func TestFiguresShareNumbers(t *testing.T) {
	// Within one GC cycle: unique forgets a copy no handle holds at the next collection.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	a := newFigures(100, 2, 1, map[int]int{1: 50, 3: 40, 12: 7})
	b := newFigures(90, 0, 0, map[int]int{12: 5, 1: 60, 3: 25})
	c := newFigures(90, 0, 0, map[int]int{1: 60, 3: 30})
	if !slices.Equal(a.nos(), []int32{1, 3, 12}) || !slices.Equal(b.nos(), a.nos()) {
		t.Fatalf("numbers %v and %v, want [1 3 12] twice", a.nos(), b.nos())
	}
	if &a.nos()[0] != &b.nos()[0] {
		t.Error("equal lists of numbers are two copies")
	}
	if !slices.Equal(c.nos(), []int32{1, 3}) || &c.nos()[0] == &a.nos()[0] {
		t.Errorf("numbers of c %v share a's", c.nos())
	}
	if a.vote(12) != 7 || b.vote(12) != 5 || c.vote(12) != 0 || a.String() != "100/2/1 1:50 3:40 12:7" {
		t.Errorf("votes mixed up: %s, %s, %s", a.String(), b.String(), c.String())
	}
	if z := newFigures(0, 0, 0, nil); len(z.nos()) != 0 || z.String() != "0/0/0" {
		t.Errorf("empty figures %q", z.String())
	}
}
