package estimate

import (
	"math"

	"votestream/election"
)

// Covariate imbalance of the subdistricts. blocks.go takes the subdistricts still out as
// fresh draws around their constituency: their departures independent, of mean zero. That
// holds when the reports so far are a fair sample of the subdistricts; it fails when the
// order follows something about the subdistrict (small rural ones first, towns and cities
// last) that the strata do not show. What the reference data does show of a subdistrict
// (the mean size of its stations, the share of them labelled urban) then differs between
// the stations reported and those still out, and the outstanding part is an extrapolation
// along those covariates.
//
// The term: a subdistrict's departure (per eligible voter, party k) is modelled as
// β_k·(z_b - r) + e_b, z_b its known covariates centred within its constituency and r the
// mean z of the reports its stratum's ratio was measured on, with the slope unmeasured:
// β_k ~ N(0, τ²_k·Σ⁻¹/d), τ²_k the block variance blocks.go measures among the reported
// subdistricts, Σ the covariates' spread between subdistricts (eligible-weighted) and d
// their number. That is, the covariates together may explain all of the spread between
// subdistricts the night has measured, and no more. One slope per party moves every
// constituency together, so the stations still out add
//
//	λ·τ²_k·(D'Σ⁻¹D - Σ_b V_b'Σ⁻¹V_b)/d,   V_b = Σ_h U_bh·(z_b - r_h),   D = Σ_b V_b
//
// to the variance of party k's total (λ = Method.Imbalance), U_bh the eligible voters of
// subdistrict b and stratum h still out and r_h the mean z of stratum h's reported
// stations (its constituency's when it has none, the nation's when the constituency has
// none): imbalance the strata absorb (the urban stratum reported, the rural one out) does
// not count. The sum of the V_b's own squares is what chance alone would give, and it is
// in the block variance already (each subdistrict's departure, slope and all, drawn
// independently): only the part of D beyond it, subdistricts out on the same side in
// every constituency, is added. When the subdistricts in and out are alike in what is
// known the term is about zero; when every constituency's outstanding subdistricts are
// its larger, more urban ones it is large. Per race the same with D over the race's own
// subdistricts. It is a variance on the imbalance of X, not on the model's correction of
// the count (selection.go), and it never moves the estimate.
//
// Method.ImbalanceReported: τ² is measured on the reported subdistricts, whose
// covariates may span far less than the country's (the small rural ones); the slope that
// would explain all of τ² is then τ over their spread, not the country's. Above 1 the
// term uses the reported subdistricts' spread, up to that many times the country's.

// nImbalanceCov is the number of subdistrict covariates: mean ln(eligible voters) of the
// stations, and their urban-labelled share.
const nImbalanceCov = 2

// blockCovariates are the subdistricts' known covariates, centred within their
// constituency, and the inverse of their eligible-weighted spread between subdistricts.
type blockCovariates struct {
	z    [][nImbalanceCov]float64
	elig []int64 // block*nSub + sub-stratum: eligible voters
	sinv [nImbalanceCov][nImbalanceCov]float64
	ok   bool // the spread is invertible
}

// newBlockCovariates works out the covariates of every subdistrict from the stations' sizes
// and urban labels (eligible and urban per station, block its subdistrict).
func newBlockCovariates(blockCons []int32, nCons int, block []int32, eligible []int32, urban []bool) blockCovariates {
	nb := len(blockCons)
	bc := blockCovariates{z: make([][nImbalanceCov]float64, nb)}
	bx := make([]float64, nb)
	for i, b := range block {
		x := float64(eligible[i])
		bx[b] += x
		bc.z[b][0] += x * math.Log(max(x, 1))
		if urban[i] {
			bc.z[b][1] += x
		}
	}
	cx := make([]float64, nCons)
	cz := make([][nImbalanceCov]float64, nCons)
	for b, c := range blockCons {
		if bx[b] <= 0 {
			continue
		}
		for d := range nImbalanceCov {
			bc.z[b][d] /= bx[b]
			cz[c][d] += bx[b] * bc.z[b][d]
		}
		cx[c] += bx[b]
	}
	var s [nImbalanceCov][nImbalanceCov]float64
	var total float64
	for b, c := range blockCons {
		if cx[c] <= 0 {
			continue
		}
		for d := range nImbalanceCov {
			bc.z[b][d] -= cz[c][d] / cx[c]
		}
		for i := range nImbalanceCov {
			for j := range nImbalanceCov {
				s[i][j] += bx[b] * bc.z[b][i] * bc.z[b][j]
			}
		}
		total += bx[b]
	}
	if total <= 0 {
		return bc
	}
	for i := range nImbalanceCov {
		for j := range nImbalanceCov {
			s[i][j] /= total
		}
	}
	bc.sinv, bc.ok = invert2(s)
	return bc
}

