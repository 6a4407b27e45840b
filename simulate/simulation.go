package simulate

import (
	"fmt"

	"votestream/election"
)

// Simulation is a country and its true results, built from one Config.
type Simulation struct {
	Config  Config
	Country *election.Country // indexed
	Truth   *Truth
}

// Generate builds the country and true results of cfg under its scenario. A full national country takes a
// few seconds and a few hundred megabytes at most.
func Generate(cfg Config) (*Simulation, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = withScenario(cfg)
	c, err := NewCountry(cfg.Seed, cfg.Country)
	if err != nil {
		return nil, err
	}
	t, err := truthFor(cfg, c)
	if err != nil {
		return nil, fmt.Errorf("simulate: true results: %w", err)
	}
	return &Simulation{Config: cfg, Country: c, Truth: t}, nil
}

// Night plans the election night of the simulation with its own config.
func (s *Simulation) Night() (*Night, error) {
	return NewNight(s.Config.Seed, s.Truth, s.Config.Night)
}

// WriteCountry generates cfg's country, true results and night plan and writes them into
// dir: the reference CSVs, the results CSVs with report_times.csv, the volunteer roster
// (FileRoster) and the fault labels (FileFaults). What `votestream simulate country` does.
func WriteCountry(cfg Config, dir string) (*Simulation, *Night, error) {
	s, err := Generate(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := s.Write(dir); err != nil {
		return nil, nil, err
	}
	n, err := s.Night()
	if err != nil {
		return nil, nil, err
	}
	if err := n.WriteRoster(dir); err != nil {
		return nil, nil, err
	}
	if err := n.WriteFaults(dir); err != nil {
		return nil, nil, err
	}
	return s, n, nil
}
