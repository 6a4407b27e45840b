package consolidate

import (
	"sync/atomic"
	"testing"
)

// decodeAhead calls fn once for every index, and wait(i) returns only after fn(i) has:
// the ledger never reads a record still being decoded (run with -race to see the writes
// ordered before the reads).
func TestDecodeAhead(t *testing.T) {
	for _, n := range []int{0, 1, aheadChunk - 1, aheadChunk, 4*aheadChunk + 1, 5000} {
		calls := make([]atomic.Int32, n)
		vals := make([]int, n)
		a := decodeAhead(n, func(i int) {
			vals[i] = i + 1
			calls[i].Add(1)
		})
		for i := range n {
			a.wait(i)
			if vals[i] != i+1 {
				t.Fatalf("n=%d: wait(%d) returned before fn(%d) wrote its result", n, i, i)
			}
		}
		for i := range calls {
			if c := calls[i].Load(); c != 1 {
				t.Errorf("n=%d: fn(%d) called %d times, want 1", n, i, c)
			}
		}
	}
}
