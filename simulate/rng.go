package simulate

import (
	"math"
	"math/rand/v2"
)

// splitmix64 scrambles a 64-bit value; it turns structured inputs (a seed, a label, an index)
// into well-spread PCG seeds so neighbouring stations get unrelated streams.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// labelHash is FNV-1a of a label: streams are named, so adding a new stream never shifts
// the numbers an existing one draws.
func labelHash(label string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(label); i++ {
		h ^= uint64(label[i])
		h *= 1099511628211
	}
	return h
}

// mix combines a seed, a label and indexes into one well-spread value.
func mix(seed uint64, label string, idx ...uint64) uint64 {
	h := splitmix64(seed ^ labelHash(label))
	for _, i := range idx {
		h = splitmix64(h ^ i)
	}
	return h
}

// newRand returns a generator private to (seed, label, idx...).
func newRand(seed uint64, label string, idx ...uint64) *rand.Rand {
	h := mix(seed, label, idx...)
	return rand.New(rand.NewPCG(h, splitmix64(h^0x5851f42d4c957f2d)))
}

// reseed points an existing PCG at the stream of (seed, label, idx...), so hot loops reuse
// one generator instead of allocating per station.
func reseed(src *rand.PCG, seed uint64, label string, idx ...uint64) {
	h := mix(seed, label, idx...)
	src.Seed(h, splitmix64(h^0x5851f42d4c957f2d))
}

// lognormal draws exp(N(mu, sigma)).
func lognormal(r *rand.Rand, mu, sigma float64) float64 {
	return math.Exp(mu + sigma*r.NormFloat64())
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// binomial draws Binomial(n, p): exact inversion while the mean is small (where the shape
// matters: zeros for tiny parties), a rounded normal otherwise (where it does not).
func binomial(r *rand.Rand, n int, p float64) int {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if p > 0.5 {
		return n - binomial(r, n, 1-p)
	}
	mean := float64(n) * p
	if mean < 25 {
		q := 1 - p
		s := p / q
		a := float64(n+1) * s
		pr := math.Pow(q, float64(n))
		u := r.Float64()
		x := 0
		for u > pr && x < n {
			u -= pr
			x++
			pr *= a/float64(x) - s
			if pr <= 0 {
				break
			}
		}
		return x
	}
	x := int(math.Round(mean + math.Sqrt(mean*(1-p))*r.NormFloat64()))
	return min(max(x, 0), n)
}

// multinomial splits n into len(weights) counts with probabilities proportional to weights,
// by conditional binomials, writing into out (same length as weights).
func multinomial(r *rand.Rand, n int, weights []float64, out []int32) {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	left := n
	for i, w := range weights {
		if left == 0 || total <= 0 {
			out[i] = 0
			continue
		}
		if i == len(weights)-1 {
			out[i] = int32(left)
			break
		}
		k := binomial(r, left, w/total)
		out[i] = int32(k)
		left -= k
		total -= w
	}
}

// poisson draws Poisson(mean) for small means by inversion.
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	l := math.Exp(-mean)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= l || k > 1000 {
			return k
		}
		k++
	}
}
