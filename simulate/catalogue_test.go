package simulate

import (
	"testing"

	"votestream/schemas"
)

// TestFaultsUseTheCatalogue: every anomaly a generated fault expects is a code of
// schemas.AnomalyCatalogue, and a fault kind named like a code expects that code.
func TestFaultsUseTheCatalogue(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed = 5
	cfg.Country.Scale = 0.05
	cfg.Country.StationsScale = 0.5
	f := &cfg.Night.Faults
	f.Typo, f.SwappedDigits, f.NumberSwap, f.MissingParty, f.Falsification = 0.04, 0.03, 0.03, 0.03, 0.02
	f.Early, f.PhotoReuse, f.Duplicate, f.Correction = 0.03, 0.03, 0.05, 0.5
	f.Spread, f.SpreadStations = 0.02, 5
	f.BlockShift = 0.05
	_, n := newNight(t, cfg)
	kinds := map[FaultKind]bool{}
	for e := range n.Events() {
		for _, fl := range e.Faults {
			kinds[fl.Kind] = true
			if fl.Anomaly == "" {
				continue
			}
			if _, _, ok := schemas.LookupAnomaly(fl.Anomaly); !ok {
				t.Fatalf("fault %s expects %q, which is not in the anomaly catalogue", fl.Kind, fl.Anomaly)
			}
			if _, _, named := schemas.LookupAnomaly(string(fl.Kind)); named && fl.Anomaly != string(fl.Kind) {
				t.Fatalf("fault %s expects %q, not the code it is named after", fl.Kind, fl.Anomaly)
			}
		}
	}
	for _, k := range FaultKinds {
		if !kinds[k] {
			t.Errorf("no %s fault generated: the check above did not cover it", k)
		}
	}
}
