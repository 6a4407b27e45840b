package estimate

// Selection the reference data does not show. The strata (constituency x urban label x size
// class), the size slopes and the kinds' terms correct the projection for how the reported
// stations differ from the outstanding ones in what stations.csv says about them. When the
// order also follows something it does not say (a hidden urbanity behind a noisy label, a
// party's own strength), nothing inside a stratum can measure it: a stratum's early stations
// are simply unlike its late ones.
//
// What can be measured is how unrepresentative the reports are in what IS known: the
// correction the model applies to the raw count, D = projected - counted (national shares;
// per race, the projected lead against the counted lead scaled up to the whole race). Under
// a random order D is the noise of the strata's weights; when the reports are a selected
// set, D is as large as that selection on the known covariates. Taking the unseen part of
// the selection to be as large as the seen part (the argument of Altonji, Elder and Taber
// for selection on unobservables), (λ·D)² is added to each variance, λ =
// Method.SelectionWeight. D falls to 0 as the count completes, and the term with it.

// selectionShareVariance returns, per party, the variance (in share units squared) of the
// unseen selection: (λ·(share - counted share))².
func (m Method) selectionShareVariance(share []float64, counted []int64) []float64 {
	out := make([]float64, len(share))
	if m.SelectionWeight <= 0 {
		return out
	}
	var c float64
	for _, v := range counted {
		c += float64(v)
	}
	if c <= 0 {
		return out
	}
	for k, p := range share {
		d := m.SelectionWeight * (p - float64(counted[k])/c)
		out[k] = d * d
	}
	return out
}

// selectionPairVariance is the same for a race's lead (votes squared): the projected lead
// dProj against the counted lead scaled up by the race's eligible voters over its reported
// ones (scale).
func (m Method) selectionPairVariance(dProj, dCounted, scale float64) float64 {
	if m.SelectionWeight <= 0 || scale <= 0 {
		return 0
	}
	d := m.SelectionWeight * (dProj - dCounted*scale)
	return d * d
}
