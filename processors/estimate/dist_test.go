package estimate

import (
	"math"
	"testing"
)

// Quantiles from a t table: P(T <= q) = p.
func TestStudentCDF(t *testing.T) {
	for _, tc := range []struct{ q, nu, p float64 }{
		{0, 3, 0.5},
		{1, 1, 0.75},      // Cauchy: 1/2 + atan(1)/π
		{6.965, 2, 0.99},  // t_{0.99, 2}
		{2.602, 15, 0.99}, // t_{0.99, 15}
		{1.96, 1e6, 0.975},
		{-2.602, 15, 0.01},
	} {
		if got := studentCDF(tc.q, tc.nu); math.Abs(got-tc.p) > 5e-4 {
			t.Errorf("P(T_%v <= %v) = %v, want %v", tc.nu, tc.q, got, tc.p)
		}
	}
}
