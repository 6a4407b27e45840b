package refusals

import (
	"testing"
	"time"
	"unicode/utf8"
)

func TestClipKeepsRunes(t *testing.T) {
	s := "ตำบลลุมพินี" // three bytes a letter
	for n := 0; n <= len(s)+1; n++ {
		c := Clip(s, n)
		if len(c) > n || !utf8.ValidString(c) || len(c) < min(n, len(s))-2 {
			t.Fatalf("Clip(%q, %d) = %q", s, n, c)
		}
	}
}

// A source gets Burst records at once, then one per Every carrying what it left out.
func TestSamplerPerSource(t *testing.T) {
	var s Sampler
	now := time.Date(2023, 5, 14, 18, 0, 0, 0, time.UTC)
	n := 0
	for range Burst + 4 {
		if ok, _ := s.Admit("staff:x", now); ok {
			n++
		}
	}
	if n != Burst {
		t.Fatalf("published %d of a burst, want %d", n, Burst)
	}
	if ok, sup := s.Admit("staff:x", now.Add(Every)); !ok || sup != 4 {
		t.Fatalf("after %s: %v with %d suppressed, want true and 4", Every, ok, sup)
	}
}