// setBlockCovariates fills l.blockCov from the country's stations (newLayout).
func (l *layout) setBlockCovariates(c *election.Country) {
	block, elig := make([]int32, len(l.stations)), make([]int32, len(l.stations))
	urban := make([]bool, len(l.stations))
	for i, s := range l.stations {
		block[i], elig[i], urban[i] = s.block, s.eligible, c.Stations[i].Urban
	}
	l.blockCov = newBlockCovariates(l.blockCons, len(l.cons), block, elig, urban)
	l.setBlockUrban(urban) // kindshift.go
	l.blockCov.elig = make([]int64, len(l.blockCons)*l.nSub)
	for _, s := range l.stations {
		l.blockCov.elig[int(s.block)*l.nSub+int(s.stratum)%l.nSub] += int64(s.eligible)
	}
}

// invert2 inverts a 2x2 covariance; a covariate with no spread (every station of every
// subdistrict labelled alike) drops out rather than making the matrix singular.
func invert2(s [2][2]float64) ([2][2]float64, bool) {
	const tiny = 1e-9
	var inv [2][2]float64
	switch {
	case s[0][0] > tiny && s[1][1] > tiny:
		det := s[0][0]*s[1][1] - s[0][1]*s[1][0]
		if det > tiny*s[0][0]*s[1][1] {
			inv[0][0], inv[1][1] = s[1][1]/det, s[0][0]/det
			inv[0][1], inv[1][0] = -s[0][1]/det, -s[1][0]/det
			return inv, true
		}
		inv[0][0] = 1 / s[0][0]
		return inv, true
	case s[0][0] > tiny:
		inv[0][0] = 1 / s[0][0]
		return inv, true
	case s[1][1] > tiny:
		inv[1][1] = 1 / s[1][1]
		return inv, true
	}
	return inv, false
}

// quad is v'Σ⁻¹v/d.
func (bc *blockCovariates) quad(v [nImbalanceCov]float64) float64 {
	var q float64
	for i := range nImbalanceCov {
		for j := range nImbalanceCov {
			q += v[i] * bc.sinv[i][j] * v[j]
		}
	}
	return max(q, 0) / nImbalanceCov
}

// imbalance returns D'Σ⁻¹D/d nationally and per constituency (D_c over its own
// subdistricts), in eligible voters squared; 0, nil when nothing has reported or the
// covariates do not vary. The reference r of the stations still out in stratum h is the
// mean z of the stratum's reported stations (what its ratio was measured on), else of its
// constituency's, else of the nation's: imbalance the strata already absorb (an urban
// stratum reported, a rural one out) does not count.
func (e *Estimator) imbalance() (float64, []float64) {
	if e.method.Imbalance == 0 {
		return 0, nil
	}
	dn, dc, own := e.imbalanceD()
	if dc == nil {
		return 0, nil
	}
	bc := &e.lay.blockCov
	rep, repOK := e.reportedSpread()
	quad := func(v covVec) float64 {
		q := bc.quad(v)
		if repOK {
			q = max(q, min(rep.quad(v), e.method.ImbalanceReported*q))
		}
		return q
	}
	// What chance alone would give: the subdistricts' own imbalances, each squared, the
	// part of D the block variance (blocks.go) already counts as independent draws.
	per := make([]float64, len(dc))
	var chance float64
	for c := range per {
		var ch float64
		for _, v := range own[c] {
			ch += quad(v)
		}
		per[c] = max(0, quad(dc[c])-ch)
		chance += ch
	}
	return max(0, quad(dn)-chance), per
}

