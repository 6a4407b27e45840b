package main

import (
	"errors"
	"os"
	"testing"

	"votestream/processors/estimate"
)

// `up --baseline simulated` writes the synthetic country's previous election once and hands
// the estimator a folder that loads and matches; with --ref it is a usage error.
func TestUpBaselineSimulated(t *testing.T) {
	f := upFlags{dataDir: t.TempDir(), simSeed: 3, simScale: 0.02, simStations: 1, baseline: "simulated"}
	c, dir, err := prepareCountry(f)
	if err != nil {
		t.Fatal(err)
	}
	bdir, err := prepareBaseline(f, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadBaseline(bdir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := estimate.MatchBaseline(c, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Covered() < 0.9 || m.PartiesLeft != 1 {
		t.Errorf("match %+v: want >= 90 %% of stations covered and one new party", m)
	}
	f.ref = dir
	if _, err := prepareBaseline(f, dir); !errors.Is(err, errUsage) {
		t.Errorf("--baseline simulated with --ref: %v, want a usage error", err)
	}
	if _, err := loadBaseline(os.TempDir() + "/no-such-baseline"); !errors.Is(err, errUsage) {
		t.Errorf("missing folder: %v, want a usage error", err)
	}
}
