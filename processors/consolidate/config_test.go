package consolidate

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	country := testCountry(t)
	ok := func() Config {
		c := DefaultConfig()
		c.Seeds = []string{"127.0.0.1:9092"}
		c.Rules.Country = country
		return c
	}
	if err := func() *Config { c := ok(); return &c }().Validate(); err != nil {
		t.Fatalf("defaults with seeds and a country: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   error
	}{
		{"no seeds", func(c *Config) { c.Seeds = nil }, ErrBadConfig},
		{"no group", func(c *Config) { c.Group = " " }, ErrBadConfig},
		{"no transactional id", func(c *Config) { c.TransactionalID = "" }, ErrBadConfig},
		{"transaction outlives the session", func(c *Config) { c.TransactionTimeout = time.Minute }, ErrBadConfig},
		{"empty polls", func(c *Config) { c.MaxPollRecords = 0 }, ErrBadConfig},
		{"no rebuild time", func(c *Config) { c.RebuildTimeout = 0 }, ErrBadConfig},
		{"no country", func(c *Config) { c.Rules.Country = nil }, ErrBadRules},
		{"negative tolerance", func(c *Config) { c.Rules.EarlyTolerance = -time.Second }, ErrBadRules},
		{"zero z", func(c *Config) { c.Rules.OutlierZ = 0 }, ErrBadRules},
		{"tiny sample", func(c *Config) { c.Rules.OutlierMinStations = 2 }, ErrBadRules},
		{"spread of none", func(c *Config) { c.Rules.SpreadMaxStations = 0 }, ErrBadRules},
		{"swap margin of one", func(c *Config) { c.Rules.SwapMargin = 1 }, ErrBadRules},
	} {
		c := ok()
		tc.change(&c)
		if err := c.Validate(); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}