// reportedSpread is the covariates' spread among the reported subdistricts (weighted by
// their reported eligible voters, about their constituency's reported mean, in
// constituencies with two reported subdistricts or more), the same subdistricts the block
// variance τ² is measured on: the slope that would explain all of τ² is τ over this spread,
// not over the country's. When the reports so far are the country's smaller, more rural
// subdistricts, this spread is narrower and the extrapolation to the rest is larger.
func (e *Estimator) reportedSpread() (blockCovariates, bool) {
	l, b := e.lay, e.ballots[0].blk
	bc := &l.blockCov
	nc := len(l.cons)
	cx, cn := make([]float64, nc), make([]int, nc)
	cz := make([]covVec, nc)
	for blk, c := range l.blockCons {
		x := float64(b.x[blk])
		if x <= 0 {
			continue
		}
		cx[c] += x
		cn[c]++
		for d := range nImbalanceCov {
			cz[c][d] += x * bc.z[blk][d]
		}
	}
	var s [nImbalanceCov][nImbalanceCov]float64
	var total float64
	for blk, c := range l.blockCons {
		x := float64(b.x[blk])
		if x <= 0 || cn[c] < 2 {
			continue
		}
		var v covVec
		for d := range nImbalanceCov {
			v[d] = bc.z[blk][d] - cz[c][d]/cx[c]
		}
		for i := range nImbalanceCov {
			for j := range nImbalanceCov {
				s[i][j] += x * v[i] * v[j]
			}
		}
		total += x
	}
	if total <= 0 {
		return blockCovariates{}, false
	}
	for i := range nImbalanceCov {
		for j := range nImbalanceCov {
			s[i][j] /= total
		}
	}
	var rep blockCovariates
	rep.sinv, rep.ok = invert2(s)
	return rep, rep.ok
}

// covVec is one value per subdistrict covariate.
type covVec = [nImbalanceCov]float64

// imbalanceD returns D nationally and per constituency, and per constituency every
// subdistrict's own part of it (nil when nothing has reported or the covariates do not
// vary).
func (e *Estimator) imbalanceD() (covVec, []covVec, [][]covVec) {
	l, b := e.lay, e.ballots[0].blk
	bc := &l.blockCov
	if b == nil || !bc.ok {
		return covVec{}, nil, nil
	}
	nSub, nc := l.nSub, len(l.cons)
	type sums struct {
		x float64
		z [nImbalanceCov]float64
	}
	add := func(s *sums, x float64, z [nImbalanceCov]float64) {
		s.x += x
		for d := range nImbalanceCov {
			s.z[d] += x * z[d]
		}
	}
	hs, cs := make([]sums, len(l.strata)), make([]sums, nc)
	var ns sums
	for blk, c := range l.blockCons {
		for sub := range nSub {
			x := float64(b.xs[blk*nSub+sub])
			if x <= 0 {
				continue
			}
			add(&hs[int(c)*nSub+sub], x, bc.z[blk])
			add(&cs[c], x, bc.z[blk])
			add(&ns, x, bc.z[blk])
		}
	}
	if ns.x <= 0 {
		return covVec{}, nil, nil
	}
	refs := make([]covVec, len(l.strata))
	for h := range refs {
		ref := ns
		if hs[h].x > 0 {
			ref = hs[h]
		} else if cs[h/nSub].x > 0 {
			ref = cs[h/nSub]
		}
		for d := range nImbalanceCov {
			refs[h][d] = ref.z[d] / ref.x
		}
	}
	dc := make([]covVec, nc)
	own := make([][]covVec, nc)
	var dn covVec
	for blk, c := range l.blockCons {
		var vb covVec
		out := false
		for sub := range nSub {
			u := float64(bc.elig[blk*nSub+sub] - b.xs[blk*nSub+sub])
			if u <= 0 {
				continue
			}
			out = true
			ref := refs[int(c)*nSub+sub]
			for d := range nImbalanceCov {
				vb[d] += u * (bc.z[blk][d] - ref[d])
			}
		}
		if !out {
			continue
		}
		own[c] = append(own[c], vb)
		for d := range nImbalanceCov {
			dc[c][d] += vb[d]
			dn[d] += vb[d]
		}
	}
	return dn, dc, own
}
