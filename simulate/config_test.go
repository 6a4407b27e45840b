package simulate

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	if err := SmallConfig(3).Validate(); err != nil {
		t.Fatalf("SmallConfig: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"scale zero", func(c *Config) { c.Country.Scale = 0 }},
		{"scale above one", func(c *Config) { c.Country.Scale = 1.5 }},
		{"fewer constituencies than provinces", func(c *Config) { c.Country.Constituencies = 10 }},
		{"one party", func(c *Config) { c.Country.Parties = 1 }},
		{"candidates reversed", func(c *Config) { c.Country.MinCandidates, c.Country.MaxCandidates = 9, 8 }},
		{"more candidates than parties", func(c *Config) { c.Country.Parties = 10 }},
		{"unknown strata", func(c *Config) { c.Country.PriorityStrata = "district" }},
		{"priority fraction above one", func(c *Config) { c.Country.PriorityFraction = 2 }},
		{"turnout one", func(c *Config) { c.Vote.Turnout = 1 }},
		{"invalid rate NaN", func(c *Config) { c.Vote.InvalidRate = math.NaN() }},
		{"negative noise", func(c *Config) { c.Vote.StationNoise = -1 }},
		{"no close", func(c *Config) { c.Night.Close = time.Time{} }},
		{"two orgs", func(c *Config) { c.Night.Orgs = 2 }},
		{"volunteer probabilities not summing to one", func(c *Config) { c.Night.VolunteersPerStation = [4]float64{0.5, 0.5, 0.5, 0} }},
		{"content faults above one", func(c *Config) { c.Night.Faults.Typo, c.Night.Faults.MissingParty = 0.6, 0.6 }},
		{"spread without stations", func(c *Config) { c.Night.Faults.SpreadStations = 0 }},
		{"negative duplicate rate", func(c *Config) { c.Night.Faults.Duplicate = -0.1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			if err := c.Validate(); !errors.Is(err, ErrConfig) {
				t.Errorf("Validate() = %v, want ErrConfig", err)
			}
		})
	}
}
