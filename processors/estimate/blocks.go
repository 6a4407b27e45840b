package estimate

// Subdistricts as blocks. Stations of one subdistrict share a local politics (a canvasser,
// a temple, a factory) that the strata do not see, and they often report together, from one
// counting centre. The stratified variance takes the stations still out as independent
// around their stratum's ratio; a block of them moving together moves the total by the
// square of its size, not by its size. This file measures, on the night's reports, how far
// subdistricts depart from their constituency beyond what single stations explain, and
// adds that block variance for the eligible voters still out in each subdistrict.

// blockSums are the running party-list sums per subdistrict.
type blockSums struct {
	K    int
	n    []int32
	x    []int64 // reported eligible voters
	y    []int64 // block*K + party: votes
	nSub int
	xs   []int64 // block*nSub + sub-stratum: reported eligible voters (imbalance.go)
}

func newBlockSums(l *layout) *blockSums {
	K := len(l.parties)
	nb := len(l.blockCons)
	return &blockSums{K: K, n: make([]int32, nb), x: make([]int64, nb), y: make([]int64, nb*K), nSub: l.nSub, xs: make([]int64, nb*l.nSub)}
}

func (b *blockSums) add(st stationLayout, votes []int32, sign int) {
	i := st.block
	b.n[i] += int32(sign)
	b.x[i] += int64(sign) * int64(st.eligible)
	b.xs[int(i)*b.nSub+int(st.stratum)%b.nSub] += int64(sign) * int64(st.eligible)
	off := int(i) * b.K
	for k, v := range votes {
		b.y[off+k] += int64(sign) * int64(v)
	}
}

// blockTau2 is, per party, the variance of a subdistrict's departure from its
// constituency's ratio per eligible voter, beyond station noise, of z_k = votes_k -
// share_k·valid votes (share all 0: of the votes themselves), estimated by the method of
// moments on the subdistricts that have reported:
//
//	e_s = z_s - R_c·x_s,   E[e_s²] ≈ τ²·x_s² + σ²·x_s
//
// with R_c the constituency's reported ratio and σ² the stations' own scatter per eligible
// voter (sigma2). Only constituencies with at least two reported subdistricts enter; with
// fewer than blockMinReported such subdistricts it returns nil.
func (e *Estimator) blockTau2(share, sigma2 []float64) []float64 {
	l, bs := e.lay, e.ballots[0]
	b := bs.blk
	if b == nil {
		return nil
	}
	K := b.K
	nc := len(l.cons)
	cx := make([]float64, nc)
	cy := make([]float64, nc*K)
	cBlocks := make([]int, nc)
	valid := make([]float64, len(l.blockCons))
	z := func(s, k int) float64 { return float64(b.y[s*K+k]) - share[k]*valid[s] }
	for s, c := range l.blockCons {
		if b.n[s] == 0 {
			continue
		}
		for k := range K {
			valid[s] += float64(b.y[s*K+k])
		}
		cx[c] += float64(b.x[s])
		cBlocks[c]++
		for k := range K {
			cy[int(c)*K+k] += z(s, k)
		}
	}
	num := make([]float64, K)
	var den, used float64
	for s, c := range l.blockCons {
		if b.n[s] == 0 || cBlocks[c] < 2 || cx[c] <= 0 {
			continue
		}
		x := float64(b.x[s])
		// The constituency's ratio is estimated with the block in it: the residual's
		// variance shrinks by about (1 - x/X_c), which the factor undoes.
		shrink := max(1-x/cx[c], 0.1)
		for k := range K {
			r := cy[int(c)*K+k] / cx[c]
			d := z(s, k) - r*x
			num[k] += d*d/shrink - sigma2[k]*x
		}
		den += x * x
		used++
	}
	if used < blockMinReported || den <= 0 {
		return nil
	}
	out := make([]float64, K)
	for k := range K {
		out[k] = max(num[k]/den, 0)
	}
	return out
}

// blockOutstanding is, per constituency, Σ U_s² over its subdistricts, U_s the eligible
// voters of the subdistrict without a party-list report.
func (e *Estimator) blockOutstanding() []float64 {
	l, b := e.lay, e.ballots[0].blk
	out := make([]float64, len(l.cons))
	for s, c := range l.blockCons {
		u := float64(l.blockEligible[s] - b.x[s])
		out[c] += u * u
	}
	return out
}

// blockMinReported is how many reported subdistricts (in constituencies with two or more)
// the block variance needs before it is measured at all.
const blockMinReported = 20
