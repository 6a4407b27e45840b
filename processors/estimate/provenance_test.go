package estimate

import "testing"

func TestMethodHash(t *testing.T) {
	a, b := DefaultMethod(), DefaultMethod()
	if MethodHash(a) != MethodHash(b) || len(MethodHash(a)) != len("sha256:")+64 {
		t.Fatalf("equal settings: %s, %s", MethodHash(a), MethodHash(b))
	}
	b.IntervalZ = 2.58
	if MethodHash(a) == MethodHash(b) {
		t.Error("other settings, same hash")
	}
}
