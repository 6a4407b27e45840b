package simulate

import (
	"math"
	"regexp"
	"slices"
	"testing"
)

func TestApportion(t *testing.T) {
	tests := []struct {
		name    string
		total   int
		weights []float64
		want    []int
	}{
		// 10 x (1/6, 2/6, 3/6) = 1.67, 3.33, 5: floors 1, 3, 5 leave 1 for the largest remainder (0.67).
		{"largest remainder", 10, []float64{1, 2, 3}, []int{2, 3, 5}},
		// 5 x (1/2, 1/2) = 2.5 each: the tie goes to the lower index.
		{"tie to lower index", 5, []float64{1, 1}, []int{3, 2}},
		{"exact", 6, []float64{1, 2}, []int{2, 4}},
		{"zero total", 0, []float64{1, 2}, []int{0, 0}},
		{"zero weight stays zero", 3, []float64{0, 1}, []int{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apportion(tt.total, tt.weights); !slices.Equal(got, tt.want) {
				t.Errorf("apportion(%d, %v) = %v, want %v", tt.total, tt.weights, got, tt.want)
			}
		})
	}
}

func TestBinomialMoments(t *testing.T) {
	// Both samplers (inversion below a mean of 25, normal above) must give the right mean and
	// variance: 20,000 draws put the sample mean within 4 standard errors.
	for _, tc := range []struct {
		n int
		p float64
	}{{500, 0.002}, {400, 0.03}, {800, 0.3}, {600, 0.97}, {10, 0.5}} {
		r := newRand(7, "test-binomial", uint64(tc.n))
		const draws = 20000
		sum, sumSq := 0.0, 0.0
		for range draws {
			x := binomial(r, tc.n, tc.p)
			if x < 0 || x > tc.n {
				t.Fatalf("binomial(%d, %v) = %d, outside [0, n]", tc.n, tc.p, x)
			}
			sum += float64(x)
			sumSq += float64(x) * float64(x)
		}
		mean := float64(tc.n) * tc.p
		variance := mean * (1 - tc.p)
		gotMean := sum / draws
		gotVar := sumSq/draws - gotMean*gotMean
		if se := math.Sqrt(variance / draws); math.Abs(gotMean-mean) > 4*se+1e-9 {
			t.Errorf("binomial(%d, %v): mean %v, want %v ± %v", tc.n, tc.p, gotMean, mean, 4*se)
		}
		if math.Abs(gotVar-variance) > 0.1*variance+0.05 {
			t.Errorf("binomial(%d, %v): variance %v, want about %v", tc.n, tc.p, gotVar, variance)
		}
	}
}

func TestMultinomialSumsToN(t *testing.T) {
	r := newRand(3, "test-multinomial")
	w := []float64{5, 0.01, 2, 0.5, 0.001, 3}
	out := make([]int32, len(w))
	for n := 0; n < 300; n += 7 {
		multinomial(r, n, w, out)
		total := int32(0)
		for _, v := range out {
			if v < 0 {
				t.Fatalf("negative count %v", out)
			}
			total += v
		}
		if int(total) != n {
			t.Fatalf("multinomial(%d) sums to %d: %v", n, total, out)
		}
	}
}

func TestStreamsAreNamed(t *testing.T) {
	a := newRand(1, "alpha", 5).Uint64()
	if b := newRand(1, "alpha", 5).Uint64(); a != b {
		t.Errorf("same seed, label and index gave %x and %x", a, b)
	}
	for _, other := range []uint64{newRand(2, "alpha", 5).Uint64(), newRand(1, "beta", 5).Uint64(), newRand(1, "alpha", 6).Uint64()} {
		if other == a {
			t.Errorf("a different seed, label or index repeated the stream")
		}
	}
}

func TestUUIDFrom(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := range uint64(1000) {
		id := uuidFrom(i)
		if !v4.MatchString(id) {
			t.Fatalf("uuidFrom(%d) = %q, not a version-4 UUID", i, id)
		}
		if seen[id] {
			t.Fatalf("uuidFrom(%d) repeats %q", i, id)
		}
		seen[id] = true
	}
}
