package estimate

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

func newBaselineGauge() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "votestream_estimate_baseline_stations",
		Help: "Stations of tonight's reference data by how the previous-election baseline matched them: station (own id), constituency (their constituency's figures), none; all 0 without a baseline.",
	}, []string{"match"})
}

// attachBaseline gives est the configured baseline, if any, and says how much matched.
func (r *Runner) attachBaseline(est *Estimator) error {
	if r.cfg.Baseline == nil {
		return nil
	}
	m, err := est.SetBaseline(r.cfg.Country, r.cfg.Baseline)
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	r.m.baseline.WithLabelValues("station").Set(float64(m.Stations))
	r.m.baseline.WithLabelValues("constituency").Set(float64(m.StationsFromCons))
	r.m.baseline.WithLabelValues("none").Set(float64(m.StationsTotal - m.Stations - m.StationsFromCons))
	r.log.Info("baseline attached", "stations_matched", m.Stations, "stations_from_constituency", m.StationsFromCons,
		"stations_total", m.StationsTotal, "covered", fmt.Sprintf("%.1f%%", 100*m.Covered()),
		"constituency_ids", m.Constituencies, "ids_unmatched", m.IDsUnmatched,
		"parties_with_baseline", m.Parties, "parties_without", m.PartiesLeft, "candidates_mapped", m.CandidatesMapped)
	return nil
}
